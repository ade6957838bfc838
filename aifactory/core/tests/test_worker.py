"""The task worker: a real `aifactory worker` process runs what the web process enqueues."""

import pytest
from django_tasks import TaskResultStatus

from aifactory.core.models import AuditEvent
from aifactory.core.tasks import ping

from . import processes


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_here_runs_in_the_worker():
    result = ping.enqueue("hello from the test")
    assert result.status == TaskResultStatus.READY
    worker = processes.start("worker", "--interval", "0.1")
    try:

        def finished():
            result.refresh()
            return result.is_finished

        done = processes.wait_for(finished, timeout=30)
    finally:
        output = processes.stop(worker)
    assert done, output
    assert result.status == TaskResultStatus.SUCCESSFUL, output
    assert result.return_value == "hello from the test"
    event = AuditEvent.objects.get(action="worker.ping")
    assert event.changes == {"message": "hello from the test"}
    assert event.actor is None and event.actor_repr == "system"


@pytest.mark.django_db(transaction=True)
def test_batch_worker_drains_the_queue_and_exits():
    results = [ping.enqueue(f"n{n}") for n in range(3)]
    finished = processes.run("worker", "--batch", "--interval", "0", timeout=60)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    for n, result in enumerate(results):
        result.refresh()
        assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, f"n{n}")


@pytest.mark.django_db
def test_a_task_can_be_called_directly():
    assert ping.call("direct") == "direct"
    assert AuditEvent.objects.filter(action="worker.ping").count() == 1
