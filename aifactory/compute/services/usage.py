"""Usage from the backends' accounting: ingestion, energy, aggregates and budget alerts.

Ingestion reads the accounting since the cluster's watermark minus an overlap, and writes one
``UsageRecord`` per (cluster, job id, step), updating it in place when it is read again; so a
re-run never counts twice, and a missed cycle is caught up because the watermark only moves after
a successful read. A long catch-up is read one ``WINDOW`` (a day) at a time, each window stored
``CHUNK`` lines at a time as the backend hands them over, and the watermark moves past a window
once it is stored: memory follows a chunk, not the backlog, and a failure half-way costs only
the window it happened in (read again next time, and upserted, so never counted twice). Records
of jobs the portal never saw are kept and reach their allocation by the Slurm account.

Only the job's own line (step "") counts in budgets and totals: a job's steps run inside its
allocation, so adding them would count the same hours twice. Steps are kept for efficiency.

A record belongs to the day it ended (or started, while it still runs); the tranche holding that
day is the one it is charged to.
"""

import logging
import uuid
from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aifactory.access.models import Allocation, MemberRole, Resource
from aifactory.access.services.projects_tranches import tranche_available, tranche_current
from aifactory.core.mail import mail_send

from ..backends.base import UsageLine
from ..models import (
    FINAL_STATES,
    BudgetAlert,
    Cluster,
    ClusterAccount,
    Job,
    JobEvent,
    JobState,
    Partition,
    UsageRecord,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ALERT_THRESHOLDS",
    "OVERLAP",
    "WINDOW",
    "usage_ingest",
    "usage_record_values",
    "usage_totals",
    "usage_by_tranche",
    "usage_by_user",
    "usage_by_month",
    "usage_by_day",
    "energy_for_job",
    "energy_for_project",
    "energy_for_organisation",
    "budget_alerts",
]

OVERLAP = timedelta(minutes=5)
# A catch-up reads the accounting one day at a time, and moves the watermark after each day.
WINDOW = timedelta(days=1)
# At most this many windows per sync cycle, so a long catch-up never holds up the status sync.
WINDOWS_PER_RUN = 31
ALERT_THRESHOLDS = (75, 90, 100)
BUDGET_RESOURCES = (Resource.GPU_HOURS, Resource.CPU_CORE_HOURS)
SUMMED = ("gpu_hours", "cpu_core_hours", "billing", "energy_kwh", "co2_kg")
PLACES = Decimal("0.000001")
CHUNK = 2000


def _q(value: Decimal) -> Decimal:
    return value.quantize(PLACES)


# --- one record --------------------------------------------------------------------------------


def usage_record_values(line: UsageLine, cluster: Cluster, cpus_per_node: int) -> dict:
    """Hours, billing and energy of one accounting line.

    Energy: (GPU hours × watts per GPU + cpus / cpus per node × elapsed hours × watts per node)
    × PUE / 1000 → kWh; × grid intensity (g/kWh) / 1000 → kg CO2e."""
    hours = Decimal(int(line.elapsed_seconds or 0)) / Decimal(3600)
    gpus, cpus = int(line.gpus or 0), int(line.cpus or 0)
    gpu_hours = gpus * hours
    cpu_core_hours = cpus * hours
    billing = gpu_hours * cluster.rate_gpu_hour + cpu_core_hours * cluster.rate_cpu_hour
    node_share = Decimal(cpus) / Decimal(max(1, cpus_per_node))
    watt_hours = gpu_hours * cluster.gpu_watts + node_share * hours * cluster.node_watts
    energy_kwh = watt_hours * Decimal(str(cluster.pue)) / Decimal(1000)
    co2_kg = energy_kwh * cluster.grid_g_co2_per_kwh / Decimal(1000)
    return {
        "gpu_hours": _q(gpu_hours),
        "cpu_core_hours": _q(cpu_core_hours),
        "billing": _q(billing),
        "energy_kwh": _q(energy_kwh),
        "co2_kg": _q(co2_kg),
    }


# --- ingestion ---------------------------------------------------------------------------------


def _epoch(cluster: Cluster) -> datetime:
    """Where the first read starts: the earliest allocation on the cluster, or its first job."""
    first = (
        Allocation.objects.filter(cluster=cluster.name)
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )
    if first is not None:
        return timezone.make_aware(datetime.combine(first, time.min))
    job = cluster.jobs.order_by("created_at").values_list("created_at", flat=True).first()
    return job or cluster.created_at


def _allocation_for_account(
    candidates: list[Allocation], cluster: Cluster, when
) -> Allocation | None:
    if not candidates:
        return None
    day = timezone.localdate(when) if when else None

    def rank(a):
        return (
            a.cluster != cluster.name,
            not (day and a.start <= day <= a.end),
            a.status != "active",
        )

    return sorted(candidates, key=rank)[0]


def usage_ingest(
    cluster: Cluster, now: datetime | None = None, *, reported: set[str] | frozenset = frozenset()
) -> dict:
    """Read the cluster's accounting since the watermark (minus ``OVERLAP``) and upsert it.

    ``reported``: the scheduler ids whose state the status query of this sync cycle returned; the
    next status query settles those (with their exit code), so ingestion leaves their state.

    Raises the backend's error when it cannot be read (the caller records it); nothing moves then.
    Returns {"lines": n, "allocations": n, "alerts": n}."""
    from ..backends import backend_for

    # The watermark is when this read started, never a time in the future (a caller's ``now``
    # may be ahead of the clock), so nothing that ends meanwhile is skipped next time.
    read_at = min(now, timezone.now()) if now else timezone.now()
    since = (cluster.usage_watermark - OVERLAP) if cluster.usage_watermark else _epoch(cluster)
    backend = backend_for(cluster)
    touched: set = set()
    count = 0
    try:
        for n, (start, end) in enumerate(_windows(since, read_at), start=1):
            last = end >= read_at
            count += _ingest_window(
                cluster, backend, start, None if last else end, reported, touched
            )
            # Past this window only now that all of it is stored: a failure in a later window
            # leaves the watermark here, and the next run reads that window again.
            mark = read_at if last else end
            Cluster.objects.filter(pk=cluster.pk).update(usage_watermark=mark)
            cluster.usage_watermark = mark
            if n >= WINDOWS_PER_RUN:
                break  # a long catch-up goes on at the next cycles; the status sync waits not
    except BaseException:
        # The stored windows will not be read again: their alerts now, without hiding the error.
        try:
            _alerts(touched)
        except Exception:
            logger.exception("budget alerts after a failed usage read of %s", cluster.name)
        raise
    return {"lines": count, "allocations": len(touched), "alerts": _alerts(touched)}


def _alerts(allocation_ids) -> int:
    return sum(
        len(budget_alerts(allocation))
        for allocation in Allocation.objects.filter(pk__in=allocation_ids).select_related("project")
    )


def _windows(since: datetime, until: datetime):
    """[since, until) in steps of ``WINDOW`` (at least one step)."""
    start = min(since, until)
    while True:
        end = min(start + WINDOW, until)
        yield start, end
        if end >= until:
            return
        start = end


def _ingest_window(cluster, backend, since, until, reported, touched: set) -> int:
    """Read one window as the backend hands it over and store it ``CHUNK`` lines at a time
    (never splitting one job's lines), so the window is never held whole. Returns the count."""
    lines = backend.accounting(since, until)
    batch: list[UsageLine] = []
    count = 0
    try:
        for line in lines:
            if len(batch) >= CHUNK and line.external_id != batch[-1].external_id:
                touched.update(_ingest_chunk(cluster, batch, reported))
                batch = []
            batch.append(line)
            count += 1
        if batch:
            touched.update(_ingest_chunk(cluster, batch, reported))
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()  # stops the scheduler's command when a chunk failed
    return count


def _ingest_chunk(cluster: Cluster, lines: list[UsageLine], reported) -> set:
    ids = {line.external_id for line in lines}
    jobs = {
        j.external_id: j
        for j in Job.objects.filter(cluster=cluster, external_id__in=ids).only(
            "pk",
            "external_id",
            "allocation_id",
            "user_id",
            "partition",
            "state",
            "efficiency",
            "cpus",
            "mem_mb",
        )  # fmt: skip
    }
    usernames = {line.username for line in lines if line.username}
    people = dict(
        ClusterAccount.objects.filter(cluster=cluster, username__in=usernames).values_list(
            "username", "user_id"
        )
    )
    by_account: dict[str, list[Allocation]] = defaultdict(list)
    for allocation in Allocation.objects.filter(
        slurm_account__in={line.account for line in lines if line.account}
    ):
        by_account[allocation.slurm_account].append(allocation)
    partitions = dict(cluster.partitions.values_list("name", "cpus_per_node"))
    default = (
        Partition.objects.filter(cluster=cluster)
        .order_by("-is_default", "name")
        .values_list("cpus_per_node", flat=True)
        .first()
        or 1
    )
    records = []
    touched = set()
    for line in lines:
        job = jobs.get(line.external_id)
        if job is not None:
            allocation_id = job.allocation_id
            user_id = job.user_id
            cpus_per_node = partitions.get(job.partition, default)
        else:
            found = _allocation_for_account(
                by_account.get(line.account, []), cluster, line.end or line.start
            )
            allocation_id = found.pk if found else None
            user_id = people.get(line.username)
            cpus_per_node = default
        if allocation_id is not None:
            touched.add(allocation_id)
        records.append(
            {
                "external_id": line.external_id[:64],
                "step": (line.step or "")[:64],
                "job_id": job.pk if job is not None else None,
                "allocation_id": allocation_id,
                "account": (line.account or "")[:64],
                "username": (line.username or "")[:64],
                "user_id": user_id,
                "start": line.start,
                "end": line.end,
                "elapsed_seconds": max(0, int(line.elapsed_seconds or 0)),
                "gpus": max(0, int(line.gpus or 0)),
                "cpus": max(0, int(line.cpus or 0)),
                "state": (line.state or "")[:20],
                **usage_record_values(line, cluster, cpus_per_node),
            }
        )
    with transaction.atomic():
        _upsert(cluster, records)
        _settle_jobs(lines, jobs, reported)
    return touched


# Written on every read; the key (cluster, external_id, step) and created_at are kept.
UPSERT_FIELDS = [
    "job_id",
    "allocation_id",
    "account",
    "username",
    "user_id",
    "start",
    "end",
    "elapsed_seconds",
    "gpus",
    "cpus",
    "state",
    *SUMMED,
    "updated_at",
]


def _upsert(cluster: Cluster, records: list[dict]) -> None:
    """Insert the records, or update them in place when (cluster, external_id, step) exists.

    PostgreSQL and SQLite: one ``INSERT ... ON CONFLICT DO UPDATE`` run for all the rows
    (executemany), several times faster than bulk_create's compiler for 100,000 records."""
    if not records:
        return
    now = timezone.now()
    for record in records:
        record.update(cluster_id=cluster.pk, updated_at=now)
    if connection.vendor not in ("postgresql", "sqlite"):
        UsageRecord.objects.bulk_create(
            [UsageRecord(**record) for record in records],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["cluster", "external_id", "step"],
            update_fields=[name.removesuffix("_id") if name.endswith("_id") else name
                           for name in UPSERT_FIELDS],
        )  # fmt: skip
        return
    meta = UsageRecord._meta
    quote = connection.ops.quote_name
    names = ["id", "created_at", "cluster_id", "external_id", "step", *UPSERT_FIELDS]
    fields = [meta.get_field(name) for name in names]
    key = ", ".join(quote(meta.get_field(n).column) for n in ("cluster", "external_id", "step"))
    updates = ", ".join(
        f"{quote(meta.get_field(n).column)} = excluded.{quote(meta.get_field(n).column)}"
        for n in UPSERT_FIELDS
    )
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    # The real connection (not the proxy, whose every attribute is a thread-local lookup); plain
    # text and number columns need no conversion.
    real = connections[DEFAULT_DB_ALIAS]
    plain = (models.CharField, models.IntegerField)
    convert = [
        None if isinstance(f, plain) and not f.is_relation else f.get_db_prep_save for f in fields
    ]
    attnames = [f.attname for f in fields]
    rows = []
    for record in records:
        record.update(id=uuid.uuid4(), created_at=now)
        rows.append(
            [
                record[name] if fn is None else fn(record[name], real)
                for name, fn in zip(attnames, convert, strict=True)
            ]
        )
    with real.cursor() as cursor:
        cursor.executemany(sql, rows)


def _settle_jobs(lines: list[UsageLine], jobs: dict[str, Job], reported) -> None:
    """Finished jobs: their final state when the status query no longer reports them (the
    scheduler forgot the job before the portal saw it end), and their efficiency against what
    they asked for."""
    by_job: dict[str, list[UsageLine]] = defaultdict(list)
    for line in lines:
        if line.external_id in jobs:
            by_job[line.external_id].append(line)
    for external_id, job_lines in by_job.items():
        own = next((line for line in job_lines if not line.step), None)
        if own is None or own.state not in FINAL_STATES:
            continue
        seen = jobs[external_id]
        settle = seen.state not in FINAL_STATES and external_id not in reported
        if not settle and _efficiency(seen, own, job_lines) in ({}, seen.efficiency):
            continue  # read again in the overlap: nothing new, no write
        job = Job.objects.select_for_update().get(pk=seen.pk)
        fields = []
        if job.state not in FINAL_STATES and external_id not in reported:
            JobEvent.objects.create(
                job=job,
                from_state=job.state,
                to_state=own.state,
                reason="settled from the accounting",
            )
            job.state = own.state
            job.started_at = job.started_at or own.start
            job.ended_at = job.ended_at or own.end
            if job.exit_code is None and own.state == JobState.COMPLETED:
                job.exit_code = 0
            fields += ["state", "started_at", "ended_at", "exit_code"]
        efficiency = _efficiency(job, own, job_lines)
        if efficiency and efficiency != job.efficiency:
            job.efficiency = efficiency
            fields.append("efficiency")
        if fields:
            job.save(update_fields=[*fields, "updated_at"])


def _efficiency(job: Job, own: UsageLine, job_lines: list[UsageLine]) -> dict:
    """CPU: CPU seconds used / (cores × elapsed); memory: the largest use / what was asked.
    Where the cluster measures GPUs: "gpu", the GPU utilisation (the highest the lines report,
    as a share); "gpu_memory_mb", the largest GPU memory use in MB."""
    result = dict(job.efficiency or {})
    cpu_seconds = own.cpu_seconds_used
    if cpu_seconds is None:
        steps = [line.cpu_seconds_used for line in job_lines if line.step]
        cpu_seconds = (
            sum(s for s in steps if s is not None) if any(s is not None for s in steps) else None
        )
    cores = own.cpus or job.cpus
    if cpu_seconds is not None and own.elapsed_seconds and cores:
        result["cpu"] = round(float(cpu_seconds) / (cores * own.elapsed_seconds), 3)
    peaks = [line.mem_mb_max for line in job_lines if line.mem_mb_max is not None]
    requested = own.mem_mb_requested or job.mem_mb
    if peaks and requested:
        result["memory"] = round(float(max(peaks)) / requested, 3)
    utils = [line.gpu_util_percent for line in job_lines if line.gpu_util_percent is not None]
    if utils:
        result["gpu"] = round(float(max(utils)) / 100, 3)
    gpu_peaks = [line.gpu_mem_mb_max for line in job_lines if line.gpu_mem_mb_max is not None]
    if gpu_peaks:
        result["gpu_memory_mb"] = round(float(max(gpu_peaks)), 1)
    return result


# --- aggregates --------------------------------------------------------------------------------


def _charged(qs):
    """Only the jobs' own lines (see the module's docstring)."""
    return qs.filter(step="")


def _sums(qs) -> dict[str, Decimal]:
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=18, decimal_places=6))
    row = qs.aggregate(**{key: Coalesce(Sum(key), zero) for key in SUMMED})
    return {key: _q(Decimal(str(row[key]))) for key in SUMMED}


def usage_totals(allocation) -> dict[str, Decimal]:
    """Everything the allocation has used, on every cluster."""
    return _sums(_charged(UsageRecord.objects.filter(allocation=allocation)))


def _bounds(first, last) -> tuple[datetime, datetime]:
    """[start of the first day, start of the day after the last) in the local time zone."""
    return (
        timezone.make_aware(datetime.combine(first, time.min)),
        timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min)),
    )


def usage_by_tranche(allocation) -> dict[int, dict[str, Decimal]]:
    """{tranche index: {gpu_hours, cpu_core_hours, billing, ...}}: what ``tranche_available``
    takes as ``used``."""
    records = _charged(UsageRecord.objects.filter(allocation=allocation)).annotate(
        at=Coalesce("end", "start", "created_at")
    )
    result = {}
    for tranche in allocation.tranches.order_by("index"):
        low, high = _bounds(tranche.start, tranche.end)
        result[tranche.index] = _sums(records.filter(at__gte=low, at__lt=high))
    return result


def _records_of(project=None, allocation=None, organisation=None):
    qs = _charged(UsageRecord.objects.all())
    if allocation is not None:
        qs = qs.filter(allocation=allocation)
    if project is not None:
        qs = qs.filter(allocation__project=project)
    if organisation is not None:
        qs = qs.filter(allocation__project__organisation=organisation)
    return qs


def usage_by_user(*, project=None, allocation=None) -> list[dict]:
    """[{user_id, username, gpu_hours, ...}] largest first; records of people the portal does
    not know keep their cluster username."""
    rows = (
        _records_of(project, allocation)
        .values("user_id", "user__email", "username")
        .annotate(**{key: Sum(key) for key in SUMMED})
        .order_by("-billing", "username")
    )
    merged: dict = {}
    for row in rows:
        key = row["user_id"] or row["username"]
        entry = merged.setdefault(
            key,
            {
                "user_id": row["user_id"],
                "email": row["user__email"] or "",
                "username": row["username"],
                **{k: Decimal(0) for k in SUMMED},
            },
        )
        for k in SUMMED:
            entry[k] += Decimal(str(row[k] or 0))
    return sorted(merged.values(), key=lambda e: (-e["billing"], e["username"]))


def _by_period(trunc, *, project=None, allocation=None, since=None) -> list[dict]:
    qs = _records_of(project, allocation).annotate(at=Coalesce("end", "start", "created_at"))
    if since is not None:
        qs = qs.filter(at__gte=since)
    rows = (
        qs.annotate(period=trunc("at", tzinfo=timezone.get_current_timezone()))
        .values("period")
        .annotate(**{key: Sum(key) for key in SUMMED})
        .order_by("period")
    )
    return [
        {"period": row["period"], **{k: _q(Decimal(str(row[k] or 0))) for k in SUMMED}}
        for row in rows
    ]


def usage_by_month(*, project=None, allocation=None, since=None) -> list[dict]:
    """[{period (first day of the month), gpu_hours, ...}] oldest first."""
    rows = _by_period(TruncMonth, project=project, allocation=allocation, since=since)
    for row in rows:
        if isinstance(row["period"], datetime):
            row["period"] = timezone.localtime(row["period"]).date()
    return rows


def usage_by_day(*, project=None, allocation=None, since=None) -> list[dict]:
    """[{period (a date), gpu_hours, ...}] oldest first, days without use left out."""
    return _by_period(TruncDate, project=project, allocation=allocation, since=since)


def energy_for_job(job: Job) -> dict[str, Decimal]:
    return _sums(_charged(UsageRecord.objects.filter(job=job)))


def energy_for_project(project) -> dict[str, Decimal]:
    return _sums(_records_of(project=project))


def energy_for_organisation(organisation) -> dict[str, Decimal]:
    return _sums(_records_of(organisation=organisation))


# --- alerts ------------------------------------------------------------------------------------


def _language(user) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    language = getattr(user, "preferred_language", "") or ""
    return language if language in known else settings.LANGUAGE_CODE


def budget_alerts(allocation, today=None) -> list[BudgetAlert]:
    """Record the thresholds (75, 90, 100% of the current tranche's GPU and CPU core hours) the
    allocation has crossed, once each, and mail the project's PI and managers on commit.

    The share used is used / (used + available), so hours carried over from earlier months
    count as part of the tranche."""
    today = today or timezone.localdate()
    tranche = tranche_current(allocation, today)
    if tranche is None:
        return []
    used_by = usage_by_tranche(allocation)
    available = tranche_available(allocation, today, used_by)
    used_now = used_by.get(tranche.index, {})
    created: list[tuple[BudgetAlert, Decimal, Decimal]] = []
    with transaction.atomic():
        for resource in BUDGET_RESOURCES:
            if resource not in available:
                continue
            used = used_now.get(resource, Decimal(0))
            total = used + Decimal(str(available[resource]))
            if total <= 0:
                continue
            percent = used * 100 / total
            for threshold in ALERT_THRESHOLDS:
                if percent < threshold:
                    break
                alert, new = BudgetAlert.objects.get_or_create(
                    allocation=allocation,
                    tranche=tranche,
                    resource=resource,
                    threshold=threshold,
                )
                if new:
                    created.append((alert, used, total))
        if created:
            _mail_alerts(allocation, created)
    return [alert for alert, _u, _t in created]


def _mail_alerts(allocation, created) -> None:
    project = allocation.project
    people = [
        m.user
        for m in project.members.filter(role__in=[MemberRole.PI, MemberRole.MANAGER])
        .select_related("user")
        .order_by("role")
        if m.user.email and m.user.is_active
    ]
    # One message per resource, about the highest threshold crossed now.
    highest: dict[str, tuple] = {}
    for alert, used, total in created:
        if alert.resource not in highest or alert.threshold > highest[alert.resource][0].threshold:
            highest[alert.resource] = (alert, used, total)
    outgoing = []
    for person in people:
        with translation.override(_language(person)):
            for alert, used, total in highest.values():
                label = str(dict(Resource.choices)[alert.resource])
                subject = _("Project %(code)s has used %(percent)d%% of its %(resource)s") % {
                    "code": project.code,
                    "percent": alert.threshold,
                    "resource": label,
                }
                lines = [
                    _(
                        "Project %(code)s (%(title)s) has used %(used)s of %(total)s %(resource)s "
                        "in the current period."
                    )
                    % {
                        "code": project.code,
                        "title": project.title,
                        "used": f"{used:.2f}",
                        "total": f"{total:.2f}",
                        "resource": label,
                    }
                ]
                if alert.threshold >= 100:
                    lines.append(
                        _(
                            "New jobs that need these hours are refused until the next period "
                            "starts or the allocation grows."
                        )
                    )
                outgoing.append((subject, "\n\n".join(lines), [person.email]))

    def send():
        for subject, body, to in outgoing:
            mail_send(subject=subject, body=body, to=to)

    transaction.on_commit(send)
