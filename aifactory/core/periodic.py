"""Periodic tasks: the worker puts each registered task on the queue once per interval.

Apps register in ``AppConfig.ready``::

    periodic.register("compute.sync", settings.COMPUTE_SYNC_SECONDS, clusters_sync_due)

and every ``aifactory worker`` calls :func:`tick` about once a second. Several workers may run at
once (and on several hosts): each due task is claimed with one conditional UPDATE on its
``PeriodicRun`` row (``last_enqueued_at <= now - interval``), in the same transaction as the
enqueue, so exactly one worker enqueues it per interval and a failed enqueue claims nothing.
A task whose previous run is still waiting in the queue is not enqueued again: a busy or stopped
worker does not pile up copies. Times come from the workers' clocks, which should be in sync.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task
from django_tasks.exceptions import TaskException

from .models import PeriodicRun

logger = logging.getLogger(__name__)

# Before any real run: a new task is due at its first tick.
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Periodic:
    name: str
    seconds: float
    task: Task


_registry: dict[str, Periodic] = {}


def register(name: str, seconds: float, task: Task) -> None:
    """Run ``task`` (a django-tasks task without arguments) every ``seconds``; registering the
    same name again replaces it (so a reloaded app does not run it twice)."""
    if not name or len(name) > 100:
        raise ValueError("a periodic task needs a name of 1 to 100 characters")
    if seconds <= 0:
        raise ValueError(f"{name}: the interval must be more than 0 seconds")
    _registry[name] = Periodic(name=name, seconds=float(seconds), task=task)


def unregister(name: str) -> None:
    _registry.pop(name, None)


def registered() -> list[Periodic]:
    return sorted(_registry.values(), key=lambda p: p.name)


def _still_queued(periodic: Periodic, result_id: str) -> bool:
    if not result_id:
        return False
    try:
        return periodic.task.get_result(result_id).status == TaskResultStatus.READY
    except (TaskException, NotImplementedError):  # gone, or a backend that keeps no results
        return False


def _claim_and_enqueue(periodic: Periodic, now: datetime) -> bool:
    # get_or_create reads the row another worker created in between (it catches the IntegrityError).
    run, _ = PeriodicRun.objects.get_or_create(
        name=periodic.name, defaults={"last_enqueued_at": NEVER}
    )
    if run.last_enqueued_at > now - timedelta(seconds=periodic.seconds):
        return False
    if _still_queued(periodic, run.last_result_id):
        return False
    with transaction.atomic():
        claimed = PeriodicRun.objects.filter(
            name=periodic.name,
            last_enqueued_at=run.last_enqueued_at,
            last_enqueued_at__lte=now - timedelta(seconds=periodic.seconds),
        ).update(last_enqueued_at=now)
        if not claimed:  # another worker was first
            return False
        result = periodic.task.enqueue()
        PeriodicRun.objects.filter(name=periodic.name).update(last_result_id=str(result.id))
    return True


def tick(now: datetime | None = None) -> list[str]:
    """Enqueue every registered task that is due; return the names this call enqueued."""
    now = now or timezone.now()
    enqueued = []
    for p in registered():
        try:
            if _claim_and_enqueue(p, now):
                enqueued.append(p.name)
        except Exception:  # one broken task must not stop the others; the claim rolled back
            logger.exception("periodic task %s could not be enqueued", p.name)
    return enqueued
