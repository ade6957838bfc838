"""The scheduler's accounts follow the allocations by themselves: the periodic reconcile writes
only what changed (a new member, a new month, an allocation that ended), a job's first submission
provisions its account, failures are recorded and retried. On the local backend the records are
what shows it; on the real Slurm, sacctmgr does."""

import json
import subprocess
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from aifactory.compute import services
from aifactory.compute.models import AccountProvision, JobState
from aifactory.core.models import AuditEvent

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import make_cluster, open_project, sync_until, usage
from .slurm_helpers import *  # noqa: F403 - the Slurm fixtures
from .slurm_helpers import CLUSTER_NAME, USERS, drop_accounts


def limit_changes(project) -> int:
    return AuditEvent.objects.filter(
        action="allocation.limit_change", object_id=str(project.pk)
    ).count()


def test_reconcile_writes_what_changed_and_nothing_else(team, cluster, allocation, accounts):
    assert services.cluster_provision_due(cluster) == {"written": 1, "unchanged": 0, "failed": 0}
    record = AccountProvision.objects.get(cluster=cluster, allocation=allocation)
    limits = services.allocation_limits(allocation)
    assert (record.account, record.usernames) == (
        allocation.slurm_account,
        ["member_lab", "pi_lab"],
    )
    assert (record.gpu_minutes, record.cpu_minutes) == (limits.gpu_minutes, limits.cpu_minutes)
    assert (record.gpu_minutes, record.cpu_minutes) == (600, 1200)  # 10 GPU h, 20 core h
    assert record.provisioned_at and not record.last_error
    assert limit_changes(allocation.project) == 1

    # Usage moves hours from "left" to "used": the limit (used + left) stays, nothing is written.
    usage(cluster, allocation, "u1", gpu_hours=2, cpu_core_hours=1)
    assert services.cluster_provision_due(cluster) == {"written": 0, "unchanged": 1, "failed": 0}

    # A member who gets a cluster username joins the account at the next reconcile.
    services.cluster_account_set(actor=None, cluster=cluster, user=team["manager"], username="mgr")
    assert services.cluster_provision_due(cluster)["written"] == 1
    record.refresh_from_db()
    assert record.usernames == ["member_lab", "mgr", "pi_lab"]
    assert limit_changes(allocation.project) == 2


def test_an_ended_allocation_closes_at_what_it_used(team, cluster, allocation, accounts):
    services.cluster_provision_due(cluster)
    usage(cluster, allocation, "u1", gpu_hours="1.5", cpu_core_hours=4)
    after_end = allocation.end + timedelta(days=1)
    assert services.cluster_provision_due(cluster, today=after_end)["written"] == 1
    record = AccountProvision.objects.get(allocation=allocation)
    assert (record.gpu_minutes, record.cpu_minutes) == (90, 240)
    assert services.cluster_provision_due(cluster, today=after_end)["unchanged"] == 1


def test_an_allocation_never_on_the_scheduler_is_not_opened_once_ended(team, cluster, accounts):
    today = timezone.localdate()
    old = open_project(
        team, cluster.name, start=today - timedelta(days=60), end=today - timedelta(days=1)
    )
    assert old.allocations.get().status == "active"  # ended by its dates only
    assert services.cluster_provision_due(cluster) == {"written": 0, "unchanged": 0, "failed": 0}
    assert not AccountProvision.objects.exists()


def test_a_failure_is_recorded_and_the_others_go_on(team, compute_dir, accounts):
    down = make_cluster(
        name="down",
        backend="slurm",
        config={
            "mode": "cli",
            "workdir_root": "/tmp/aifactory-slurm-down",
            "create_workdir": False,
            "sacctmgr": "/nonexistent/sacctmgr",
            "timeout_seconds": 2,
        },
    )
    first = open_project(team, down.name).allocations.get()
    second = open_project(team, down.name).allocations.get()
    assert services.cluster_provision_due(down) == {"written": 0, "unchanged": 0, "failed": 2}
    for allocation in (first, second):
        record = AccountProvision.objects.get(allocation=allocation)
        assert record.provisioned_at is None and record.attempted_at
        assert "sacctmgr" in record.last_error
    # Tried again at the next reconcile (a failure is never "unchanged").
    assert services.cluster_provision_due(down)["failed"] == 2
    out = StringIO()
    with pytest.raises(CommandError, match="2 account"):
        call_command("clusters", "provision", "down", stdout=out)
    listed = StringIO()
    call_command("clusters", "list", "--json", stdout=listed)
    row = next(c for c in json.loads(listed.getvalue()) if c["name"] == "down")
    assert {p["account"] for p in row["provisioned"]} == {first.slurm_account, second.slurm_account}
    assert all("sacctmgr" in p["last_error"] for p in row["provisioned"])


def test_a_jobs_first_submission_provisions_its_account(
    team, cluster, allocation, accounts, live_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(
            actor=team["member"],
            project=allocation.project,
            cluster=cluster,
            script="echo hi",
            time_limit_minutes=5,
        )
    live_jobs.append(job)
    services.job_dispatch_now(job)
    record = AccountProvision.objects.get(cluster=cluster, allocation=allocation)
    assert "member_lab" in record.usernames and record.provisioned_at
    assert sync_until(cluster, job).state == JobState.COMPLETED
    assert limit_changes(allocation.project) == 1  # the second job needs nothing written
    with django_capture_on_commit_callbacks(execute=True):
        again = services.job_submit(
            actor=team["pi"],
            project=allocation.project,
            cluster=cluster,
            script="echo hi",
            time_limit_minutes=5,
        )
    live_jobs.append(again)
    services.job_dispatch_now(again)
    assert limit_changes(allocation.project) == 1


def test_the_cli_provisions_one_project_even_unchanged(team, cluster, allocation, accounts):
    out = StringIO()
    call_command("clusters", "provision", cluster.name, stdout=out)
    assert out.getvalue().strip() == f"provisioned {cluster.name}: written 1, unchanged 0, failed 0"
    out = StringIO()
    code = allocation.project.code
    call_command("clusters", "provision", cluster.name, "--project", code, "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "account": allocation.slurm_account,
        "gpu_minutes": 600,
        "cpu_minutes": 1200,
    }
    assert limit_changes(allocation.project) == 2
    with pytest.raises(CommandError, match="--project: nope has no allocation"):
        call_command("clusters", "provision", cluster.name, "--project", "nope")


# --- on the real Slurm -------------------------------------------------------------------------


def assoc_users(account: str) -> dict[str, str]:
    """{user: GrpTRESMins of the account line} as slurmdbd has them."""
    out = subprocess.run(
        ["sacctmgr", "-n", "-P", "show", "assoc", f"account={account}", f"cluster={CLUSTER_NAME}",
         "format=user,grptresmins"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    return dict(line.split("|", 1) for line in out.splitlines())


def test_on_slurm_the_first_job_opens_the_account_and_the_reconcile_follows(
    team, slurm_cluster, live_jobs, django_capture_on_commit_callbacks
):
    project = open_project(
        team, slurm_cluster.name, resources={"gpu_hours": 2, "cpu_core_hours": 3}
    )
    allocation = project.allocations.get()
    for who, username in (("member", USERS[0]), ("pi", USERS[1])):
        services.cluster_account_set(
            actor=None, cluster=slurm_cluster, user=team[who], username=username
        )
    try:
        assert assoc_users(allocation.slurm_account) == {}  # nothing on Slurm yet
        with django_capture_on_commit_callbacks(execute=True):
            job = services.job_submit(
                actor=team["member"],
                project=project,
                cluster=slurm_cluster,
                script="echo opened\n",
                time_limit_minutes=1,
            )
        live_jobs.append(job)
        services.job_dispatch_now(job)
        assert sync_until(slurm_cluster, job, timeout=60).state == JobState.COMPLETED
        users = assoc_users(allocation.slurm_account)
        assert users[""] == "cpu=180,gres/gpu=120"  # the account line: 3 core h, 2 GPU h
        assert {USERS[0], USERS[1]} <= set(users)

        # Past its end the reconcile closes the account at what it used.
        services.usage_ingest(slurm_cluster)
        used = services.usage_totals(allocation)
        after_end = allocation.end + timedelta(days=1)
        assert services.cluster_provision_due(slurm_cluster, today=after_end)["written"] == 1
        gpu, cpu = int(used["gpu_hours"] * 60), int(used["cpu_core_hours"] * 60)
        assert assoc_users(allocation.slurm_account)[""] == f"cpu={cpu},gres/gpu={gpu}"
    finally:
        drop_accounts([allocation.slurm_account])


def test_operators_see_the_accounts_written_and_the_last_error(
    client, team, cluster, allocation, accounts
):
    services.cluster_provision_due(cluster)
    client.force_login(team["operator"])
    page = client.get(f"/clusters/{cluster.name}/accounts/").content.decode()
    row = page.split(f'id="provision-{allocation.slurm_account}"')[1].split("</tr>")[0]
    assert "member_lab, pi_lab" in row and ">600<" in row and ">1200<" in row
    assert allocation.project.code in row and "Last attempt failed" not in row
    AccountProvision.objects.update(last_error="sacctmgr: connection refused")
    page = client.get(f"/clusters/{cluster.name}/accounts/").content.decode()
    assert "Last attempt failed: sacctmgr: connection refused" in page


def test_an_ended_allocation_keeps_room_for_its_running_jobs(team, cluster, allocation, accounts):
    services.cluster_provision_due(cluster)
    usage(cluster, allocation, "u1", gpu_hours=1, cpu_core_hours=2)
    job = services.job_submit(
        actor=team["member"],
        project=allocation.project,
        cluster=cluster,
        script="sleep 1",
        gpus=1,
        cpus=2,
        time_limit_minutes=30,
    )
    assert job.state in ("pending_submission", "pending", "running")
    after_end = allocation.end + timedelta(days=1)
    services.cluster_provision_due(cluster, today=after_end)
    record = AccountProvision.objects.get(allocation=allocation)
    # Used (60 GPU min, 120 core min) + what the job may still use (30 GPU min, 60 core min).
    assert (record.gpu_minutes, record.cpu_minutes) == (90, 180)


def test_accounts_managed_elsewhere_are_left_alone(
    team, cluster, allocation, accounts, compute_dir
):
    type(allocation).objects.filter(pk=allocation.pk).update(external_id="coldfront:42")
    assert services.cluster_provision_due(cluster) == {"written": 0, "unchanged": 0, "failed": 0}
    elsewhere = make_cluster(
        name="elsewhere",
        backend="slurm",
        config={
            "mode": "cli",
            "workdir_root": str(compute_dir),
            "sacctmgr": "/nonexistent/sacctmgr",
            "provision": False,
        },
    )
    open_project(team, elsewhere.name)
    assert services.cluster_provision_due(elsewhere) == {"written": 0, "unchanged": 0, "failed": 0}
    assert not AccountProvision.objects.exists()


def test_a_closed_account_is_not_worked_out_again(team, cluster, allocation, accounts):
    services.cluster_provision_due(cluster)
    record = AccountProvision.objects.get(allocation=allocation)
    after_end = allocation.end + timedelta(days=1)
    # Written (closed) after its end, no job ever: skipped without a scheduler call.
    AccountProvision.objects.filter(pk=record.pk).update(
        provisioned_at=timezone.now()
        + timedelta(days=allocation.end.toordinal() - timezone.localdate().toordinal() + 1)
    )
    usage(cluster, allocation, "late", gpu_hours=1)  # would change the limits if worked out
    assert services.cluster_provision_due(cluster, today=after_end) == {
        "written": 0,
        "unchanged": 1,
        "failed": 0,
    }
    # Not closed yet (written before its end): worked out and written.
    AccountProvision.objects.filter(pk=record.pk).update(provisioned_at=timezone.now())
    assert services.cluster_provision_due(cluster, today=after_end)["written"] == 1
