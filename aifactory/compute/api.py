"""Compute under /api/v1: clusters (operators configure them), jobs (members of a project with a
live allocation submit, watch, cancel and resubmit them) and a project's usage with its budget,
energy and a CSV export.

Handlers stay thin: the services check and write, the selectors answer 404 for what the person
may not see. A repeated ``idempotency_key`` (body or ``Idempotency-Key`` header) returns the job
the first request made, with 200 instead of 201, so a client retrying after a timeout never
submits twice."""

import contextlib
import csv
import io
import json
import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import ValidationError as PydanticValidationError

from aifactory.access import projects_selectors
from aifactory.access.models import AllocationStatus
from aifactory.core.errors import NotFound, ServiceError
from aifactory.core.permissions import require

from . import job_templates, selectors, services
from .backends.base import BackendError, BackendUnavailable
from .cli_clusters import parse_mem, parse_time
from .models import Cluster, ClusterAccount, JobState, UsageRecord
from .schemas import (
    AccountIn,
    AccountOut,
    ClusterIn,
    ClusterOut,
    JobDetailOut,
    JobIn,
    JobOut,
    LogsOut,
    PartitionIn,
    PartitionOut,
    ResubmitIn,
    TemplateOut,
    UsageOut,
    energy_rates,
)
from .services.usage import SUMMED, energy_for_job

router = Router(tags=["compute"])

TAIL_DEFAULT = 10_000  # bytes of each log
TAIL_MAX = 1_000_000
CSV_COLUMNS = (
    "job",
    "external_id",
    "step",
    "user",
    "username",
    "start",
    "end",
    "gpu_hours",
    "cpu_core_hours",
    "billing",
    "energy_kwh",
    "co2_kg",
)
ENERGY_FORMULA = (
    "kWh = (GPU hours × gpu_watts + cpus / cpus_per_node × hours × node_watts) × pue / 1000; "
    "kg CO2e = kWh × grid_g_co2_per_kwh / 1000"
)


RESUBMIT_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"idempotency_key": {"type": "string", "maxLength": 100}},
                    "additionalProperties": False,
                }
            }
        },
    }
}


class Unreachable(ServiceError):
    status = 503


# --- clusters ----------------------------------------------------------------------------------


@router.get("/clusters", response=list[ClusterOut], summary="Clusters with partitions and rates")
def clusters_list(request: HttpRequest):
    return list(selectors.clusters_visible(request.user).prefetch_related("partitions"))


@router.post("/clusters", response={201: ClusterOut}, summary="Add a cluster (operators)")
def clusters_create(request: HttpRequest, payload: ClusterIn):
    require(request.user, "cluster.manage")
    cluster = services.cluster_create(actor=request.user, **payload.dict())
    return Status(201, cluster)


@router.get("/clusters/{name}", response=ClusterOut, summary="One cluster")
def cluster_read(request: HttpRequest, name: str):
    return selectors.cluster_get(request.user, name)


@router.post(
    "/clusters/{name}/partitions",
    response={200: PartitionOut, 201: PartitionOut},
    summary="Add or replace a partition (operators)",
)
def cluster_partition_set(request: HttpRequest, name: str, payload: PartitionIn):
    cluster = selectors.cluster_get(request.user, name)
    require(request.user, "cluster.manage", cluster)
    new = not cluster.partitions.filter(name=payload.name.strip()).exists()
    partition = services.partition_set(actor=request.user, cluster=cluster, **payload.dict())
    return Status(201 if new else 200, partition)


@router.post(
    "/clusters/{name}/accounts",
    response={200: AccountOut, 201: AccountOut},
    summary="Map a person (by e-mail) to their cluster username (operators)",
)
def cluster_account_set(request: HttpRequest, name: str, payload: AccountIn):
    cluster = selectors.cluster_get(request.user, name)
    require(request.user, "cluster.manage", cluster)
    person = (
        get_user_model().objects.filter(email__iexact=payload.email.strip(), is_active=True).first()
    )
    if person is None:
        raise ValidationError({"email": _("No one on the hub has this address.")})
    new = not ClusterAccount.objects.filter(cluster=cluster, user=person).exists()
    account = services.cluster_account_set(
        actor=request.user, cluster=cluster, user=person, username=payload.username
    )
    return Status(201 if new else 200, account)


# --- jobs --------------------------------------------------------------------------------------


def _project(user, key: str):
    """The project named in the body; 404 naming the field when missing or not visible."""
    try:
        return projects_selectors.project_get(user, key)
    except Http404:
        raise NotFound(_("No such project."), field="project") from None


def _cluster(user, name: str) -> Cluster:
    try:
        return selectors.cluster_get(user, name)
    except Http404:
        raise NotFound(_("No such cluster."), field="cluster") from None


def _mem_mb(payload: JobIn) -> int | None:
    if payload.mem is not None and payload.mem_mb is not None:
        raise ValidationError({"mem": _("Give either mem or mem_mb, not both.")})
    if payload.mem is None:
        return payload.mem_mb
    if isinstance(payload.mem, int):
        return payload.mem
    try:
        return parse_mem(payload.mem, "mem")
    except CommandError:
        raise ValidationError(
            {"mem": _("Use a size such as 16G or 512M, or a number of MB.")}
        ) from None


def _minutes(payload: JobIn) -> int | None:
    if payload.time is not None and payload.time_limit_minutes is not None:
        raise ValidationError({"time": _("Give either time or time_limit_minutes, not both.")})
    if payload.time is None:
        return payload.time_limit_minutes
    try:
        return parse_time(payload.time, "time")
    except CommandError:
        raise ValidationError(
            {"time": _("Use minutes, HH:MM:SS or D-HH:MM:SS, such as 90, 2:00:00 or 1-12:00:00.")}
        ) from None


def _key(request: HttpRequest, given: str) -> str:
    return given or request.headers.get("Idempotency-Key", "")


def _created_or_found(job, since):
    """201 for a job made by this request, 200 for the one an earlier request with the same
    idempotency key made."""
    return Status(201 if job.created_at >= since else 200, _detail(job))


def _detail(job):
    """The job with its energy (from its usage records) for JobDetailOut."""
    job.energy = energy_for_job(job)
    return job


@router.get("/jobs", response=list[JobOut], summary="Jobs I may see, newest first")
@paginate(LimitOffsetPagination, max_limit=500)
def jobs_list(request: HttpRequest, project: str = "", state: str = "", cluster: str = ""):
    jobs = selectors.jobs_visible(request.user)
    if project:
        lookup = Q(project__code=project.strip())
        with contextlib.suppress(ValueError):
            lookup |= Q(project_id=uuid.UUID(project.strip()))
        jobs = jobs.filter(lookup)
    if state:
        if state not in JobState.values:
            raise ValidationError(
                {"state": _("Choose one of: %(values)s.") % {"values": ", ".join(JobState.values)}}
            )
        jobs = jobs.filter(state=state)
    if cluster:
        jobs = jobs.filter(cluster__name=cluster.strip())
    return jobs.order_by("-created_at")


@router.post(
    "/jobs",
    response={200: JobDetailOut, 201: JobDetailOut},
    summary="Submit a job (members of a project with a live allocation)",
)
def jobs_submit(request: HttpRequest, payload: JobIn):
    """201 with the new job; 200 with the earlier job when the idempotency key repeats; 409 when
    the job does not fit in the budget (the message gives the numbers)."""
    project = _project(request.user, payload.project)
    cluster = _cluster(request.user, payload.cluster)
    mem_mb = _mem_mb(payload)
    minutes = _minutes(payload)
    since = timezone.now()
    job = services.job_submit(
        actor=request.user,
        project=project,
        cluster=cluster,
        script=payload.script,
        template=payload.template,
        params=payload.params,
        partition=payload.partition,
        gpus=payload.gpus,
        cpus=payload.cpus,
        mem_mb=mem_mb,
        time_limit_minutes=minutes,
        name=payload.name,
        idempotency_key=_key(request, payload.idempotency_key),
        datasets=payload.datasets,
    )
    return _created_or_found(job, since)


@router.get(
    "/jobs/templates", response=list[TemplateOut], summary="Job templates and their parameters"
)
def job_templates_list(request: HttpRequest):
    return [t.as_dict() for t in job_templates.templates()]


@router.get(
    "/jobs/{ref}",
    response=JobDetailOut,
    summary="One job: state history, reason, node, times, exit code, cost, efficiency, energy",
)
def job_read(request: HttpRequest, ref: str):
    return _detail(selectors.job_get(request.user, ref))


@router.post("/jobs/{ref}/cancel", response=JobDetailOut, summary="Cancel a job")
def job_cancel(request: HttpRequest, ref: str):
    job = selectors.job_get(request.user, ref)
    return _detail(services.job_cancel(actor=request.user, job=job))


@router.post(
    "/jobs/{ref}/resubmit",
    response={200: JobDetailOut, 201: JobDetailOut},
    summary="Submit the same request again (the budget is checked again)",
    openapi_extra=RESUBMIT_BODY,
)
def job_resubmit(request: HttpRequest, ref: str):
    """The body is optional: ``{"idempotency_key": "…"}`` (or the ``Idempotency-Key`` header)."""
    job = selectors.job_get(request.user, ref)
    payload = _optional_body(request, ResubmitIn)
    since = timezone.now()
    new = services.job_resubmit(
        actor=request.user,
        job=job,
        idempotency_key=_key(request, payload.idempotency_key if payload else ""),
    )
    return _created_or_found(new, since)


def _optional_body(request: HttpRequest, schema):
    """An optional JSON body checked against ``schema``; None when there is none (or when it is
    not sent as application/json, such as an empty form)."""
    if request.content_type != "application/json" or not request.body.strip():
        return None
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError({"__all__": _("The body is not valid JSON.")}) from None
    if not isinstance(data, dict):
        raise ValidationError({"__all__": _("The body is not valid JSON.")})
    try:
        return schema(**data)
    except PydanticValidationError as exc:
        raise ValidationError(
            {".".join(str(p) for p in e["loc"]) or "__all__": e["msg"] for e in exc.errors()}
        ) from None


@router.get("/jobs/{ref}/logs", response=LogsOut, summary="The end of a job's stdout and stderr")
def job_logs(
    request: HttpRequest,
    ref: str,
    tail: int = Query(TAIL_DEFAULT, ge=1, le=TAIL_MAX),  # noqa: B008
):
    """``tail`` in bytes of each stream. A job that has not reached the scheduler has none."""
    job = selectors.job_get(request.user, ref)
    try:
        logs = selectors.job_logs(request.user, job, tail)
    except BackendUnavailable as exc:
        raise Unreachable(
            _("The cluster could not be reached; try again in a moment. (%(error)s)")
            % {"error": exc}
        ) from exc
    except BackendError as exc:
        raise ServiceError(str(exc)) from exc
    return {
        "reference": job.reference,
        "reached_scheduler": logs["reached_scheduler"],
        "tail_bytes": tail,
        "stdout": logs.get("stdout", ""),
        "stderr": logs.get("stderr", ""),
    }


# --- usage -------------------------------------------------------------------------------------


def _amounts(values: dict) -> dict:
    """The summed amounts as numbers (other keys, such as the period or the person, stay out)."""
    return {key: float(values[key]) for key in SUMMED if key in values}


@router.get(
    "/projects/{code}/usage",
    response=UsageOut,
    summary="A project's usage: totals, budget, per user, month and day, energy and CO2",
)
def project_usage(request: HttpRequest, code: str):
    project = projects_selectors.project_get(request.user, code)
    data = selectors.project_usage(request.user, project)
    today = timezone.localdate()
    allocations = []
    for row in data["allocations"]:
        allocation = row["allocation"]
        allocations.append(
            {
                "id": allocation.pk,
                "cluster": allocation.cluster,
                "partition": allocation.partition,
                "slurm_account": allocation.slurm_account,
                "status": allocation.status,
                "start": allocation.start,
                "end": allocation.end,
                "resources": allocation.resources,
                "live": allocation.status == AllocationStatus.ACTIVE
                and allocation.start <= today <= allocation.end,
                "used": _amounts(row["used"]),
                "budget": {
                    resource: {key: float(value) for key, value in numbers.items()}
                    for resource, numbers in row["budget"].items()
                },
            }
        )
    names = {a["cluster"] for a in allocations} | set(
        UsageRecord.objects.filter(allocation__project=project).values_list(
            "cluster__name", flat=True
        )
    )
    assumptions = [
        {"cluster": c.name, **energy_rates(c)} for c in Cluster.objects.filter(name__in=names)
    ]
    return {
        "project": project.code,
        "totals": _amounts(data["totals"]),
        "allocations": allocations,
        "by_user": [{**row, **_amounts(row)} for row in data["by_user"]],
        "by_month": [{"period": row["period"], **_amounts(row)} for row in data["by_month"]],
        "by_day": [{"period": row["period"], **_amounts(row)} for row in data["by_day"]],
        "assumptions": assumptions,
        "formula": ENERGY_FORMULA,
    }


@router.get(
    "/projects/{code}/usage.csv",
    response={200: None},
    summary="A project's usage records as CSV (one line per job)",
)
def project_usage_csv(request: HttpRequest, code: str):
    project = projects_selectors.project_get(request.user, code)
    require(request.user, "project.view", project)
    records = (
        UsageRecord.objects.filter(allocation__project=project, step="")
        .select_related("job", "user")
        .order_by("end", "external_id")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in records.iterator():
        writer.writerow(
            [
                r.job.reference if r.job_id else "",
                r.external_id,
                r.step,
                r.user.email if r.user_id else "",
                r.username,
                r.start.isoformat() if r.start else "",
                r.end.isoformat() if r.end else "",
                r.gpu_hours,
                r.cpu_core_hours,
                r.billing,
                r.energy_kwh,
                r.co2_kg,
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.code}-usage.csv"'
    return response
