"""The same behaviour on both backends, through the services only: every test runs on the
`local` backend and on the real single-node Slurm (behaviour_helpers.site).

A member submits (job_submit), the portal watches (cluster_sync), reads logs (selectors) and
usage (usage ingestion, selectors.project_usage), cancels (job_cancel); operators provision the
project's account and limits (allocation_provision). What differs between the backends is what
the backends really do, said where it differs: the local backend runs the jobs as its ``run_as``
user and has no scheduler limits (its provisioning is a no-op), and Slurm holds a job over the
account's GrpTRESMins itself. The backends' own edge cases are in test_backend_local.py and
test_backend_slurm.py.

On Slurm the time-limit job is the slow one (Slurm ends a 1-minute job 60-90 s after it starts):
it is submitted when the first Slurm test starts and checked by the last test (long_job).
"""

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied

from aifactory.compute import selectors, services
from aifactory.compute.backends.base import JobSpec, Limits
from aifactory.compute.models import BudgetAlert, Job, JobState, UsageRecord
from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.models import AuditEvent
from aifactory.data.storage import reset_storage
from aifactory.data.tests.data_helpers import CSV, add_csv_version, make_dataset

from .behaviour_helpers import *  # noqa: F403 - the site fixture
from .behaviour_helpers import SECONDS_PER_MINUTE
from .helpers import *  # noqa: F403 - team, compute_dir
from .slurm_helpers import CLUSTER_NAME, PARTITION, USERS, owner, wait_for
from .test_job_templates import write_reviews

PLACES = Decimal("0.000001")


def assoc(account: str) -> dict[str, str]:
    """{user ('' for the account itself): GrpTRESMins}, as sacctmgr lists them."""
    out = subprocess.run(
        ["sacctmgr", "-n", "-P", "list", "assoc", f"account={account}", "format=user,grptresmins"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return dict(line.split("|") for line in out.splitlines())


def scheduler_jobs(site, allocation) -> set[str]:
    """The job ids the scheduler has for the allocation's account, whatever their state: what
    slurmctld still knows (finished jobs within MinJobAge too) and what slurmdbd already has,
    which lags behind under load (local: the cluster's job folders)."""
    account = allocation.slurm_account
    if site.kind == "slurm":
        known = subprocess.run(
            ["squeue", "-h", "-t", "all", "-A", account, "-o", "%i"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        accounted = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-a", "-M", CLUSTER_NAME, "-S", "now-1days",
             "-A", account, "-o", "jobidraw"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        return set(known.split()) | set(accounted.split())
    runs = Path(settings.COMPUTE_DIR) / site.cluster.name / "runs"
    return {
        p.name
        for p in runs.iterdir()
        if not p.name.startswith(".")
        and json.loads((p / "job.json").read_text())["account"] == account
    }


@pytest.fixture
def reviews():
    """A labelled CSV the jobs' users can read."""
    folder = tempfile.mkdtemp(prefix="aifactory-reviews-", dir="/tmp")
    os.chmod(folder, 0o755)
    path = Path(folder) / "reviews.csv"
    write_reviews(path)
    os.chmod(path, 0o644)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


# --- 1. provisioning ---------------------------------------------------------------------------


def test_provisioning_gives_the_account_its_members_and_limits(site):
    """The site fixture provisioned the allocation through allocation_provision."""
    allocation = site.allocation
    assert site.limits == services.allocation_limits(allocation)
    assert site.limits == Limits(gpu_minutes=600, cpu_minutes=1200)  # 10 GPU h, 20 CPU core h
    event = AuditEvent.objects.filter(action="allocation.limit_change").first()
    members = sorted([site.usernames["member"], site.usernames["pi"]])  # the manager has none
    assert event.actor == site.team["operator"]
    assert event.changes["account"] == allocation.slurm_account
    assert event.changes["usernames"] == members
    assert (event.changes["gpu_minutes"], event.changes["cpu_minutes"]) == (600, 1200)

    if site.kind == "slurm":
        expected = {"": "cpu=1200,gres/gpu=600", **dict.fromkeys(members, "")}
        assert assoc(allocation.slurm_account) == expected
        # Again (as at every change of members or period): nothing doubled.
        services.allocation_provision(
            actor=site.team["operator"], allocation=allocation, cluster=site.cluster
        )
        assert assoc(allocation.slurm_account) == expected
    else:
        # No scheduler accounts on the local backend: provisioning writes nothing on the
        # machine; the portal's check before each submission is the only limit.
        assert list(Path(settings.COMPUTE_DIR).iterdir()) == []
    with pytest.raises(PermissionDenied):
        services.allocation_provision(
            actor=site.team["pi"], allocation=allocation, cluster=site.cluster
        )


# --- 2. a template job -------------------------------------------------------------------------


def test_a_template_job_runs_as_the_member_and_its_logs_are_readable(site, reviews):
    member = site.team["member"]
    job = site.submit(
        template="text-classifier",
        params={"data": str(reviews), "output": "model"},
        time_limit_minutes=20,
    )
    assert job.state == JobState.PENDING and job.external_id
    assert (job.user, job.username) == (member, site.usernames["member"])

    site.sync_until([job], timeout=180)
    logs = selectors.job_logs(member, job, tail_bytes=10_000)
    assert (job.state, job.exit_code) == (JobState.COMPLETED, 0), logs
    assert job.started_at <= job.ended_at
    states = list(job.events.values_list("to_state", flat=True))
    assert states[:2] == [JobState.PENDING_SUBMISSION, JobState.PENDING]
    assert states[-1] == JobState.COMPLETED
    assert logs["reached_scheduler"] and "accuracy " in logs["stdout"]
    assert "held-out rows" in logs["stdout"]
    with pytest.raises(PermissionDenied):
        selectors.job_logs(site.team["outsider"], job, tail_bytes=100)

    # It ran as the member's cluster user on Slurm, as run_as (never root) on the local backend.
    folder = Path(job.workdir)
    metrics = json.loads((folder / "model" / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9
    for path in (folder, folder / "model" / "model.joblib"):
        assert owner(path) == site.run_as and path.stat().st_uid != 0
    if site.kind == "slurm":
        assert owner(folder / f"slurm-{job.external_id}.out") == USERS[0]


# --- 3. a failing script -----------------------------------------------------------------------


def test_a_failing_script_ends_failed_with_its_exit_code(site):
    job = site.submit(
        script="echo before the failure\necho broken >&2\nexit 3\n", time_limit_minutes=5
    )
    site.sync_until([job])
    assert (job.state, job.exit_code) == (JobState.FAILED, 3)
    assert job.reason == {"local": "exit code 3", "slurm": "NonZeroExitCode"}[site.kind]
    logs = selectors.job_logs(site.team["member"], job, tail_bytes=1000)
    assert (logs["stdout"], logs["stderr"]) == ("before the failure\n", "broken\n")


# --- 3b. a job reading a dataset ----------------------------------------------------------------


def test_a_job_reads_a_dataset_from_its_own_folder(site, make_org, settings, tmp_path):
    """The dataset's file is copied into the job's folder, for the job's user only: the store
    is never opened to the cluster's users."""
    settings.DATA_STORAGE, settings.DATA_FILES_DIR = "disk", tmp_path / "datasets"
    reset_storage()
    try:
        dataset = make_dataset(make_org(), slug=f"meters-{site.kind}", publish=True)
        add_csv_version(dataset)
        job = site.submit(
            script=f'wc -l < "$AIFACTORY_DATASET_METERS_{site.kind.upper()}"\nid -un\n',
            time_limit_minutes=5,
            datasets=[dataset.slug],
        )
        site.sync_until([job])
    finally:
        reset_storage()
    assert job.state == JobState.COMPLETED, job.reason
    logs = selectors.job_logs(site.team["member"], job, tail_bytes=1000)
    assert logs["stdout"] == f"{CSV.count(chr(10))}\n{site.run_as}\n"
    staged = Path(job.workdir) / "datasets" / dataset.slug / "data.csv"
    if site.kind == "slurm" or os.geteuid() == 0:
        assert owner(staged) == site.run_as


# --- 4. cancel ---------------------------------------------------------------------------------


def test_cancelling_a_running_job(site):
    member = site.team["member"]
    job = site.submit(script="echo started\nsleep 300\n", time_limit_minutes=10)
    site.sync_until([job], states={JobState.RUNNING}, timeout=60)
    services.job_cancel(actor=member, job=job)
    site.sync_until([job], timeout=60)
    assert job.state == JobState.CANCELLED and job.ended_at is not None
    last = job.events.last()
    assert (last.from_state, last.to_state) == (JobState.RUNNING, JobState.CANCELLED)
    assert AuditEvent.objects.filter(action="job.cancel", object_id=str(job.pk), actor=member)
    assert site.backend.statuses([job.external_id])[job.external_id].state == "cancelled"
    with pytest.raises(InvalidTransition):
        services.job_cancel(actor=member, job=job)


# --- 6. a spent budget -------------------------------------------------------------------------


def test_a_spent_budget_stops_the_next_job_before_the_scheduler(site):
    """0.04 GPU hours (2.4 GPU minutes: Slurm's GrpTRESMins gres/gpu=2)."""
    project, allocation, limits = site.open_project({"gpu_hours": "0.04", "cpu_core_hours": 20})
    assert limits == Limits(gpu_minutes=2, cpu_minutes=1200)
    if site.kind == "slurm":
        assert assoc(allocation.slurm_account)[""] == "cpu=1200,gres/gpu=2"

    # The first job may use 0.0333 GPU hours (2 GPUs × 1 minute). On Slurm it runs 32 s: one
    # whole GPU minute used, which is what Slurm counts.
    first = site.submit(
        project=project,
        gpus=2,
        time_limit_minutes=1,
        script="sleep 32\n" if site.kind == "slurm" else "sleep 0.5\n",
    )
    # What it may still use is held while it may run: the next job does not fit.
    with pytest.raises(ServiceError) as refused:
        site.submit(project=project, gpus=1, time_limit_minutes=1, script="true\n")
    assert refused.value.field == "time_limit_minutes"
    assert refused.value.message == (
        "The job does not fit in the allocation's budget. GPU hours: the job may use up to 0.02, "
        "but only 0.01 remain (0.04 left in the current period, 0.03 held by running and queued "
        "jobs)."
    )
    site.sync_until([first], timeout=180, accounted=True)
    assert first.state == JobState.COMPLETED
    allowed = {first.external_id}

    if site.kind == "slurm":
        used = services.usage_totals(allocation)["gpu_hours"]
        assert used >= Decimal(2 * 32) / 3600
        # The portal refuses the same job again: what is left does not hold its maximum...
        with pytest.raises(ServiceError, match=r"only 0\.02 remain \(0\.02 left"):
            site.submit(project=project, gpus=2, time_limit_minutes=1, script="true\n")
        # ...and Slurm, asked directly by the member, holds it: the account's GrpTRESMins.
        direct = site.backend.submit(
            JobSpec(
                job_key=f"direct-{secrets.token_hex(4)}",
                username=site.usernames["member"],
                account=allocation.slurm_account,
                partition=PARTITION,
                script="true\n",
                gpus=2,
                cpus=1,
                mem_mb=128,
                time_limit_minutes=1,
                workdir="",
            )
        )
        allowed.add(direct)
        held = wait_for(
            site.backend, [direct], lambda s: s[direct].reason.startswith("AssocGrp"), timeout=60
        )[direct]
        assert (held.state, held.reason) == ("pending", "AssocGrpGRESMinutes")
        site.backend.cancel(direct, site.usernames["member"])
    else:
        # No scheduler limits here: the portal's block at 100% is the limit. Use on the
        # cluster outside the portal spends the rest: a job sent to the backend under the
        # project's account (the local backend reports the GPUs it was asked for).
        outside = site.backend.submit(
            JobSpec(
                job_key="outside-1",
                username=site.usernames["pi"],
                account=allocation.slurm_account,
                partition="main",
                script="sleep 1.1\n",
                gpus=150,
                cpus=1,
                mem_mb=128,
                time_limit_minutes=5,
                workdir="",
            )
        )
        allowed.add(outside)
        deadline = time.monotonic() + 60
        while not UsageRecord.objects.filter(external_id=outside, end__isnull=False).exists():
            assert time.monotonic() < deadline, "the outside job is not in the accounting"
            time.sleep(0.3)
            services.cluster_sync(site.cluster)
        budget = selectors.budget(allocation)["gpu_hours"]
        assert budget["percent"] >= 100 and budget["remaining"] == 0
        alerts = BudgetAlert.objects.filter(allocation=allocation, resource="gpu_hours")
        assert sorted(alerts.values_list("threshold", flat=True)) == [75, 90, 100]
        with pytest.raises(ServiceError, match=r"only 0\.00 remain \(0\.00 left"):
            site.submit(project=project, gpus=1, time_limit_minutes=1, script="true\n")

    # A job that needs no GPU hours still runs: the budget stops per resource, as GrpTRESMins.
    cpu_only = site.submit(project=project, gpus=0, time_limit_minutes=1, script="true\n")
    site.sync_until([cpu_only])
    assert cpu_only.state == JobState.COMPLETED
    allowed.add(cpu_only.external_id)
    # Nothing of the refused jobs reached the scheduler.
    assert Job.objects.filter(project=project).count() == 2
    assert scheduler_jobs(site, allocation) == allowed


# --- 7. usage equals the accounting ------------------------------------------------------------


def accounting(site, jobs) -> dict[str, dict]:
    """What the backend's accounting reports for the jobs: Slurm's `sacct --json` read here,
    the local backend's accounting lines."""
    ids = [job.external_id for job in jobs]
    if site.kind == "slurm":
        out = subprocess.run(
            ["sacct", "--json", "-M", CLUSTER_NAME, "-j", ",".join(ids)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        found = {}
        for entry in json.loads(out)["jobs"]:
            tres = {
                (t["type"], t.get("name") or ""): t["count"] for t in entry["tres"]["allocated"]
            }
            found[str(entry["job_id"])] = {
                "elapsed": entry["time"]["elapsed"],
                "gpus": tres.get(("gres", "gpu"), 0),
                "cpus": tres[("cpu", "")],
                "user": entry["user"],
                "account": entry["account"],
            }
        return found
    since = min(job.submitted_at for job in jobs) - timedelta(minutes=1)
    return {
        line.external_id: {
            "elapsed": line.elapsed_seconds,
            "gpus": line.gpus,
            "cpus": line.cpus,
            "user": line.username,
            "account": line.account,
        }
        for line in site.backend.accounting(since)
        if line.external_id in ids
    }


def charged(cluster, cpus_per_node, elapsed, gpus, cpus) -> dict[str, Decimal]:
    """Hours, billing and energy of a job's line, rounded to 6 places once, as services/usage."""
    hours = Decimal(elapsed) / 3600
    gpu_hours, cpu_hours = gpus * hours, cpus * hours
    kwh = (gpu_hours * 400 + Decimal(cpus) / cpus_per_node * hours * 600) * Decimal("1.2") / 1000
    values = {
        "gpu_hours": gpu_hours,
        "cpu_core_hours": cpu_hours,
        "billing": gpu_hours * 2 + cpu_hours * Decimal("0.5"),
        "energy_kwh": kwh,
        "co2_kg": kwh * 100 / 1000,
    }
    return {key: value.quantize(PLACES) for key, value in values.items()}


def test_the_usage_the_portal_shows_is_what_the_accounting_reports(site):
    team, allocation = site.team, site.allocation
    jobs = [
        site.submit(gpus=2, cpus=1, time_limit_minutes=5, script="sleep 3\n"),
        site.submit(actor=team["pi"], cpus=1, time_limit_minutes=5, script="sleep 1\nexit 2\n"),
    ]
    site.sync_until(jobs, accounted=True)
    assert [job.state for job in jobs] == [JobState.COMPLETED, JobState.FAILED]

    reported = accounting(site, jobs)
    cpus_per_node = site.cluster.partitions.get().cpus_per_node
    totals = {
        key: Decimal(0)
        for key in ("gpu_hours", "cpu_core_hours", "billing", "energy_kwh", "co2_kg")
    }
    per_user, per_job = {}, {}
    for job, role, gpus, cpus in [(jobs[0], "member", 2, 1), (jobs[1], "pi", 0, 1)]:
        line = reported[job.external_id]
        assert (line["gpus"], line["cpus"]) == (gpus, cpus)
        assert (line["user"], line["account"]) == (site.usernames[role], allocation.slurm_account)
        record = UsageRecord.objects.get(cluster=site.cluster, external_id=job.external_id, step="")
        assert (record.job, record.allocation, record.user) == (job, allocation, team[role])
        assert (record.elapsed_seconds, record.gpus, record.cpus) == (line["elapsed"], gpus, cpus)
        assert line["elapsed"] >= 1
        expected = charged(site.cluster, cpus_per_node, line["elapsed"], gpus, cpus)
        assert {key: getattr(record, key) for key in expected} == expected
        for key, value in expected.items():
            totals[key] += value
        per_user[site.usernames[role]] = expected["gpu_hours"], expected["cpu_core_hours"]
        per_job[job.reference] = expected

    usage = selectors.project_usage(team["member"], site.project)
    assert usage["totals"] == totals
    assert usage["allocations"][0]["used"] == totals
    assert {
        row["username"]: (row["gpu_hours"], row["cpu_core_hours"]) for row in usage["by_user"]
    } == per_user
    for job in jobs:
        assert services.energy_for_job(job) == per_job[job.reference]
    # Read again: nothing counted twice.
    assert services.usage_ingest(site.cluster)["lines"] >= 2
    assert selectors.project_usage(team["member"], site.project)["totals"] == totals


# --- 5. time limit (last: on Slurm its job has been running since the first Slurm test) -------


def test_a_job_past_its_time_limit_times_out(site, long_job):
    if long_job is not None:
        site, job = long_job  # Slurm: submitted by the member through job_submit, see long_job
    else:
        job = site.submit(script="echo waiting\nsleep 300\n", time_limit_minutes=1)
    assert (job.user, job.time_limit_minutes) == (site.team["member"], 1)
    site.sync_until([job], timeout=180, accounted=True)
    assert job.state == JobState.TIMEOUT
    assert job.reason == {"local": "time limit reached", "slurm": "TimeLimit"}[site.kind]
    assert job.exit_code == 128 + 15  # ended by SIGTERM
    # One minute: 60 s on Slurm (which ends it 60-90 s after the start), a few on the local.
    minute = 60 if site.kind == "slurm" else SECONDS_PER_MINUTE
    assert minute <= (job.ended_at - job.started_at).total_seconds() <= 2 * minute + 5
    record = job.usage.get(step="")
    assert record.state == JobState.TIMEOUT and record.elapsed_seconds >= minute
    logs = selectors.job_logs(site.team["member"], job, tail_bytes=100)
    assert logs["stdout"] == "waiting\n"
