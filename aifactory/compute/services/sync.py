"""The status sync of a cluster, run periodically (every ``cluster.sync_seconds``):

1. jobs still waiting to be submitted whose next attempt is due are handed to the backend again;
2. ONE ``statuses()`` call for all the cluster's unfinished jobs that have a scheduler id, never
   one call per job; each change is recorded (JobEvent per state transition; reason, node, start,
   end and exit code on the job);
3. usage ingestion and budget alerts (services/usage.py).

A job the scheduler no longer reports and that the portal has not seen end is left as it is: the
accounting still knows it, and ingestion settles its final state (``_settle_jobs``); jobs the
status query did report are left to it (it knows their exit code). The sync
never raises for a backend outage: the error is kept in ``cluster.last_sync_error`` and the next
cycle catches up, since nothing moved.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from aifactory.core.errors import ServiceError

from ..backends.base import BackendError, JobStatus
from ..models import FINAL_STATES, Cluster, Job, JobEvent, JobState
from .jobs import job_dispatch_now
from .usage import usage_ingest

logger = logging.getLogger(__name__)

__all__ = ["cluster_sync", "clusters_sync_due", "job_apply_status"]

RETRY_BATCH = 200


# What a status changes on a job; the sync loads only these (not the scripts).
STATUS_FIELDS = ["state", "reason", "node", "started_at", "ended_at", "exit_code", "updated_at"]
CHUNK = 2000


def _set_status(job: Job, status: JobStatus, now) -> bool:
    """Copy the status onto the job (in memory); whether anything changed."""
    values = {"state": status.state, "reason": (status.reason or "")[:200]}
    if status.node:
        values["node"] = status.node[:200]
    if status.started_at is not None:
        values["started_at"] = status.started_at
    if status.ended_at is not None:
        values["ended_at"] = status.ended_at
    elif status.state in FINAL_STATES and job.ended_at is None:
        values["ended_at"] = now
    if status.exit_code is not None:
        values["exit_code"] = status.exit_code
    changed = False
    for key, value in values.items():
        if getattr(job, key) != value:
            setattr(job, key, value)
            changed = True
    if changed:
        job.updated_at = now
    return changed


def _apply_statuses(pairs: list[tuple[Job, JobStatus]], now) -> int:
    """Record many statuses in a few queries: the jobs are locked and re-read (a cancel or the
    accounting may have ended one meanwhile; a final state is never left), updated in bulk, and
    one JobEvent is written per state transition. Returns how many jobs changed."""
    pairs = [(job, status) for job, status in pairs if status.state in JobState.values]
    changed = 0
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start : start + CHUNK]
        with transaction.atomic():
            fresh = {
                job.pk: job
                for job in Job.objects.select_for_update()
                .filter(pk__in=[job.pk for job, _s in chunk])
                .only("pk", *STATUS_FIELDS)
            }
            touched, events = [], []
            for job, status in chunk:
                current = fresh.get(job.pk)
                if current is None or current.state in FINAL_STATES:
                    continue
                from_state = current.state
                if not _set_status(current, status, now):
                    continue
                touched.append(current)
                if current.state != from_state:
                    events.append(
                        JobEvent(
                            job_id=current.pk,
                            from_state=from_state,
                            to_state=current.state,
                            reason=current.reason,
                        )
                    )
            _write_statuses(touched)
            JobEvent.objects.bulk_create(events, batch_size=500)
            changed += len(touched)
    return changed


# PostgreSQL types of the id and the status fields, in STATUS_FIELDS order.
PG_TYPES = [
    "uuid",
    "varchar",
    "varchar",
    "varchar",
    "timestamptz",
    "timestamptz",
    "int",
    "timestamptz",
]
ROWS_PER_STATEMENT = 400


def _write_statuses(jobs: list[Job]) -> None:
    """Write the status fields of many jobs in a few statements: on PostgreSQL one ``UPDATE ...
    FROM unnest(arrays)`` per chunk, on SQLite one ``UPDATE ... FROM (VALUES ...)`` per few
    hundred jobs, elsewhere one UPDATE per job. (Django's bulk_update builds CASE expressions
    that grow with the square of the batch: 20 s for 10,000 jobs.)"""
    if not jobs:
        return
    fields = [Job._meta.pk] + [Job._meta.get_field(name) for name in STATUS_FIELDS]
    if connection.vendor not in ("postgresql", "sqlite"):
        for job in jobs:
            Job.objects.filter(pk=job.pk).update(**{f: getattr(job, f) for f in STATUS_FIELDS})
        return
    quote = connection.ops.quote_name
    table = quote(Job._meta.db_table)
    assignments = ", ".join(
        f"{quote(field.column)} = v.column{i}" for i, field in enumerate(fields[1:], start=2)
    )
    where = f"WHERE {table}.{quote(fields[0].column)} = v.column1"

    real = connections[DEFAULT_DB_ALIAS]  # not the proxy: no thread-local lookup per value

    def values(job, field):
        return field.get_db_prep_value(getattr(job, field.attname), real)

    with real.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = ", ".join(f"column{i}" for i in range(1, len(fields) + 1))
            arrays = ", ".join(f"%s::{t}[]" for t in PG_TYPES)
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608 - names from the model
                f"FROM unnest({arrays}) AS v({columns}) {where}",
                [[values(job, field) for job in jobs] for field in fields],
            )
            return
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(jobs), ROWS_PER_STATEMENT):
            chunk = jobs[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608 - names from the model
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v {where}",
                [values(job, field) for job in chunk for field in fields],
            )


def job_apply_status(job: Job, status: JobStatus) -> Job:
    """Record what the scheduler says of one job; a final state is never left again."""
    if status.state not in JobState.values:
        logger.warning("job %s: unknown state %r from the backend", job.reference, status.state)
        return job
    _apply_statuses([(job, status)], timezone.now())
    job.refresh_from_db()
    return job


def cluster_sync(cluster: Cluster, now=None) -> dict:
    """One sync cycle of the cluster (see the module's docstring). Returns
    {"submitted": n, "retried": n, "checked": n, "changed": n, "usage": n, "alerts": n,
    "error": text}."""
    now = now or timezone.now()
    result = {"submitted": 0, "retried": 0, "checked": 0, "changed": 0, "usage": 0, "alerts": 0}
    errors = []
    try:
        backend = _backend(cluster)
    except (BackendError, ServiceError) as exc:
        backend = None
        errors.append(str(exc))

    if backend is not None:
        due = Job.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            cluster=cluster,
            state=JobState.PENDING_SUBMISSION,
        )
        for job in due.order_by("created_at")[:RETRY_BATCH]:
            result["retried"] += 1
            job = job_dispatch_now(job, now=now)
            if job.state != JobState.PENDING_SUBMISSION:
                result["submitted"] += 1
            elif job.last_error:
                errors.append(job.last_error)
                break  # the scheduler is down: the others wait for their turn too

        active = list(
            Job.objects.filter(cluster=cluster)
            .exclude(state__in=[*FINAL_STATES, JobState.PENDING_SUBMISSION])
            .exclude(external_id="")
            .only("pk", "external_id", *STATUS_FIELDS)
        )
        reported: set[str] = set()
        if active:
            try:
                statuses = backend.statuses([job.external_id for job in active])
            except BackendError as exc:
                statuses = None
                errors.append(str(exc))
            if statuses is not None:
                reported = set(statuses)
                result["checked"] = len(active)
                pairs = [
                    (job, statuses[job.external_id])
                    for job in active
                    if job.external_id in statuses and not _same(job, statuses[job.external_id])
                ]
                result["changed"] = _apply_statuses(pairs, timezone.now())

        try:
            ingested = usage_ingest(cluster, now=now, reported=reported)
            result["usage"] = ingested["lines"]
            result["alerts"] = ingested["alerts"]
        except BackendError as exc:
            errors.append(str(exc))

    result["error"] = "\n".join(dict.fromkeys(errors))[:5000]
    Cluster.objects.filter(pk=cluster.pk).update(last_sync_at=now, last_sync_error=result["error"])
    cluster.last_sync_at, cluster.last_sync_error = now, result["error"]
    if result["error"]:
        logger.warning("sync of %s: %s", cluster.name, result["error"])
    return result


def _backend(cluster: Cluster):
    from ..backends import backend_for

    return backend_for(cluster)


def _same(job: Job, status: JobStatus) -> bool:
    return (
        job.state == status.state
        and job.reason == (status.reason or "")[:200]
        and (not status.node or job.node == status.node[:200])
        and (status.started_at is None or job.started_at == status.started_at)
        and (status.ended_at is None or job.ended_at == status.ended_at)
        and (status.exit_code is None or job.exit_code == status.exit_code)
    )


def clusters_sync_due(now=None) -> list[str]:
    """Sync every active cluster whose interval has passed since its last sync; the names."""
    now = now or timezone.now()
    synced = []
    for cluster in Cluster.objects.filter(is_active=True):
        last = cluster.last_sync_at
        if last is not None and (now - last).total_seconds() < cluster.sync_seconds:
            continue
        try:
            cluster_sync(cluster, now=now)
        except Exception:  # one broken cluster must not stop the others
            logger.exception("sync of %s failed", cluster.name)
        synced.append(cluster.name)
    return synced
