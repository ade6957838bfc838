"""Usage: the energy formula, idempotent ingestion from the real local backend's accounting,
a missed cycle caught up, records of jobs the portal never saw, jobs settled from the
accounting, aggregates, and budget alerts once per threshold in the reader's language."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from aifactory.compute import services
from aifactory.compute.backends import backend_for
from aifactory.compute.backends.base import BackendUnavailable, JobSpec, UsageLine
from aifactory.compute.models import FINAL_STATES, BudgetAlert, JobState, UsageRecord

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import sync_until, usage


def wait_backend(cluster, external_id, timeout=30):
    backend = backend_for(cluster)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backend.statuses([external_id]).get(external_id)
        if status and status.state in FINAL_STATES:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{external_id} did not end")


def run_job(team, allocation, cluster, capture, script="sleep 1.1", **kwargs):
    with capture(execute=True):
        job = services.job_submit(
            actor=team["member"],
            project=allocation.project,
            cluster=cluster,
            script=script,
            time_limit_minutes=kwargs.pop("time_limit_minutes", 5),
            **kwargs,
        )
    return job


# --- energy ------------------------------------------------------------------------------------


def test_energy_formula(cluster):
    line = UsageLine(
        external_id="1",
        step="",
        account="a",
        username="u",
        state="completed",
        start=None,
        end=None,
        elapsed_seconds=3600,
        gpus=2,
        cpus=2,
    )
    values = services.usage_record_values(line, cluster, cpus_per_node=4)
    # (2 GPU h × 400 W + 2/4 of a node × 1 h × 600 W) × PUE 1.2 / 1000 = 1.32 kWh
    assert values["energy_kwh"] == Decimal("1.32")
    assert values["co2_kg"] == Decimal("0.132")  # × 100 g/kWh
    assert values["gpu_hours"] == 2 and values["cpu_core_hours"] == 2
    assert values["billing"] == Decimal(5)  # 2 × 2 + 2 × 0.5


# --- ingestion ---------------------------------------------------------------------------------


def test_ingesting_twice_counts_once(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks
):
    job = run_job(team, allocation, cluster, django_capture_on_commit_callbacks, gpus=1)
    sync_until(cluster, job)
    first = services.usage_totals(allocation)
    assert first["gpu_hours"] > 0 and first["energy_kwh"] > 0
    services.usage_ingest(cluster)
    Cluster = type(cluster)
    Cluster.objects.filter(pk=cluster.pk).update(usage_watermark=None)  # read everything again
    cluster.refresh_from_db()
    services.usage_ingest(cluster)
    assert services.usage_totals(allocation) == first
    assert UsageRecord.objects.filter(external_id=job.external_id).count() == 1
    assert services.energy_for_job(job)["energy_kwh"] == first["energy_kwh"]


def test_missed_cycle_is_caught_up(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks
):
    services.usage_ingest(cluster)
    mark = cluster.usage_watermark
    one = run_job(team, allocation, cluster, django_capture_on_commit_callbacks)
    two = run_job(team, allocation, cluster, django_capture_on_commit_callbacks)
    wait_backend(cluster, one.external_id)
    wait_backend(cluster, two.external_id)
    # Nobody synced while they ran: the next ingestion finds both and settles them.
    result = services.usage_ingest(cluster)
    assert result["lines"] >= 2 and cluster.usage_watermark > mark
    for job in (one, two):
        job.refresh_from_db()
        assert job.state == JobState.COMPLETED
        assert job.events.last().reason == "settled from the accounting"
        assert job.usage.filter(step="").exists()


def test_outage_leaves_the_watermark(slurm_down):
    with pytest.raises(BackendUnavailable):
        services.usage_ingest(slurm_down)
    slurm_down.refresh_from_db()
    assert slurm_down.usage_watermark is None


def test_jobs_the_portal_never_saw_reach_their_allocation(team, cluster, allocation, accounts):
    backend = backend_for(cluster)
    external_id = backend.submit(
        JobSpec(
            job_key="outside-1",
            username="pi_lab",
            account=allocation.slurm_account,
            partition="main",
            script="sleep 1.1",
            gpus=1,
            cpus=2,
            mem_mb=256,
            time_limit_minutes=5,
            workdir="",
        )
    )
    wait_backend(cluster, external_id)
    services.usage_ingest(cluster)
    record = UsageRecord.objects.get(external_id=external_id, step="")
    assert record.job is None and record.allocation == allocation
    assert record.user == team["pi"] and record.gpus == 1 and record.cpus == 2
    assert services.usage_totals(allocation)["gpu_hours"] == record.gpu_hours > 0


# --- aggregates --------------------------------------------------------------------------------


def test_aggregates_per_user_month_and_day(team, cluster, allocation, accounts):
    now = timezone.now()
    usage(cluster, allocation, "a", gpu_hours=1, user=team["pi"], username="pi_lab", end=now)
    usage(
        cluster,
        allocation,
        "b",
        gpu_hours=2,
        user=team["member"],
        username="member_lab",
        end=now - timedelta(days=1),
    )
    usage(cluster, allocation, "c", gpu_hours=4, username="ghost", end=now)
    usage(cluster, allocation, "c", step="batch", gpu_hours=4, username="ghost", end=now)
    by_user = services.usage_by_user(project=allocation.project)
    assert [(row["username"], row["gpu_hours"]) for row in by_user] == [
        ("ghost", 4),
        ("member_lab", 2),
        ("pi_lab", 1),
    ]
    by_day = services.usage_by_day(project=allocation.project)
    assert [row["gpu_hours"] for row in by_day] == [2, 5]
    assert by_day[-1]["period"] == timezone.localdate(now)
    by_month = services.usage_by_month(project=allocation.project)
    assert sum(row["gpu_hours"] for row in by_month) == 7
    assert services.energy_for_organisation(team["org"])["gpu_hours"] == 7


# --- alerts ------------------------------------------------------------------------------------


def test_alerts_once_per_threshold_in_the_readers_language(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks
):
    team["manager"].preferred_language = "de"
    team["manager"].save(update_fields=["preferred_language"])
    usage(cluster, allocation, "a", gpu_hours="7.5")
    with django_capture_on_commit_callbacks(execute=True):
        assert [a.threshold for a in services.budget_alerts(allocation)] == [75]
    assert sorted(m.to[0] for m in mail.outbox) == ["manager@lab.example", "pi@lab.example"]
    english = next(m for m in mail.outbox if m.to == ["pi@lab.example"])
    assert "75%" in english.subject and "7.50 of 10.00" in english.body
    german = next(m for m in mail.outbox if m.to == ["manager@lab.example"])
    assert german.subject != english.subject and "75%" in german.subject
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.budget_alerts(allocation) == []
    assert mail.outbox == []
    usage(cluster, allocation, "b", gpu_hours="2.5")
    with django_capture_on_commit_callbacks(execute=True):
        assert [a.threshold for a in services.budget_alerts(allocation)] == [90, 100]
    assert len(mail.outbox) == 2  # one message per person, about the highest threshold
    assert all("100%" in m.subject for m in mail.outbox)
    assert "refused" in next(m for m in mail.outbox if m.to == ["pi@lab.example"]).body
    assert BudgetAlert.objects.filter(allocation=allocation).count() == 3


def test_ingestion_raises_alerts(
    team, cluster, allocation, accounts, django_capture_on_commit_callbacks
):
    # Just under 90% of the 20 CPU core hours; the job's second or so crosses it.
    usage(cluster, allocation, "earlier", cpu_core_hours="17.9999")
    job = run_job(team, allocation, cluster, django_capture_on_commit_callbacks)
    wait_backend(cluster, job.external_id)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.usage_ingest(cluster)
    assert result["alerts"] == 2
    assert set(BudgetAlert.objects.values_list("resource", "threshold")) == {
        ("cpu_core_hours", 75),
        ("cpu_core_hours", 90),
    }
    assert any("CPU core hours" in m.subject for m in mail.outbox)
