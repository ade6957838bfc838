"""Job services: cost, budget arithmetic, the checks before submission with their messages,
idempotency, references, and real jobs on the local backend (run, fail, time limit, cancel,
resubmit), with the audit trail."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aifactory.access.models import Allocation
from aifactory.compute import services
from aifactory.compute.models import Job, JobState
from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.models import AuditEvent

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import make_cluster, open_project, sync_until, usage


def submit(team, project, cluster, who="member", live_jobs=None, **kwargs):
    kwargs.setdefault("script", "echo hello")
    kwargs.setdefault("time_limit_minutes", 10)
    job = services.job_submit(actor=team[who], project=project, cluster=cluster, **kwargs)
    if live_jobs is not None:
        live_jobs.append(job)
    return job


# --- cost and budget ---------------------------------------------------------------------------


def test_job_cost(cluster):
    cost = services.job_cost(2, 4, 90, cluster)
    assert cost == {
        "gpu_hours": Decimal("3"),
        "cpu_core_hours": Decimal("6"),
        "billing": Decimal("9"),  # 3 × 2 + 6 × 0.5
    }


def test_budget_counts_usage_and_reserved_jobs(team, cluster, allocation, accounts):
    usage(cluster, allocation, "u1", gpu_hours=3, cpu_core_hours=5)
    usage(cluster, allocation, "u1", step="batch", gpu_hours=3, cpu_core_hours=5)  # not twice
    budget = services.job_budget(allocation)
    assert budget["gpu_hours"]["used"] == Decimal(3)
    assert budget["gpu_hours"]["available"] == Decimal(7)
    assert budget["gpu_hours"]["reserved"] == 0
    assert budget["cpu_core_hours"]["remaining"] == Decimal(15)
    assert budget["gpu_hours"]["percent"] == Decimal("30.0")


def test_budget_reserves_what_queued_jobs_can_still_use(
    team, cluster, allocation, accounts, live_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(
            team,
            allocation.project,
            cluster,
            live_jobs=live_jobs,
            script="sleep 30",
            gpus=1,
            time_limit_minutes=120,
        )
    assert job.state in (JobState.PENDING, JobState.RUNNING)
    budget = services.job_budget(allocation)
    assert budget["gpu_hours"]["reserved"] == Decimal(2)
    assert budget["gpu_hours"]["remaining"] == Decimal(8)
    # What it used so far no longer counts as reserved.
    usage(
        cluster,
        allocation,
        job.external_id,
        job=job,
        gpu_hours="0.5",
        end=None,
        start=timezone.now(),
    )
    budget = services.job_budget(allocation)
    assert budget["gpu_hours"]["reserved"] == Decimal("1.5")
    assert budget["gpu_hours"]["available"] == Decimal("9.5")
    # A job that would need 9 GPU hours does not fit in 10 − 0.5 used − 1.5 held.
    with pytest.raises(ServiceError) as refused:
        submit(team, allocation.project, cluster, gpus=1, time_limit_minutes=9 * 60)
    assert "9.00" in refused.value.message and "8.00" in refused.value.message
    assert "1.50" in refused.value.message
    services.job_cancel(actor=team["member"], job=job)


def test_budget_refusal_shows_the_numbers_and_writes_nothing(team, cluster, allocation, accounts):
    with pytest.raises(ServiceError) as refused:
        submit(team, allocation.project, cluster, gpus=2, time_limit_minutes=360)
    message = refused.value.message
    assert "12.00" in message and "10.00" in message and "GPU hours" in message
    assert not Job.objects.exists()
    assert not AuditEvent.objects.filter(action="job.submit").exists()


def test_budget_fully_used_blocks_gpu_jobs_but_not_cpu_jobs(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    usage(cluster, allocation, "u1", gpu_hours=10)
    with pytest.raises(ServiceError, match="GPU hours"):
        submit(team, allocation.project, cluster, gpus=1, time_limit_minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(team, allocation.project, cluster, live_jobs=live_jobs, gpus=0, cpus=1)
    assert job.max_cost["cpu_core_hours"] == pytest.approx(10 / 60, abs=1e-6)


def test_budget_with_monthly_carry_uses_usage_per_tranche(team, cluster, compute_dir):
    today = timezone.localdate()
    start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # first of last month
    end = (today.replace(day=28) + timedelta(days=40)).replace(day=1) - timedelta(days=1)
    project = open_project(
        team,
        cluster.name,
        resources={"gpu_hours": 300},
        policy="monthly_carry",
        start=start,
        end=end,
    )
    allocation = project.allocations.get()
    tranches = list(allocation.tranches.order_by("index"))
    assert len(tranches) == 3
    last_month = timezone.make_aware(
        timezone.datetime.combine(
            tranches[0].start + timedelta(days=3), timezone.datetime.min.time()
        )
    )
    usage(cluster, allocation, "old", gpu_hours=10, end=last_month)
    usage(cluster, allocation, "now", gpu_hours=5)
    by_tranche = services.usage_by_tranche(allocation)
    assert by_tranche[0]["gpu_hours"] == Decimal(10)
    assert by_tranche[1]["gpu_hours"] == Decimal(5)
    budget = services.job_budget(allocation)
    carried = Decimal(str(tranches[0].amounts["gpu_hours"])) - 10
    expected = carried + Decimal(str(tranches[1].amounts["gpu_hours"])) - 5
    assert budget["gpu_hours"]["available"] == expected
    assert "cpu_core_hours" not in budget  # not granted, so not limited


# --- the checks before submission --------------------------------------------------------------


def test_non_member_is_refused(team, cluster, allocation, accounts):
    with pytest.raises(PermissionDenied):
        submit(team, allocation.project, cluster, who="outsider")
    with pytest.raises(PermissionDenied):
        submit(team, allocation.project, cluster, who="operator")


def test_person_without_cluster_account_is_told_so(team, cluster, allocation, accounts):
    with pytest.raises(ServiceError, match="no username on the cluster laptop"):
        submit(team, allocation.project, cluster, who="manager")


def test_project_without_live_allocation_is_refused(team, cluster, allocation, accounts):
    other = make_cluster(name="other")
    with pytest.raises(ServiceError, match="no active allocation on the cluster other"):
        submit(team, allocation.project, other)
    Allocation.objects.filter(pk=allocation.pk).update(status="ended")
    with pytest.raises(ServiceError, match="no active allocation"):
        submit(team, allocation.project, cluster)
    Allocation.objects.filter(pk=allocation.pk).update(
        status="active", end=timezone.localdate() - timedelta(days=1)
    )
    with pytest.raises(ServiceError, match="no active allocation"):
        submit(team, allocation.project, cluster)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gpus": 3}, "gpus"),
        ({"cpus": 5}, "cpus"),
        ({"cpus": 0}, "cpus"),
        ({"mem_mb": 9 * 1024}, "mem_mb"),
        ({"time_limit_minutes": 601}, "time_limit_minutes"),
        ({"time_limit_minutes": None}, "time_limit_minutes"),
        ({"partition": "nope"}, "partition"),
        ({"script": ""}, "script"),
        ({"script": "echo", "template": "script"}, "script"),
        ({"gpus": "two"}, "gpus"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_bad_requests_name_the_field(team, cluster, allocation, accounts, changes, field):
    with pytest.raises(ValidationError) as error:
        submit(team, allocation.project, cluster, **changes)
    assert field in error.value.error_dict
    assert not Job.objects.exists()


def test_partition_message_has_the_numbers(team, cluster, allocation, accounts):
    with pytest.raises(ValidationError) as error:
        submit(team, allocation.project, cluster, gpus=3)
    assert "at most 2" in str(error.value) and "3 asked" in str(error.value)


def test_template_is_rendered(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(
            team,
            allocation.project,
            cluster,
            live_jobs=live_jobs,
            script=None,
            template="script",
            params={"script": "echo from-template"},
        )
    assert job.template == "script" and "echo from-template" in job.script
    assert job.name == "script"
    sync_until(cluster, job)
    assert job.state == JobState.COMPLETED


# --- references and idempotency ----------------------------------------------------------------


def test_reference_and_idempotency_key(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        first = submit(team, allocation.project, cluster, idempotency_key="k1", live_jobs=live_jobs)
        again = submit(team, allocation.project, cluster, idempotency_key="k1")
        other = submit(
            team, allocation.project, cluster, idempotency_key="k1", who="pi", live_jobs=live_jobs
        )
    year = timezone.localdate().year
    assert first.reference == f"J-{year}-00001"
    assert again.pk == first.pk
    assert other.pk != first.pk and other.reference == f"J-{year}-00002"
    assert Job.objects.count() == 2
    assert AuditEvent.objects.filter(action="job.submit").count() == 2


# --- real jobs on the local backend -------------------------------------------------------------


def test_job_runs_to_completion_with_history_usage_and_audit(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(
            team,
            allocation.project,
            cluster,
            live_jobs=live_jobs,
            script="echo hello; python3 -c 'sum(range(3000000))'; sleep 1.2",
            cpus=1,
            mem_mb=512,
        )
    assert job.state == JobState.PENDING and job.external_id and job.submitted_at
    assert re.fullmatch(r"J-\d{4}-\d{5}", job.reference)
    assert job.workdir.endswith(job.reference) and job.username == "member_lab"
    sync_until(cluster, job)
    assert job.state == JobState.COMPLETED and job.exit_code == 0
    assert job.started_at and job.ended_at
    states = list(job.events.values_list("to_state", flat=True))
    assert states[0] == JobState.PENDING_SUBMISSION and states[1] == JobState.PENDING
    assert states[-1] == JobState.COMPLETED
    record = job.usage.get(step="")
    assert record.allocation == allocation and record.user == team["member"]
    assert record.cpu_core_hours > 0 and record.gpu_hours == 0
    assert "cpu" in job.efficiency and "memory" in job.efficiency
    assert AuditEvent.objects.filter(action="job.submit", object_id=str(job.pk)).exists()


def test_failing_job_and_time_limit(
    team, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    cluster = allocation.project.allocations.get().cluster
    from aifactory.compute.models import Cluster

    cluster = Cluster.objects.get(name=cluster)
    services.cluster_update(
        actor=None,
        cluster=cluster,
        config={"max_jobs": 2, "kill_grace_seconds": 1, "seconds_per_minute": 1},
    )
    with django_capture_on_commit_callbacks(execute=True):
        failing = submit(team, allocation.project, cluster, live_jobs=live_jobs, script="exit 3")
        slow = submit(
            team,
            allocation.project,
            cluster,
            live_jobs=live_jobs,
            script="sleep 60",
            time_limit_minutes=1,
        )
    sync_until(cluster, failing)
    assert failing.state == JobState.FAILED and failing.exit_code == 3
    sync_until(cluster, slow)
    assert slow.state == JobState.TIMEOUT


def test_cancel_running_job_then_resubmit(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(team, allocation.project, cluster, live_jobs=live_jobs, script="sleep 60")
    sync_until(cluster, job, states={JobState.RUNNING})
    with pytest.raises(PermissionDenied):
        services.job_cancel(actor=team["outsider"], job=job)
    services.job_cancel(actor=team["manager"], job=job)  # a manager may cancel anyone's job
    sync_until(cluster, job)
    assert job.state == JobState.CANCELLED
    assert AuditEvent.objects.filter(action="job.cancel", object_id=str(job.pk)).exists()
    with pytest.raises(InvalidTransition):
        services.job_cancel(actor=team["member"], job=job)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.job_resubmit(actor=team["member"], job=job)
    live_jobs.append(again)
    assert again.pk != job.pk and again.resubmitted_from_id == job.pk
    assert again.script == job.script and again.time_limit_minutes == job.time_limit_minutes
    services.job_cancel(actor=team["member"], job=again)
    sync_until(cluster, again)


def test_resubmit_checks_the_budget_again(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(
            team,
            allocation.project,
            cluster,
            live_jobs=live_jobs,
            script="true",
            gpus=1,
            time_limit_minutes=60,
        )
    sync_until(cluster, job)
    usage(cluster, allocation, "elsewhere", gpu_hours="9.5")
    with pytest.raises(ServiceError, match="budget"):
        services.job_resubmit(actor=team["member"], job=job)


def test_backend_refusal_fails_the_job_with_the_reason(
    team, cluster, allocation, accounts, settings, django_capture_on_commit_callbacks
):
    settings.PRODUCTION = True  # the local backend refuses to run jobs in production
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(team, allocation.project, cluster)
    assert job.state == JobState.FAILED
    assert "production" in job.reason and job.submit_attempts == 1
    assert list(job.events.values_list("to_state", flat=True)) == [
        JobState.PENDING_SUBMISSION,
        JobState.FAILED,
    ]


# --- who sees which job ------------------------------------------------------------------------


def test_jobs_visible_and_job_get(
    team, cluster, allocation, accounts, settings, django_capture_on_commit_callbacks
):
    from django.http import Http404

    from aifactory.compute import selectors

    settings.PRODUCTION = True  # the job fails at once: nothing runs
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(team, allocation.project, cluster)
    for who in ("member", "pi", "manager", "operator"):
        assert selectors.job_get(team[who], job.reference) == job
        assert list(selectors.jobs_visible(team[who])) == [job]
    assert selectors.job_get(team["member"], str(job.pk)) == job
    assert not selectors.jobs_visible(team["outsider"]).exists()
    with pytest.raises(Http404):
        selectors.job_get(team["outsider"], job.reference)
    with pytest.raises(Http404):
        selectors.job_get(team["member"], "J-1999-00001")
    usage_page = selectors.project_usage(team["member"], allocation.project)
    assert "gpu_hours" in usage_page["allocations"][0]["budget"]
    with pytest.raises(Http404):
        selectors.project_usage(team["outsider"], allocation.project)
