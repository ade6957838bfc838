"""Periodic tasks: due once per interval, enqueued once however many workers tick, run by the
real worker."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from aifactory.core import periodic
from aifactory.core.models import AuditEvent, PeriodicRun

from . import processes


@task()
def noop() -> str:
    return "done"


NOOP = noop.module_path


@pytest.fixture
def only_ours(monkeypatch):
    """A registry with just the tasks a test registers (the apps' own are left out)."""
    monkeypatch.setattr(periodic, "_registry", {})


def queued() -> int:
    return DBTaskResult.objects.filter(task_path=NOOP).count()


def test_register_refuses_a_bad_interval_or_name(only_ours):
    with pytest.raises(ValueError, match="interval"):
        periodic.register("t.noop", 0, noop)
    with pytest.raises(ValueError, match="name"):
        periodic.register("", 5, noop)
    periodic.register("t.noop", 5, noop)
    periodic.register("t.noop", 7, noop)  # again: replaced, not twice
    assert [(p.name, p.seconds) for p in periodic.registered()] == [("t.noop", 7.0)]


@pytest.mark.django_db(transaction=True)
def test_due_once_per_interval_and_never_piled_up(only_ours):
    periodic.register("t.noop", 10, noop)
    t0 = timezone.now()
    assert periodic.tick(t0) == ["t.noop"]
    assert periodic.tick(t0) == []
    assert periodic.tick(t0 + timedelta(seconds=9.9)) == []
    assert queued() == 1
    # Due again, but the last run still waits in the queue: no second copy.
    assert periodic.tick(t0 + timedelta(seconds=10)) == []
    assert queued() == 1
    drained = processes.run("worker", "--batch", "--interval", "0")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert DBTaskResult.objects.get(task_path=NOOP).status == "SUCCESSFUL"
    assert periodic.tick(t0 + timedelta(seconds=10)) == ["t.noop"]
    assert queued() == 2
    run = PeriodicRun.objects.get(name="t.noop")
    assert run.last_enqueued_at == t0 + timedelta(seconds=10)
    assert run.last_result_id == str(DBTaskResult.objects.latest("enqueued_at").id)


@pytest.mark.django_db
def test_each_task_has_its_own_interval(only_ours):
    periodic.register("t.fast", 1, noop)
    periodic.register("t.slow", 60, noop)
    t0 = timezone.now()
    assert periodic.tick(t0) == ["t.fast", "t.slow"]
    DBTaskResult.objects.update(status="SUCCESSFUL")  # as if a worker had run them
    assert periodic.tick(t0 + timedelta(seconds=2)) == ["t.fast"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_enqueue_once(only_ours):
    names = [f"t.noop{n:02}" for n in range(20)]
    for name in names:
        periodic.register(name, 5, noop)
    now = timezone.now()
    start = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.extend(periodic.tick(now))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results) == names
    assert queued() == len(names)


@pytest.mark.django_db(transaction=True)
def test_two_workers_run_a_registered_task_periodically_once_per_interval():
    # core registers `ping` when WORKER_PING_SECONDS is set; each run leaves an audit event.
    workers = [
        processes.start("worker", "--interval", "0.1", WORKER_PING_SECONDS="1") for _ in range(2)
    ]
    try:
        done = processes.wait_for(
            lambda: AuditEvent.objects.filter(action="worker.ping").count() >= 4, timeout=60
        )
    finally:
        output = "".join(processes.stop(w) for w in workers)
    assert done, output
    enqueued = list(
        DBTaskResult.objects.filter(task_path="aifactory.core.tasks.ping")
        .order_by("enqueued_at")
        .values_list("enqueued_at", flat=True)
    )
    gaps = [(b - a).total_seconds() for a, b in zip(enqueued, enqueued[1:], strict=False)]
    assert len(enqueued) >= 4 and min(gaps) > 0.8, gaps
    assert PeriodicRun.objects.filter(name="core.ping").exists()
