"""The faults of the compute app, with real components (the local backend and the real Slurm of
scripts/slurm/up.sh):

- the portal stops between "the scheduler accepted the job" and "the portal saved its id": the
  next attempt finds the job in the scheduler and adopts it, never submits it twice;
- the portal down while jobs finish: the next sync catches up states, exit codes and usage, once;
- slurmctld restarted while jobs run (and one waits): a sync during the outage keeps every state
  and reports the cluster unreachable; a job submitted meanwhile waits as ``pending_submission``
  (a client retry with the same key gets the same job) and is submitted once when Slurm is back;
  no state is lost and usage is recorded once per job and step.

The restart test stops slurmctld for real and always starts it again (scripts/slurm/up.sh).
"""

import json
import os
import signal
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from django.utils import timezone

from aifactory.access.models import Allocation
from aifactory.compute import services
from aifactory.compute.backends import backend_for
from aifactory.compute.models import FINAL_STATES, Job, JobEvent, JobState, UsageRecord
from aifactory.compute.services.jobs import ADOPTED_REASON, DISPATCH_LEASE, _spec

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import open_project, sync_until
from .slurm_helpers import *  # noqa: F403 - the real Slurm fixtures
from .slurm_helpers import CLUSTER_NAME, REST_URL, USERS, all_final, sacct_rows

UP_SH = Path(__file__).resolve().parents[3] / "scripts" / "slurm" / "up.sh"
SLURMCTLD_PID = Path("/run/slurm/slurmctld.pid")


# --- helpers -----------------------------------------------------------------------------------


def submit(team, project, cluster, script, who="member", **kwargs):
    kwargs.setdefault("time_limit_minutes", 5)
    return services.job_submit(
        actor=team[who], project=project, cluster=cluster, script=script, **kwargs
    )


def crash_after_submit(job: Job) -> tuple[str, object]:
    """What a dispatch does up to the moment the portal stops: it takes the lease, the backend
    accepts the job, and nothing more is written. Returns (scheduler id, when it happened)."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(next_attempt_at=now + DISPATCH_LEASE)
    job = Job.objects.select_related("allocation", "project", "cluster").get(pk=job.pk)
    return backend_for(job.cluster).submit(_spec(job)), now


def crash_before_submit(job: Job):
    """A dispatch that took the lease and stopped before the backend was asked."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(next_attempt_at=now + DISPATCH_LEASE)
    return now


def usage_rows(cluster, account=None) -> list[tuple]:
    """The usage records of the cluster (of one Slurm account: the test cluster is shared), as
    what they count (not when they were written)."""
    records = UsageRecord.objects.filter(cluster=cluster)
    if account is not None:
        records = records.filter(account=account)
    return sorted(
        records.values_list(
            "external_id", "step", "job_id", "state", "start", "end", "elapsed_seconds",
            "cpus", "gpus", "cpu_core_hours", "gpu_hours", "billing",
        )
    )  # fmt: skip


def assert_once_per_job_and_step(cluster, jobs) -> None:
    rows = usage_rows(cluster)
    keys = [(external_id, step) for external_id, step, *_rest in rows]
    assert len(keys) == len(set(keys)), rows
    for job in jobs:
        own = [row for row in rows if row[0] == job.external_id and row[1] == ""]
        assert len(own) == 1 and own[0][2] == job.pk, (job.reference, rows)


def wait_until(check, timeout: float, what: str, every: float = 0.5):
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not after {timeout} s")
        time.sleep(every)


def sync_until_all(cluster, jobs, timeout: float) -> list[Job]:
    def done():
        services.cluster_sync(cluster)
        for job in jobs:
            job.refresh_from_db()
        return all(job.state in FINAL_STATES for job in jobs)

    wait_until(done, timeout, f"{[j.reference for j in jobs]} final", every=1)
    return jobs


# --- on Slurm: a project whose allocation has an account of its own on the cluster -------------


@pytest.fixture
def on_slurm(team, slurm_cluster, slurm_accounts):
    """The member runs as aifuser1, the PI as aifuser2; the allocation's Slurm account is new to
    this test (job keys repeat between test databases; accounts do not), provisioned by the
    portal with the allocation's limits."""
    account = slurm_accounts("fault")
    # Working folders of its own: job references start again in every test database.
    workdir_root = tempfile.mkdtemp(prefix="faults-", dir=slurm_cluster.config["workdir_root"])
    os.chmod(workdir_root, 0o755)
    services.cluster_update(
        actor=None,
        cluster=slurm_cluster,
        config={**slurm_cluster.config, "workdir_root": workdir_root},
    )
    project = open_project(team, slurm_cluster.name)
    allocation = project.allocations.get()
    Allocation.objects.filter(pk=allocation.pk).update(slurm_account=account)
    allocation.refresh_from_db()
    for who, username in (("member", USERS[0]), ("pi", USERS[1])):
        services.cluster_account_set(
            actor=None, cluster=slurm_cluster, user=team[who], username=username
        )
    services.allocation_provision(actor=None, allocation=allocation, cluster=slurm_cluster)
    return SimpleNamespace(
        cluster=slurm_cluster, project=project, allocation=allocation, account=account
    )


@pytest.fixture
def slurm_jobs(on_slurm):
    """Portal jobs on Slurm; whatever still runs at the end is cancelled."""
    jobs: list[Job] = []
    yield jobs
    backend = backend_for(on_slurm.cluster)
    for job in jobs:
        job.refresh_from_db()
        if job.external_id and job.state not in FINAL_STATES:
            try:
                backend.cancel(job.external_id, job.username)
            except Exception as exc:  # noqa: BLE001 - cleanup must go on
                print(f"could not cancel {job.external_id}: {exc}")


def slurm_ids_named(name: str, account: str) -> set[str]:
    """Every Slurm job of the account with this name: what slurmctld holds (squeue --json, all
    jobs within MinJobAge) and what the accounting holds (sacct)."""
    listed = subprocess.run(
        ["squeue", "--json"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    ids = {
        str(job["job_id"])
        for job in json.loads(listed).get("jobs") or []
        if job.get("name") == name and job.get("account") == account
    }
    day = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    accounted = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-M", CLUSTER_NAME, "-a", f"--name={name}", "-A", account,
         "-S", day, "-E", "now", "-o", "jobidraw"],
        capture_output=True, text=True, timeout=30, check=True, env={**os.environ, "TZ": "UTC"},
    ).stdout  # fmt: skip
    return ids | {line.strip() for line in accounted.splitlines() if line.strip()}


def sacct_final(ids) -> bool:
    """Whether slurmdbd has the end of every job (it gets it a moment after slurmctld)."""
    rows = sacct_rows(ids, "state,end")
    return all(
        i in rows
        and rows[i][0].split()[0] not in ("PENDING", "RUNNING")
        and rows[i][1] != "Unknown"
        for i in ids
    )


def assert_usage_equals_sacct(jobs) -> None:
    rows = sacct_rows([job.external_id for job in jobs], "elapsedraw,alloccpus")
    for job in jobs:
        record = UsageRecord.objects.get(cluster=job.cluster, external_id=job.external_id, step="")
        elapsed, cpus = rows[job.external_id]
        assert (record.elapsed_seconds, record.cpus) == (int(elapsed), int(cpus)), job.reference


# --- (a) a crash between "the scheduler accepted" and "the portal saved the id" ---------------


def test_local_a_submission_accepted_before_a_crash_is_adopted(
    team, cluster, allocation, accounts, live_jobs
):
    # job_submit writes the job; the dispatch after the commit never runs here (the test's
    # transaction is never committed), as if the portal stopped right then.
    job = submit(team, allocation.project, cluster, "echo once >> count.txt")
    live_jobs.append(job)
    external_id, crashed_at = crash_after_submit(job)
    backend = backend_for(cluster)
    assert backend.find(job.reference, job.username) == external_id == job.reference
    assert backend.find(job.reference, "someone_else") is None

    # While the lease runs, nobody touches the job.
    services.job_dispatch_now(job, now=crashed_at + DISPATCH_LEASE - timedelta(seconds=1))
    assert (job.state, job.external_id, job.submit_attempts) == (JobState.PENDING_SUBMISSION, "", 0)
    # Once it has run out, the next attempt finds the job and adopts it.
    services.job_dispatch_now(job, now=crashed_at + DISPATCH_LEASE + timedelta(seconds=1))
    assert job.state == JobState.PENDING and job.external_id == external_id
    assert (job.reason, job.submit_attempts, job.next_attempt_at) == (ADOPTED_REASON, 1, None)
    assert list(job.events.values_list("from_state", "to_state")) == [
        ("", JobState.PENDING_SUBMISSION),
        (JobState.PENDING_SUBMISSION, JobState.PENDING),
    ]
    sync_until(cluster, job)
    assert (job.state, job.exit_code) == (JobState.COMPLETED, 0)
    # It ran once: one run folder, one line written.
    runs = [p.name for p in backend.runs_dir.iterdir() if not p.name.startswith(".")]
    assert runs == [job.reference]
    assert Path(job.workdir, "count.txt").read_text() == "once\n"

    # A dispatch that stopped before the backend was asked: the retry finds nothing, submits.
    other = submit(team, allocation.project, cluster, "echo twice >> count.txt")
    live_jobs.append(other)
    crashed_at = crash_before_submit(other)
    assert backend.find(other.reference, other.username) is None
    services.job_dispatch_now(other, now=crashed_at + DISPATCH_LEASE + timedelta(seconds=1))
    assert other.external_id == other.reference and other.reason != ADOPTED_REASON
    sync_until(cluster, other)
    assert other.state == JobState.COMPLETED
    assert Path(other.workdir, "count.txt").read_text() == "twice\n"


def test_slurm_a_submission_accepted_before_a_crash_is_adopted(team, on_slurm, slurm_jobs):
    cluster, project = on_slurm.cluster, on_slurm.project
    job = submit(team, project, cluster, "echo once\nsleep 2\n", time_limit_minutes=2)
    slurm_jobs.append(job)
    external_id, crashed_at = crash_after_submit(job)
    assert slurm_ids_named(job.reference, on_slurm.account) == {external_id}
    backend = backend_for(cluster)
    since = job.created_at - timedelta(minutes=1)
    assert backend.find(job.reference, USERS[0], account=on_slurm.account, since=since) == (
        external_id
    )
    # Another user, another account, or a job older than the portal's: not this one.
    assert backend.find(job.reference, USERS[1], account=on_slurm.account) is None
    assert backend.find(job.reference, USERS[0], account="sandbox") is None
    later = timezone.now() + timedelta(minutes=5)
    assert backend.find(job.reference, USERS[0], account=on_slurm.account, since=later) is None

    services.job_dispatch_now(job, now=crashed_at + DISPATCH_LEASE + timedelta(seconds=1))
    assert job.external_id == external_id and job.reason == ADOPTED_REASON
    assert job.state == JobState.PENDING and job.submit_attempts == 1
    job = sync_until(cluster, job, timeout=120)
    assert (job.state, job.exit_code) == (JobState.COMPLETED, 0)
    # One job in Slurm, in slurmctld and in the accounting alike.
    wait_until(lambda: sacct_final([external_id]), 30, "sacct has the job's end")
    assert slurm_ids_named(job.reference, on_slurm.account) == {external_id}

    # Stopped before Slurm was asked: the retry looks (slurmctld, then sacct), finds nothing,
    # and submits it once.
    other = submit(team, project, cluster, "echo other\n", time_limit_minutes=2)
    slurm_jobs.append(other)
    crashed_at = crash_before_submit(other)
    services.job_dispatch_now(other, now=crashed_at + DISPATCH_LEASE + timedelta(seconds=1))
    assert other.state == JobState.PENDING and other.external_id and other.reason == ""
    assert slurm_ids_named(other.reference, on_slurm.account) == {other.external_id}
    assert sync_until(cluster, other, timeout=120).state == JobState.COMPLETED


# --- (b) the portal down while jobs finish -----------------------------------------------------


def test_local_portal_down_while_jobs_finish_one_sync_catches_up(
    team, cluster, allocation, accounts, live_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        jobs = [
            submit(team, allocation.project, cluster, script)
            for script in ("sleep 3; exit 0", "sleep 3; exit 3", "sleep 0.5; exit 0")
        ]
    live_jobs.extend(jobs)
    # Two slots: two run, the third waits. The portal syncs while they run...
    for job in jobs[:2]:
        sync_until(cluster, job, states=[JobState.RUNNING])
    services.cluster_sync(cluster)
    for job in jobs:
        job.refresh_from_db()
    assert [job.state for job in jobs[:2]] == [JobState.RUNNING] * 2
    assert jobs[2].state == JobState.PENDING
    # ... then stops; the jobs finish meanwhile.
    backend = backend_for(cluster)
    ids = [job.external_id for job in jobs]
    wait_until(
        lambda: {s.state in FINAL_STATES for s in backend.statuses(ids).values()} == {True},
        30,
        "the local jobs end",
    )
    events_before = JobEvent.objects.filter(job__in=jobs).count()

    # Back: one sync brings every job to its end, with its exit code and its usage.
    result = services.cluster_sync(cluster)
    assert result["error"] == "" and result["changed"] == 3
    for job in jobs:
        job.refresh_from_db()
    assert [(job.state, job.exit_code) for job in jobs] == [
        (JobState.COMPLETED, 0),
        (JobState.FAILED, 3),
        (JobState.COMPLETED, 0),
    ]
    assert all(job.ended_at and job.started_at and job.ended_at > job.started_at for job in jobs)
    # One event per job: running → its end, and pending → completed for the one that waited.
    assert JobEvent.objects.filter(job__in=jobs).count() == events_before + 3
    assert_once_per_job_and_step(cluster, jobs)
    for job in jobs:
        record = job.usage.get(step="")
        assert record.end == job.ended_at and record.state == job.state
        assert record.elapsed_seconds == round((job.ended_at - job.started_at).total_seconds())
    # A second sync adds nothing.
    rows, events = usage_rows(cluster), JobEvent.objects.count()
    result = services.cluster_sync(cluster)
    assert (result["checked"], result["changed"], result["error"]) == (0, 0, "")
    assert usage_rows(cluster) == rows and JobEvent.objects.count() == events


def test_slurm_portal_down_while_jobs_finish_one_sync_catches_up(
    team, on_slurm, slurm_jobs, django_capture_on_commit_callbacks
):
    cluster, project = on_slurm.cluster, on_slurm.project
    with django_capture_on_commit_callbacks(execute=True):
        jobs = [
            submit(team, project, cluster, "sleep 20\nexit 0\n", time_limit_minutes=2),
            submit(team, project, cluster, "sleep 10\nexit 3\n", time_limit_minutes=2, who="pi"),
        ]
    slurm_jobs.extend(jobs)

    # The portal syncs while the first runs (the cluster is shared: the second may still wait
    # for a CPU, or even for its submission to be retried)...
    def first_runs_second_submitted():
        services.cluster_sync(cluster)
        for job in jobs:
            job.refresh_from_db()
        return jobs[0].state == JobState.RUNNING and jobs[1].external_id

    wait_until(first_runs_second_submitted, 120, "the first job runs", every=0.5)
    assert jobs[1].state in (JobState.PENDING, JobState.RUNNING)
    ids = [job.external_id for job in jobs]
    # ... then is down until slurmctld and the accounting both have the jobs' ends.
    backend = backend_for(cluster)
    wait_until(lambda: all_final(ids)(backend.statuses(ids)), 180, "the Slurm jobs end")
    wait_until(lambda: sacct_final(ids), 30, "sacct has the jobs' ends")

    result = services.cluster_sync(cluster)
    assert result["error"] == "" and result["changed"] == 2
    for job in jobs:
        job.refresh_from_db()
    assert [(job.state, job.exit_code) for job in jobs] == [
        (JobState.COMPLETED, 0),
        (JobState.FAILED, 3),
    ]
    assert_once_per_job_and_step(cluster, jobs)
    assert_usage_equals_sacct(jobs)
    for job in jobs:
        record = job.usage.get(step="")
        assert (record.state, record.end) == (job.state, job.ended_at)
    # Once slurmctld forgets them (MinJobAge), statuses come from sacct: the same final state.
    from_sacct = backend._statuses_from_sacct(ids)
    for job in jobs:
        status = from_sacct[job.external_id]
        assert (status.state, status.exit_code, status.started_at, status.ended_at) == (
            job.state,
            job.exit_code,
            job.started_at,
            job.ended_at,
        )
    # A second sync adds nothing.
    rows, events = usage_rows(cluster, on_slurm.account), JobEvent.objects.count()
    result = services.cluster_sync(cluster)
    assert (result["checked"], result["changed"], result["error"]) == (0, 0, "")
    assert usage_rows(cluster, on_slurm.account) == rows and JobEvent.objects.count() == events


# --- (c) slurmctld restarted while jobs run ----------------------------------------------------


def _slurmctld_pid() -> int | None:
    """The live slurmctld's pid (a zombie does not count: nothing reaps here)."""
    try:
        pid = int(SLURMCTLD_PID.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    name, state = stat.split(" (", 1)[1].rsplit(") ", 1)[0], stat.rsplit(") ", 1)[1][:1]
    return pid if name == "slurmctld" and state != "Z" else None


def _rest_answers() -> bool:
    try:
        httpx.get(f"{REST_URL}/slurm/v0.0.38/ping", timeout=5)
    except httpx.HTTPError:
        return False
    return True


def _scontrol_up() -> bool:
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    return "UP" in ping.stdout


def slurm_back_up() -> None:
    """Start whatever is down (scripts/slurm/up.sh is idempotent) and wait until slurmctld and
    slurmrestd answer."""
    if _slurmctld_pid() is None or not _rest_answers():
        done = subprocess.run([str(UP_SH)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    wait_until(_scontrol_up, 60, "scontrol ping UP")
    wait_until(_rest_answers, 60, "slurmrestd answers")


def test_slurm_restarted_while_jobs_run_loses_nothing_and_counts_once(
    team, on_slurm, slurm_jobs, django_capture_on_commit_callbacks
):
    cluster, project = on_slurm.cluster, on_slurm.project
    with django_capture_on_commit_callbacks(execute=True):
        running = [
            submit(team, project, cluster, "sleep 25\nexit 0\n", time_limit_minutes=3),
            submit(team, project, cluster, "sleep 45\nexit 2\n", time_limit_minutes=3, who="pi"),
        ]
    slurm_jobs.extend(running)
    for job in running:
        sync_until(cluster, job, states=[JobState.RUNNING], timeout=180)
    # Both CPUs are taken: the next job waits.
    with django_capture_on_commit_callbacks(execute=True):
        waiting = submit(team, project, cluster, "echo waited\n", time_limit_minutes=3)
    slurm_jobs.append(waiting)
    jobs = [*running, waiting]
    services.cluster_sync(cluster)
    for job in jobs:
        job.refresh_from_db()
    assert [job.state for job in jobs] == [JobState.RUNNING, JobState.RUNNING, JobState.PENDING]
    before = {job.pk: (job.state, job.external_id, job.started_at) for job in jobs}

    pid = _slurmctld_pid()
    assert pid is not None, "slurmctld is not running"
    try:
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: _slurmctld_pid() is None, 60, "slurmctld stops")

        # A sync during the outage: the cluster is unreachable, every state kept.
        result = services.cluster_sync(cluster)
        assert result["error"] and result["changed"] == 0
        cluster.refresh_from_db()
        assert "slurmrestd" in cluster.last_sync_error
        for job in jobs:
            job.refresh_from_db()
            assert (job.state, job.external_id, job.started_at) == before[job.pk]
        # A job submitted now waits to be submitted; the client's retry gets the same job.
        with django_capture_on_commit_callbacks(execute=True):
            late = submit(team, project, cluster, "echo late\n", idempotency_key="late-1")
        slurm_jobs.append(late)
        late.refresh_from_db()
        assert late.state == JobState.PENDING_SUBMISSION and not late.external_id
        assert late.submit_attempts == 1 and late.last_error
        again = submit(team, project, cluster, "echo late\n", idempotency_key="late-1")
        assert again.pk == late.pk
        assert Job.objects.filter(cluster=cluster, idempotency_key="late-1").count() == 1
    finally:
        slurm_back_up()

    jobs.append(late)
    # The late job is retried when its turn comes (15 s after the failed attempt).
    sync_until_all(cluster, jobs, timeout=240)
    assert [(job.state, job.exit_code) for job in jobs] == [
        (JobState.COMPLETED, 0),
        (JobState.FAILED, 2),
        (JobState.COMPLETED, 0),
        (JobState.COMPLETED, 0),
    ]
    for job in jobs[:3]:
        assert job.external_id == before[job.pk][1]
    assert late.external_id and late.submit_attempts >= 2
    # No job was ever marked failed or lost on the way, only at its real end.
    wrong = JobEvent.objects.filter(
        job__in=jobs,
        to_state__in=[JobState.FAILED, JobState.NODE_FAIL, JobState.CANCELLED],
    ).values_list("job_id", flat=True)
    assert list(wrong) == [running[1].pk]
    # One Slurm job each, usage once per job and step, equal to sacct's.
    for job in jobs:
        assert slurm_ids_named(job.reference, on_slurm.account) == {job.external_id}
    ids = [job.external_id for job in jobs]
    wait_until(lambda: sacct_final(ids), 30, "sacct has the jobs' ends")
    services.usage_ingest(cluster)
    assert_once_per_job_and_step(cluster, jobs)
    assert_usage_equals_sacct(jobs)
    rows = usage_rows(cluster, on_slurm.account)
    services.usage_ingest(cluster)
    services.usage_ingest(cluster)
    assert usage_rows(cluster, on_slurm.account) == rows
