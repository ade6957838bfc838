"""Jobs: cost and budget, submission with its checks, dispatch to the backend with retries,
cancellation and resubmission.

A job is written as ``pending_submission`` first and handed to the backend after the commit, so a
scheduler that is down never loses a job and never leaves a half-written one: the job stays
``pending_submission`` and the status sync retries it with backoff (15 s, 30 s, ... up to 10
minutes). A scheduler that answers no fails the job with its reason. Every attempt but the first
asks the backend whether the job is there already (``find``: its job key and user), so a
submission the scheduler accepted just before the portal stopped, or whose answer was lost, is
adopted rather than submitted twice.

Budget: a job may cost at most GPUs × time limit GPU hours and CPUs × time limit CPU core hours.
For each of the two that the allocation grants, that must fit in what its current tranche still
holds minus what the allocation's running and queued jobs can still use (their maximum minus what
they used so far). A resource the allocation does not grant is not limited, as in Slurm where an
account without a GPU limit is not stopped for GPUs.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.access.models import AllocationStatus, ProjectStatus, Resource
from aifactory.access.services.projects_tranches import tranche_available, tranche_current
from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.permissions import allowed, require_actor
from aifactory.core.services import audit_record

from ..backends.base import BackendError, BackendRefused, BackendUnavailable, JobSpec
from ..models import (
    FINAL_STATES,
    Cluster,
    ClusterAccount,
    Job,
    JobEvent,
    JobState,
    Partition,
    UsageRecord,
)
from .clusters import _whole
from .job_datasets import job_datasets_inputs, job_datasets_record, job_datasets_resolve
from .provisioning import job_provision

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIVE_STATES",
    "job_cost",
    "job_budget",
    "budget_problems",
    "job_submit",
    "job_dispatch_now",
    "job_cancel",
    "job_resubmit",
    "job_transition",
    "job_workdir",
]

ACTIVE_STATES = (JobState.PENDING_SUBMISSION, JobState.PENDING, JobState.RUNNING)
BUDGET_RESOURCES = (Resource.GPU_HOURS, Resource.CPU_CORE_HOURS)
REFERENCE_ATTEMPTS = 20
SCRIPT_MAX = 100_000
NAME_MAX = 100
KEY_MAX = 100
BACKOFF_FIRST = 15  # seconds; doubles at every failed attempt
BACKOFF_MAX = 600
# While one process hands a job to the backend, others leave it alone for this long: longer than
# the slowest attempt (find, provision and submit, each bounded by the backend's timeout).
DISPATCH_LEASE = timedelta(minutes=5)
# Stored (in plain English like the schedulers' reasons) when a retry finds the job submitted.
ADOPTED_REASON = "found in the scheduler after an interrupted submission"
PLACES = Decimal("0.000001")


# --- cost and budget ---------------------------------------------------------------------------


def job_cost(gpus: int, cpus: int, minutes: int, cluster: Cluster) -> dict[str, Decimal]:
    """The most a job can cost: {gpu_hours, cpu_core_hours, billing}."""
    hours = Decimal(int(minutes)) / Decimal(60)
    gpu_hours = (int(gpus) * hours).quantize(PLACES)
    cpu_core_hours = (int(cpus) * hours).quantize(PLACES)
    billing = gpu_hours * cluster.rate_gpu_hour + cpu_core_hours * cluster.rate_cpu_hour
    return {
        "gpu_hours": gpu_hours,
        "cpu_core_hours": cpu_core_hours,
        "billing": billing.quantize(PLACES),
    }


def _jsonable_cost(cost: dict[str, Decimal]) -> dict[str, float]:
    return {key: float(value) for key, value in cost.items()}


def _reserved(allocation) -> dict[str, Decimal]:
    """What the allocation's running and queued jobs can still use."""
    jobs = list(allocation.jobs.filter(state__in=ACTIVE_STATES).values_list("pk", "max_cost"))
    if not jobs:
        return {r: Decimal(0) for r in BUDGET_RESOURCES}
    used = {
        row["job_id"]: row
        for row in UsageRecord.objects.filter(job_id__in=[pk for pk, _c in jobs], step="")
        .values("job_id")
        .annotate(gpu_hours=Sum("gpu_hours"), cpu_core_hours=Sum("cpu_core_hours"))
    }
    reserved = {r: Decimal(0) for r in BUDGET_RESOURCES}
    for pk, max_cost in jobs:
        for resource in BUDGET_RESOURCES:
            most = Decimal(str((max_cost or {}).get(resource, 0)))
            so_far = Decimal(str(used.get(pk, {}).get(resource) or 0))
            reserved[resource] += max(Decimal(0), most - so_far)
    return reserved


def job_budget(allocation, today=None) -> dict[str, dict[str, Decimal]]:
    """Per resource the allocation grants: {"used" (in the current tranche), "available" (what
    the tranche still holds, carry-over included), "reserved" (what running and queued jobs can
    still use), "remaining" (available − reserved, never below 0), "percent" (used of used +
    available)}. Empty outside the allocation's period."""
    from .usage import usage_by_tranche

    today = today or timezone.localdate()
    tranche = tranche_current(allocation, today)
    if tranche is None:
        return {}
    used_by = usage_by_tranche(allocation)
    available = tranche_available(allocation, today, used_by)
    reserved = _reserved(allocation)
    used_now = used_by.get(tranche.index, {})
    result = {}
    for resource in BUDGET_RESOURCES:
        if resource not in available:
            continue
        avail = Decimal(str(available[resource]))
        used = used_now.get(resource, Decimal(0))
        total = used + avail
        result[resource] = {
            "used": used,
            "available": avail,
            "reserved": reserved[resource],
            "remaining": max(Decimal(0), avail - reserved[resource]),
            "percent": (used * 100 / total).quantize(Decimal("0.1")) if total else Decimal(0),
        }
    return result


def budget_problems(allocation, cost: dict[str, Decimal], today=None) -> list[str]:
    """Why a job of this cost does not fit in the allocation's budget today, one sentence per
    resource, with the numbers; empty when it fits. The submission form previews the same."""
    labels = dict(Resource.choices)
    problems = []
    for resource, numbers in job_budget(allocation, today).items():
        need = cost[resource]
        if need > 0 and need > numbers["remaining"]:
            problems.append(
                _(
                    "%(resource)s: the job may use up to %(need)s, but only %(remaining)s remain "
                    "(%(available)s left in the current period, %(reserved)s held by running and "
                    "queued jobs)."
                )
                % {
                    "resource": labels[resource],
                    "need": f"{need:.2f}",
                    "remaining": f"{numbers['remaining']:.2f}",
                    "available": f"{numbers['available']:.2f}",
                    "reserved": f"{numbers['reserved']:.2f}",
                }
            )
    return problems


def _check_budget(allocation, cost: dict[str, Decimal], today) -> None:
    problems = budget_problems(allocation, cost, today)
    if problems:
        raise ServiceError(
            _("The job does not fit in the allocation's budget.") + " " + " ".join(problems),
            field="time_limit_minutes",
        )


# --- submission --------------------------------------------------------------------------------


def _next_reference(year: int) -> str:
    """One more than the highest number of the year (by length, then text). The unique index
    makes a concurrent creator who took the same number fail, and the caller tries again."""
    prefix = f"J-{year}-"
    last = (
        Job.objects.filter(reference__startswith=prefix)
        .annotate(size=Length("reference"))
        .order_by("-size", "-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:05d}"


def job_workdir(cluster: Cluster, reference: str) -> str:
    """The job's working folder on the cluster, as its backend decides (``workdir_for``)."""
    from ..backends import backend_for

    try:
        return backend_for(cluster).workdir_for(reference)
    except (BackendError, AttributeError, ImportError):
        return ""


def _render_template(template: str, params) -> tuple[str, dict]:
    try:
        from .. import job_templates
    except ImportError:
        raise ValidationError({"template": _("Templates are not available here.")}) from None
    if params is not None and not isinstance(params, dict):
        raise ValidationError({"params": _("Give the parameters as {name: value}.")})
    rendered = job_templates.render(template, params or {})
    # A template may also suggest resources: (script, {"gpus": .., "time_limit_minutes": ..}).
    return rendered if isinstance(rendered, tuple) else (rendered, {})


def _live_allocation(project, cluster: Cluster, today):
    allocation = (
        project.allocations.filter(
            status=AllocationStatus.ACTIVE,
            start__lte=today,
            end__gte=today,
            cluster=cluster.name,
        )
        .order_by("start")
        .first()
    )
    if allocation is None:
        raise ServiceError(
            _("Project %(project)s has no active allocation on the cluster %(cluster)s today.")
            % {"project": project.code, "cluster": cluster.name},
            field="cluster",
        )
    return allocation


def _partition(cluster: Cluster, name: str) -> Partition:
    if name:
        partition = cluster.partitions.filter(name=name).first()
        if partition is None:
            known = ", ".join(cluster.partitions.values_list("name", flat=True)) or "—"
            raise ValidationError(
                {
                    "partition": _("The cluster %(cluster)s has no partition %(name)s (%(known)s).")
                    % {"cluster": cluster.name, "name": name, "known": known}
                }
            )
        return partition
    partition = cluster.partitions.order_by("-is_default", "name").first()
    if partition is None:
        raise ServiceError(
            _("The cluster %(cluster)s has no partition yet.") % {"cluster": cluster.name},
            field="partition",
        )
    return partition


def _fits(partition: Partition, gpus: int, cpus: int, mem_mb: int, minutes: int) -> None:
    limits = [
        ("gpus", gpus, partition.gpus_per_node, _("GPUs")),
        ("cpus", cpus, partition.cpus_per_node, _("CPU cores")),
        ("mem_mb", mem_mb, partition.mem_gb_per_node * 1024, _("memory (MB)")),
        ("time_limit_minutes", minutes, partition.max_time_minutes, _("time limit (minutes)")),
    ]
    for field, asked, most, label in limits:
        if asked > most:
            raise ValidationError(
                {
                    field: _(
                        "The partition %(partition)s offers at most %(most)d %(what)s per job "
                        "(%(asked)d asked)."
                    )
                    % {"partition": partition.name, "most": most, "what": label, "asked": asked}
                }
            )


def _text(field: str, value, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationError({field: _("Enter a text.")})
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(
            {
                field: _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)}
            }
        )
    return value


def job_submit(
    *,
    actor,
    project,
    cluster: Cluster,
    script: str | None = None,
    template: str | None = None,
    params: dict | None = None,
    partition: str = "",
    gpus=None,
    cpus=None,
    mem_mb=None,
    time_limit_minutes=None,
    name: str = "",
    idempotency_key: str = "",
    user=None,
    resubmitted_from: Job | None = None,
    datasets: list[str] | None = None,
) -> Job:
    """Submit a job for ``actor`` (or, when the system submits, for ``user``) to the project's
    live allocation on the cluster, after every check; hand it to the backend after the commit.

    Either a ``script`` or a ``template`` with ``params``: a template's defaults fill GPUs, CPUs,
    memory, time limit and name that were not given. The same ``idempotency_key`` from the same
    person returns the job it made the first time. Refusals name the field; a budget refusal shows
    the numbers. ``datasets`` ("slug" or "slug@N") must be readable by the person: each use is
    logged for the dataset's publisher."""
    require_actor(actor, "job.submit", project)
    person = actor if actor is not None else user
    if person is None:
        raise ValidationError({"user": _("Name the person the job runs for.")})
    if actor is None and not allowed(person, "job.submit", project):
        raise PermissionDenied("job.submit")
    key = _text("idempotency_key", idempotency_key, KEY_MAX)
    if key:
        existing = Job.objects.filter(user=person, idempotency_key=key).first()
        if existing is not None:
            return existing
    if project.status != ProjectStatus.ACTIVE:
        raise ServiceError(_("This project is closed."), field="project")
    if not cluster.is_active:
        raise ServiceError(
            _("The cluster %(cluster)s is not taking jobs.") % {"cluster": cluster.name},
            field="cluster",
        )
    today = timezone.localdate()
    allocation = _live_allocation(project, cluster, today)
    account = ClusterAccount.objects.filter(cluster=cluster, user=person).first()
    if account is None:
        raise ServiceError(
            _(
                "You have no username on the cluster %(cluster)s yet; ask the operators to map "
                "your account."
            )
            % {"cluster": cluster.name},
            field="cluster",
        )

    defaults: dict = {}
    if bool(script) == bool(template):
        raise ValidationError({"script": _("Give either a script or a template.")})
    if template:
        template = _text("template", template, 50)
        script, defaults = _render_template(template, params)
        params = dict(params or {})
    else:
        params = {}
    if not isinstance(script, str) or "\x00" in script or not script.strip():
        raise ValidationError({"script": _("This field cannot be empty.")})
    if len(script) > SCRIPT_MAX:
        raise ValidationError(
            {
                "script": _("At most %(limit)d characters (%(count)d given).")
                % {"limit": SCRIPT_MAX, "count": len(script)}
            }
        )

    def pick(field, given, fallback):
        value = given if given is not None else defaults.get(field, fallback)
        if value is None:
            raise ValidationError({field: _("This field is required.")})
        return value

    gpus = _whole("gpus", pick("gpus", gpus, 0), high=1000)
    cpus = _whole("cpus", pick("cpus", cpus, 1), low=1, high=100_000)
    mem_mb = _whole("mem_mb", pick("mem_mb", mem_mb, 1024), low=1, high=10**9)
    minutes = _whole(
        "time_limit_minutes",
        pick("time_limit_minutes", time_limit_minutes, None),
        low=1,
        high=10**7,
    )
    name = _text("name", name, NAME_MAX) or _text(
        "name", str(defaults.get("name") or template or "job"), NAME_MAX
    )
    chosen = _partition(cluster, _text("partition", partition, 50))
    _fits(chosen, gpus, cpus, mem_mb, minutes)
    cost = job_cost(gpus, cpus, minutes, cluster)
    reads = job_datasets_resolve(person, datasets)

    job = Job(
        project=project,
        allocation=allocation,
        cluster=cluster,
        partition=chosen.name,
        user=person,
        username=account.username,
        name=name,
        template=template or "",
        params=params,
        script=script,
        gpus=gpus,
        cpus=cpus,
        mem_mb=mem_mb,
        time_limit_minutes=minutes,
        max_cost=_jsonable_cost(cost),
        idempotency_key=key,
        state=JobState.PENDING_SUBMISSION,
        resubmitted_from=resubmitted_from,
        datasets=reads,
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            # One submission at a time per allocation, so two jobs cannot share the last hours.
            type(allocation).objects.select_for_update().get(pk=allocation.pk)
            _check_budget(allocation, cost, today)
            _save_with_reference(job, now)
            job.workdir = job_workdir(cluster, job.reference)
            job.save(update_fields=["workdir"])
            JobEvent.objects.create(
                job=job, from_state="", to_state=JobState.PENDING_SUBMISSION, actor=_person(actor)
            )
            job_datasets_record(person, job)
            audit_record(
                actor=actor,
                action="job.submit",
                obj=job,
                organisation_id=project.organisation_id,
                changes={
                    "project": project.code,
                    "cluster": cluster.name,
                    "partition": chosen.name,
                    "user": person.pk,
                    "username": account.username,
                    "template": template or "",
                    "gpus": gpus,
                    "cpus": cpus,
                    "mem_mb": mem_mb,
                    "time_limit_minutes": minutes,
                    "max_cost": job.max_cost,
                    "resubmitted_from": resubmitted_from.reference if resubmitted_from else "",
                    "datasets": [f"{d['slug']}@{d['version']}" for d in reads],
                },
            )
            transaction.on_commit(lambda: job_dispatch_now(job), robust=True)
    except IntegrityError:
        if key:
            existing = Job.objects.filter(user=person, idempotency_key=key).first()
            if existing is not None:
                return existing
        raise
    return job


def _person(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _save_with_reference(job: Job, now) -> None:
    for _attempt in range(REFERENCE_ATTEMPTS):
        job.reference = _next_reference(timezone.localdate(now).year)
        try:
            with transaction.atomic():
                job.save(force_insert=True)
            return
        except IntegrityError:
            if not Job.objects.filter(reference=job.reference).exists():
                raise  # not the reference: the idempotency key, handled by the caller
            job.pk = Job._meta.pk.default()
    raise ServiceError(_("Too many jobs are being submitted right now; try again."))


# --- transitions and dispatch ------------------------------------------------------------------


def job_transition(job: Job, to_state: str, *, reason: str = "", actor=None, **fields) -> bool:
    """Move the (locked) job to a state with a JobEvent, and set the other fields given.
    Returns whether anything changed. Inside the caller's transaction."""
    changed = []
    from_state = job.state
    if to_state != from_state:
        job.state = to_state
        changed.append("state")
    reason = (reason or "")[:200]
    if reason != job.reason:
        job.reason = reason
        changed.append("reason")
    for key, value in fields.items():
        if getattr(job, key) != value:
            setattr(job, key, value)
            changed.append(key)
    if not changed:
        return False
    job.save(update_fields=[*changed, "updated_at"])
    if to_state != from_state:
        JobEvent.objects.create(
            job=job, from_state=from_state, to_state=to_state, reason=reason, actor=_person(actor)
        )
    return True


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, attempts - 1)))


def _spec(job: Job) -> JobSpec:
    inputs, data_env = job_datasets_inputs(job)
    return JobSpec(
        job_key=job.reference,
        username=job.username,
        account=job.allocation.slurm_account,
        partition=job.partition,
        script=job.script,
        gpus=job.gpus,
        cpus=job.cpus,
        mem_mb=job.mem_mb,
        time_limit_minutes=job.time_limit_minutes,
        workdir=job.workdir,
        environment={
            "AIFACTORY_JOB": job.reference,
            "AIFACTORY_PROJECT": job.project.code,
            **data_env,
        },
        inputs=inputs,
    )


def job_dispatch_now(job: Job, now=None) -> Job:
    """Hand a ``pending_submission`` job to its backend, once: a job another process is handing
    over right now, or whose next attempt is not due, is left alone. Never raises for the
    backend's errors: unavailable → retried later with backoff; refused → failed with the
    reason. Updates ``job`` in place and returns it."""
    _dispatch(job, now or timezone.now())
    job.refresh_from_db()
    return job


def _dispatch(job: Job, now) -> Job:
    from ..backends import backend_for

    waiting = Job.objects.filter(pk=job.pk, state=JobState.PENDING_SUBMISSION)
    before = waiting.values("next_attempt_at", "submit_attempts").first()
    if before is None or (before["next_attempt_at"] and before["next_attempt_at"] > now):
        return job
    # Claimed only if nobody claimed it since we looked (compare and set on next_attempt_at).
    previous = before["next_attempt_at"]
    if previous is None:
        waiting = waiting.filter(next_attempt_at__isnull=True)
    else:
        waiting = waiting.filter(next_attempt_at=previous)
    claimed = waiting.update(next_attempt_at=now + DISPATCH_LEASE)
    if not claimed:
        return job
    # Not the first attempt (an earlier one failed, or its process stopped before recording the
    # result and the lease ran out): the scheduler may already hold the job, so look first.
    retry = previous is not None or before["submit_attempts"] > 0
    job = Job.objects.select_related("allocation", "project", "cluster").get(pk=job.pk)
    try:
        backend = backend_for(job.cluster)
        external_id = _find_submitted(backend, job) if retry else None
        adopted = external_id is not None
        if not adopted:
            _provision_first(job)
            external_id = backend.submit(_spec(job))
    except BackendRefused as exc:
        return _dispatch_refused(job, str(exc), now)
    except BackendUnavailable as exc:
        return _dispatch_later(job, str(exc), now)
    except BackendError as exc:
        return _dispatch_later(job, str(exc), now)
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        ours = str(external_id)[:64]
        if locked.state != JobState.PENDING_SUBMISSION:
            if locked.external_id == ours:
                return locked  # a later attempt adopted this very job
            if locked.external_id:
                # A later attempt (our lease ran out) handed over another job: ours is one too many.
                _cancel_quietly(locked, ours)
                return locked
            # Cancelled while it was being handed over: cancel it in the scheduler too.
            locked.external_id = ours
            locked.save(update_fields=["external_id", "updated_at"])
            _cancel_quietly(locked)
            return locked
        job_transition(
            locked,
            JobState.PENDING,
            reason=ADOPTED_REASON if adopted else "",
            submitted_at=timezone.now(),
            external_id=str(external_id)[:64],
            next_attempt_at=None,
            last_error="",
            submit_attempts=locked.submit_attempts + 1,
        )
    if adopted:
        logger.warning(
            "job %s: adopted scheduler job %s from an interrupted submission",
            locked.reference,
            locked.external_id,
        )
    return locked


def _find_submitted(backend, job: Job) -> str | None:
    """The scheduler's id of this job if an earlier attempt already handed it over (its job key
    and user, in the allocation's account, submitted since the job was written, with a minute
    for clocks that differ)."""
    found = backend.find(
        job.reference,
        job.username,
        account=job.allocation.slurm_account,
        since=job.created_at - timedelta(minutes=1),
    )
    return str(found) if found else None


def _dispatch_later(job: Job, error: str, now) -> Job:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state != JobState.PENDING_SUBMISSION:
            return locked
        attempts = locked.submit_attempts + 1
        locked.submit_attempts = attempts
        locked.next_attempt_at = now + _backoff(attempts)
        locked.last_error = error[:2000]
        # Stored, so in plain English like the schedulers' own reasons.
        locked.reason = "The cluster could not be reached; trying again."
        locked.save(
            update_fields=[
                "submit_attempts",
                "next_attempt_at",
                "last_error",
                "reason",
                "updated_at",
            ]
        )
    logger.warning("job %s not submitted (attempt %d): %s", locked.reference, attempts, error)
    return locked


def _dispatch_refused(job: Job, error: str, now) -> Job:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state != JobState.PENDING_SUBMISSION:
            return locked
        job_transition(
            locked,
            JobState.FAILED,
            reason=error,
            last_error=error[:2000],
            next_attempt_at=None,
            ended_at=timezone.now(),
            submit_attempts=locked.submit_attempts + 1,
        )
    return locked


def _provision_first(job: Job) -> None:
    """The job's account and user on the scheduler before its first submission. Unreachable:
    retried later like a submission; any other failure is logged and the job submitted anyway
    (where the account is set up by other means, the scheduler is the judge)."""
    try:
        job_provision(job)
    except BackendUnavailable:
        raise
    except Exception as exc:
        logger.warning("job %s: its account was not provisioned first: %s", job.reference, exc)


def _cancel_quietly(job: Job, external_id: str = "") -> None:
    from ..backends import backend_for

    try:
        backend_for(job.cluster).cancel(external_id or job.external_id, job.username)
    except BackendError as exc:
        logger.warning("could not cancel %s in the scheduler: %s", job.reference, exc)


# --- cancel and resubmit -----------------------------------------------------------------------


def job_cancel(*, actor, job: Job) -> Job:
    """Cancel a job. One still waiting to be submitted is cancelled here; otherwise the
    scheduler is asked and the state follows from its answer (at once where it reports it, or at
    the next sync)."""
    from ..backends import backend_for

    require_actor(actor, "job.cancel", job)
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state in FINAL_STATES:
            raise InvalidTransition(
                _("Job %(ref)s has already ended (%(state)s).")
                % {"ref": locked.reference, "state": JobState(locked.state).label}
            )
        if locked.state == JobState.PENDING_SUBMISSION and not locked.external_id:
            job_transition(
                locked,
                JobState.CANCELLED,
                reason="cancelled before it reached the scheduler",
                actor=actor,
                ended_at=timezone.now(),
                next_attempt_at=None,
            )
            audit_record(
                actor=actor,
                action="job.cancel",
                obj=locked,
                organisation_id=locked.project.organisation_id,
                changes={"state": JobState.PENDING_SUBMISSION},
            )
            return locked
    backend = backend_for(locked.cluster)
    try:
        backend.cancel(locked.external_id, locked.username)
    except BackendUnavailable as exc:
        raise ServiceError(
            _("The cluster could not be reached; try again in a moment. (%(error)s)")
            % {"error": exc}
        ) from exc
    except BackendError as exc:
        raise ServiceError(
            _("The cluster refused to cancel the job: %(error)s") % {"error": exc}
        ) from exc
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        audit_record(
            actor=actor,
            action="job.cancel",
            obj=locked,
            organisation_id=locked.project.organisation_id,
            changes={"state": locked.state, "external_id": locked.external_id},
        )
    # Where the scheduler already knows, show the new state now rather than at the next sync.
    try:
        status = backend.statuses([locked.external_id]).get(locked.external_id)
    except BackendError:
        status = None
    if status is not None:
        from .sync import job_apply_status

        locked = job_apply_status(locked, status)
    return locked


def job_resubmit(*, actor, job: Job, idempotency_key: str = "") -> Job:
    """A new job with the same request (the budget is checked again)."""
    require_actor(actor, "job.view", job)
    kwargs = {
        "gpus": job.gpus,
        "cpus": job.cpus,
        "mem_mb": job.mem_mb,
        "time_limit_minutes": job.time_limit_minutes,
        "partition": job.partition,
        "name": job.name,
        "datasets": [f"{d['slug']}@{d['version']}" for d in job.datasets],
    }
    if job.template:
        kwargs.update(template=job.template, params=job.params)
    else:
        kwargs["script"] = job.script
    return job_submit(
        actor=actor,
        project=job.project,
        cluster=job.cluster,
        user=job.user if actor is None else None,
        idempotency_key=idempotency_key,
        resubmitted_from=job,
        **kwargs,
    )
