"""The status sync: jobs kept and retried with backoff while the scheduler is unreachable, a
client retry with the same key never making two jobs, a sync that records an outage instead of
raising, one cycle updating several jobs, final states kept, and the sync interval."""

from datetime import timedelta

from django.utils import timezone

from aifactory.compute import services, tasks
from aifactory.compute.backends.base import JobStatus
from aifactory.compute.models import Job, JobState

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import open_project, sync_until


def test_unreachable_scheduler_keeps_the_job_and_retries_with_backoff(
    team, slurm_down, django_capture_on_commit_callbacks
):
    project = open_project(team, slurm_down.name)
    services.cluster_account_set(
        actor=None, cluster=slurm_down, user=team["member"], username="member_lab"
    )
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(
            actor=team["member"],
            project=project,
            cluster=slurm_down,
            script="echo hi",
            time_limit_minutes=5,
            idempotency_key="retry-1",
        )
    assert job.state == JobState.PENDING_SUBMISSION and not job.external_id
    assert job.submit_attempts == 1 and "127.0.0.1:9" in job.last_error
    assert job.workdir == f"/tmp/aifactory-slurm-down/{job.reference}"
    first_wait = (job.next_attempt_at - before).total_seconds()
    assert 14 <= first_wait <= 20
    # The job holds its budget while it waits.
    assert services.job_budget(job.allocation)["cpu_core_hours"]["reserved"] > 0
    # A client retrying with the same key gets the same job.
    again = services.job_submit(
        actor=team["member"],
        project=project,
        cluster=slurm_down,
        script="echo hi",
        time_limit_minutes=5,
        idempotency_key="retry-1",
    )
    assert again.pk == job.pk and Job.objects.count() == 1

    # Not due yet: the sync leaves it alone.
    services.cluster_sync(slurm_down, now=job.next_attempt_at - timedelta(seconds=1))
    job.refresh_from_db()
    assert job.submit_attempts == 1
    # Due: one more attempt, and the wait doubles.
    due = job.next_attempt_at + timedelta(seconds=1)
    result = services.cluster_sync(slurm_down, now=due)
    job.refresh_from_db()
    assert result["retried"] == 1 and result["submitted"] == 0
    assert job.submit_attempts == 2
    assert (job.next_attempt_at - due).total_seconds() == 30
    slurm_down.refresh_from_db()
    assert "127.0.0.1:9" in slurm_down.last_sync_error and slurm_down.last_sync_at == due
    # The wait never passes ten minutes.
    for _attempt in range(8):
        due = job.next_attempt_at + timedelta(seconds=1)
        services.cluster_sync(slurm_down, now=due)
        job.refresh_from_db()
    assert (job.next_attempt_at - due).total_seconds() == 600
    assert job.state == JobState.PENDING_SUBMISSION
    # Cancelled while waiting: nothing reaches the scheduler.
    services.job_cancel(actor=team["member"], job=job)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.next_attempt_at is None


def test_sync_records_an_outage_and_does_not_raise(slurm_down):
    result = services.cluster_sync(slurm_down)
    assert result["error"]
    slurm_down.refresh_from_db()
    assert slurm_down.last_sync_at is not None and "sacct" in slurm_down.last_sync_error
    assert slurm_down.usage_watermark is None


def test_one_cycle_updates_several_jobs_and_ingests(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        jobs = [
            services.job_submit(
                actor=team["member"],
                project=allocation.project,
                cluster=cluster,
                script=f"sleep 1.1; exit {code}",
                time_limit_minutes=5,
            )
            for code in (0, 4)
        ]
    live_jobs.extend(jobs)
    sync_until(cluster, jobs[0])
    sync_until(cluster, jobs[1])
    states = {job.reference: job.state for job in jobs}
    assert list(states.values()) == [JobState.COMPLETED, JobState.FAILED]
    assert jobs[1].exit_code == 4
    cluster.refresh_from_db()
    assert cluster.last_sync_error == "" and cluster.usage_watermark is not None
    assert all(job.usage.filter(step="").exists() for job in jobs)
    # A later sync changes nothing.
    result = services.cluster_sync(cluster)
    assert result["changed"] == 0 and result["checked"] == 0


def test_a_final_state_is_kept(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(
            actor=team["member"],
            project=allocation.project,
            cluster=cluster,
            script="true",
            time_limit_minutes=5,
        )
    sync_until(cluster, job)
    services.job_apply_status(job, JobStatus(external_id=job.external_id, state="running"))
    job.refresh_from_db()
    assert job.state == JobState.COMPLETED


def test_clusters_sync_due_respects_the_interval(cluster, slurm_down):
    now = timezone.now()
    assert sorted(services.clusters_sync_due(now=now)) == ["down", "laptop"]
    assert services.clusters_sync_due(now=now + timedelta(seconds=5)) == []
    assert sorted(services.clusters_sync_due(now=now + timedelta(seconds=16))) == [
        "down",
        "laptop",
    ]


def test_tasks_run_the_services(cluster):
    result = tasks.cluster_sync.call(str(cluster.pk))
    assert result["error"] == ""
    assert tasks.job_dispatch.call("00000000-0000-0000-0000-000000000000") == "missing"


def test_jobs_beyond_the_cluster_capacity_wait_with_a_reason(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks, live_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        jobs = [
            services.job_submit(
                actor=team["member"],
                project=allocation.project,
                cluster=cluster,
                script="sleep 30",
                time_limit_minutes=5,
            )
            for _n in range(3)
        ]
    live_jobs.extend(jobs)
    for job in jobs[:2]:
        sync_until(cluster, job, states={JobState.RUNNING})
    services.cluster_sync(cluster)
    jobs[2].refresh_from_db()
    assert jobs[2].state == JobState.PENDING and jobs[2].reason
    services.job_cancel(actor=team["member"], job=jobs[0])
    sync_until(cluster, jobs[2], states={JobState.RUNNING})
    for job in jobs[1:]:
        services.job_cancel(actor=team["member"], job=job)
    for job in jobs:
        sync_until(cluster, job)
        assert job.state == JobState.CANCELLED
