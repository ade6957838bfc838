"""Reads of the compute app, filtered by what the asking person may see (core.permissions).

A project's members see its jobs and usage; operators see everything. A job someone may not see
answers 404, so references and ids reveal nothing."""

import contextlib
import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from aifactory.core.permissions import allowed, require_actor

from .backends import backend_for
from .models import Cluster, Job
from .services.jobs import job_budget
from .services.usage import (
    energy_for_job,
    energy_for_organisation,
    energy_for_project,
    usage_by_day,
    usage_by_month,
    usage_by_user,
    usage_totals,
)


def clusters_visible(user) -> QuerySet[Cluster]:
    if allowed(user, "cluster.manage"):
        return Cluster.objects.all()
    if not allowed(user, "cluster.view"):
        return Cluster.objects.none()
    return Cluster.objects.filter(is_active=True)


def cluster_get(user, name) -> Cluster:
    cluster = clusters_visible(user).filter(name=str(name).strip()).first()
    if cluster is None:
        raise Http404("cluster")
    return cluster


def jobs_visible(user) -> QuerySet[Job]:
    """Every job for operators; otherwise the jobs of the projects the person is a member of."""
    qs = Job.objects.select_related("project", "cluster", "user", "allocation")
    if allowed(user, "job.list_all"):
        return qs
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    return qs.filter(project__members__user=user).distinct()


def job_get(user, key) -> Job:
    """By reference (J-2026-00001) or id; 404 when missing or not visible."""
    key = str(key).strip()
    lookup = Q(reference=key)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(key))
    job = jobs_visible(user).filter(lookup).first()
    if job is None or not allowed(user, "job.view", job):
        raise Http404("job")
    return job


def budget(allocation, today=None) -> dict:
    """The allocation's budget today per resource: used, available, reserved, remaining,
    percent (see services.jobs.job_budget); empty outside its period."""
    return job_budget(allocation, today)


def project_usage(user, project, *, since=None) -> dict:
    """What a project page shows: totals, per user, per month, per day, and each live
    allocation's budget. 404 for someone who may not see the project."""
    if not allowed(user, "project.view", project):
        raise Http404("project")
    return {
        "totals": energy_for_project(project),
        "by_user": usage_by_user(project=project),
        "by_month": usage_by_month(project=project, since=since),
        "by_day": usage_by_day(project=project, since=since),
        "allocations": [
            {"allocation": a, "used": usage_totals(a), "budget": job_budget(a)}
            for a in project.allocations.order_by("start")
        ],
    }


def job_energy(user, job) -> dict:
    if not allowed(user, "job.view", job):
        raise Http404("job")
    return energy_for_job(job)


def organisation_energy(user, organisation) -> dict:
    if not allowed(user, "organisation.view", organisation):
        raise Http404("organisation")
    return energy_for_organisation(organisation)


def job_logs(user, job: Job, tail_bytes: int) -> dict:
    """The end of the job's stdout and stderr, for those who may see the job (``user=None`` is the
    server's CLI); empty before the job reached the scheduler. The backend reads only the job's
    own files; when it cannot, it raises BackendError and the caller says so in its own way."""
    require_actor(user, "job.view", job)
    if not job.external_id:
        return {"stdout": "", "stderr": "", "reached_scheduler": False}
    logs = backend_for(job.cluster).logs(job.workdir, job.external_id, tail_bytes=tail_bytes)
    return {
        "stdout": logs.get("stdout", ""),
        "stderr": logs.get("stderr", ""),
        "reached_scheduler": True,
    }
