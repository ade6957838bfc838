"""Pages of the compute app: my jobs, the submission form with its budget preview, a job's page
with the live state and log tails, a project's usage with charts and energy, and the operators'
list of clusters.

The submission form previews before it submits: the job's maximum cost (services.job_cost) next to
what remains of the allocation's current tranche (selectors.budget), and the refusal when it does
not fit; the service checks again on submission. The preview is the same form posted with
``preview`` (a button without JavaScript, an HTMX swap on every change with it), so a long script
never travels in a URL.

A job page polls a small partial (state panel and log tails) every few seconds while the job is
not final; the answer for a final job carries no trigger, so the polling stops by itself.
"""

import csv
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.access import projects_selectors
from aifactory.access.models import AllocationStatus, Resource
from aifactory.core.forms import call_service
from aifactory.core.htmx import redirect_to, render_page
from aifactory.core.permissions import allowed, require

from . import selectors, services
from .backends.base import BackendError
from .forms import (
    DEFAULTS,
    ClusterAccountForm,
    ClusterForm,
    JobFilterForm,
    JobForm,
    PartitionForm,
)
from .models import FINAL_STATES, JobState
from .usage_chart import bars_svg

RESOURCES = dict(Resource.choices)
LIST_LIMIT = 200
TAIL_BYTES = 8_000
POLL_SECONDS = 3
CSV_COLUMNS = ("day", "gpu_hours", "cpu_core_hours", "billing", "energy_kwh", "co2_kg")


# --- my jobs -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def job_list(request):
    """The jobs I may see (my projects' jobs; every job for operators), newest first."""
    user = request.user
    jobs = selectors.jobs_visible(user)
    # Operators filter by any project with jobs; the others by their own projects.
    if allowed(user, "job.list_all"):
        projects_qs = projects_selectors.projects_visible(user)
    else:
        projects_qs = projects_selectors.projects_mine(user)
    projects = list(projects_qs.filter(jobs__isnull=False).distinct().order_by("code")[:LIST_LIMIT])
    form = JobFilterForm(request.GET or None, projects=projects)
    filters = form.filters() if form.is_bound else {"project": "", "state": ""}
    if filters["project"]:
        jobs = jobs.filter(project__code=filters["project"])
    if filters["state"]:
        jobs = jobs.filter(state=filters["state"])
    context = {
        "form": form,
        "jobs": list(jobs.order_by("-created_at")[:LIST_LIMIT]),
        "limit": LIST_LIMIT,
        "can_submit": bool(_live_allocations(user)),
    }
    return render_page(request, "compute/jobs_list.html", "compute/jobs__table.html", context)


# --- submission --------------------------------------------------------------------------------


def _live_allocations(user) -> list:
    """The person's allocations they may submit to today: active, covering today, on a cluster."""
    today = timezone.localdate()
    allocations = []
    for project in projects_selectors.projects_mine(user).order_by("code"):
        if not allowed(user, "job.submit", project):
            continue
        live = project.allocations.filter(
            status=AllocationStatus.ACTIVE, start__lte=today, end__gte=today
        ).exclude(cluster="")
        allocations += list(live.order_by("start"))
    return allocations


def _number(value, default: int) -> int:
    try:
        return max(0, int(str(value).strip()))
    except (TypeError, ValueError):
        return default


def _choices(user, values) -> dict:
    """What the form offers for the values chosen so far (project → cluster → partitions) and
    the allocation the job would be charged to."""
    allocations = _live_allocations(user)
    projects, seen = [], set()
    for allocation in allocations:
        if allocation.project_id not in seen:
            seen.add(allocation.project_id)
            projects.append(allocation.project)
    codes = [p.code for p in projects]
    code = values.get("project") if values.get("project") in codes else (codes or [""])[0]
    mine = [a for a in allocations if a.project.code == code]
    clusters = list(
        selectors.clusters_visible(user)
        .filter(name__in=[a.cluster for a in mine], is_active=True)
        .prefetch_related("partitions")
    )
    names = [c.name for c in clusters]
    name = values.get("cluster") if values.get("cluster") in names else (names or [""])[0]
    cluster = next((c for c in clusters if c.name == name), None)
    allocation = next((a for a in mine if a.cluster == name), None)
    partitions = [p.name for p in cluster.partitions.all()] if cluster else []
    return {
        "projects": projects,
        "clusters": clusters,
        "cluster": cluster,
        "allocation": allocation,
        "partitions": partitions,
        "project_code": code,
    }


def _preview(choices: dict, values) -> dict | None:
    """The job's maximum cost against what remains of the allocation's current tranche."""
    cluster, allocation = choices["cluster"], choices["allocation"]
    if cluster is None or allocation is None:
        return None
    gpus = _number(values.get("gpus"), DEFAULTS["gpus"])
    cpus = _number(values.get("cpus"), DEFAULTS["cpus"])
    minutes = _number(values.get("time_limit_minutes"), DEFAULTS["time_limit_minutes"])
    cost = services.job_cost(gpus, cpus, minutes, cluster)
    budget = selectors.budget(allocation)
    rows, exhausted = [], []
    for resource, numbers in budget.items():
        need = cost[resource]
        rows.append(
            {
                "key": resource,
                "label": RESOURCES.get(resource, resource),
                "need": need,
                "fits": not (need > 0 and need > numbers["remaining"]),
                **numbers,
            }
        )
        if numbers["percent"] >= 100 or numbers["available"] <= 0:
            exhausted.append(RESOURCES.get(resource, resource))
    refusals = services.budget_problems(allocation, cost)
    return {
        "cost": cost,
        "rows": rows,
        "refusals": refusals,
        "exhausted": exhausted,
        "allocation": allocation,
        "cluster": cluster,
        "minutes": minutes,
    }


def _render_new(request, form, choices, values, status=200):
    context = {
        "form": form,
        "choices": choices,
        "preview": _preview(choices, values),
        "template": form.template,
    }
    return render_page(
        request, "compute/jobs_new.html", "compute/jobs__form.html", context, status=status
    )


def _build_form(user, values, *, bound=None):
    choices = _choices(user, values)
    form = JobForm(
        bound,
        initial=None if bound is not None else {**DEFAULTS, **values},
        projects=choices["projects"],
        clusters=choices["clusters"],
        partitions=choices["partitions"],
        template=values.get("template") or "",
    )
    if bound is None:
        form.initial.update(
            project=choices["project_code"],
            cluster=choices["cluster"].name if choices["cluster"] else "",
        )
        allocation = choices["allocation"]
        if (
            "partition" not in values
            and allocation is not None
            and allocation.partition in choices["partitions"]
        ):
            form.initial["partition"] = allocation.partition
    return form, choices


@login_required
@require_http_methods(["GET", "POST"])
def job_new(request):
    """GET: the form with defaults (``?project=&template=`` preselect). POST with ``preview``:
    the same form with the cost and the budget for the values given, nothing submitted. POST:
    submit; a refusal shows the form again (422) with the fields or the numbers."""
    user = request.user
    if request.method == "GET":
        values = request.GET.dict()
        form, choices = _build_form(user, values)
        return _render_new(request, form, choices, values)
    values = request.POST.dict()
    if "preview" in request.POST:
        values.pop("csrfmiddlewaretoken", None)
        form, choices = _build_form(user, values)
        return _render_new(request, form, choices, values)
    form, choices = _build_form(user, values, bound=request.POST)
    if form.is_valid():
        project = next(p for p in choices["projects"] if p.code == form.cleaned_data["project"])
        require(user, "job.submit", project)
        ok, job = call_service(
            request,
            services.job_submit,
            form=form,
            actor=user,
            project=project,
            cluster=choices["cluster"],
            **form.submission(),
        )
        if ok:
            messages.success(request, _("Job %(ref)s is submitted.") % {"ref": job.reference})
            url = reverse("compute:job_detail", args=[job.reference])
            return redirect_to(request, url)
    return _render_new(request, form, choices, values, status=422)


# --- a job -------------------------------------------------------------------------------------


def _logs(user, job) -> dict:
    """The end of the job's stdout and stderr; a note instead when they cannot be read."""
    try:
        logs = selectors.job_logs(user, job, TAIL_BYTES)
    except BackendError as exc:
        return {
            "stdout": "",
            "stderr": "",
            "note": _("The logs cannot be read now: %(error)s") % {"error": exc},
        }
    note = "" if logs["reached_scheduler"] else _("The job has not reached the scheduler yet.")
    return {"stdout": logs["stdout"], "stderr": logs["stderr"], "note": note}


def _events(job) -> list:
    """The state history with the states' names in the reader's language."""
    labels = dict(JobState.choices)
    events = list(job.events.select_related("actor"))
    for event in events:
        event.from_label = labels.get(event.from_state, event.from_state)
        event.to_label = labels.get(event.to_state, event.to_state)
    return events


def _efficiency_rows(job) -> list[tuple[str, str]]:
    """(key, shown value): shares of what was asked in percent, GPU memory in MB."""
    rows = []
    for key, value in (job.efficiency or {}).items():
        if key == "gpu_memory_mb":
            shown = number_format(round(float(value)), force_grouping=True)
            rows.append((key, f"{shown} MB"))
        else:
            rows.append((key, f"{round(float(value) * 100)}%"))
    return rows


def _job_context(user, job) -> dict:
    final = job.state in FINAL_STATES
    return {
        "job": job,
        "final": final,
        "events": _events(job),
        "logs": _logs(user, job),
        "energy": selectors.job_energy(user, job),
        "poll_seconds": POLL_SECONDS,
        "efficiency": _efficiency_rows(job),
        # A GPU job whose cluster does not measure GPU use (no gres/gpuutil in its accounting).
        "gpu_not_reported": bool(job.gpus) and "gpu" not in (job.efficiency or {}),
        "can_cancel": not final and allowed(user, "job.cancel", job),
        "can_resubmit": allowed(user, "job.submit", job.project),
        "tail_bytes": TAIL_BYTES,
    }


@login_required
@require_http_methods(["GET"])
def job_detail(request, ref):
    job = selectors.job_get(request.user, ref)
    return render(request, "compute/jobs_detail.html", _job_context(request.user, job))


@login_required
@require_http_methods(["GET"])
def job_status(request, ref):
    """The state panel and the log tails, for the job page's polling."""
    job = selectors.job_get(request.user, ref)
    response = render(request, "compute/jobs__status.html", _job_context(request.user, job))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def job_cancel(request, ref):
    job = selectors.job_get(request.user, ref)
    require(request.user, "job.cancel", job)
    ok, job = call_service(request, services.job_cancel, actor=request.user, job=job)
    if ok:
        messages.success(
            request, _("Job %(ref)s: cancellation requested.") % {"ref": job.reference}
        )
    return redirect("compute:job_detail", ref)


@login_required
@require_POST
def job_resubmit(request, ref):
    job = selectors.job_get(request.user, ref)
    require(request.user, "job.submit", job.project)
    ok, new = call_service(request, services.job_resubmit, actor=request.user, job=job)
    if ok:
        messages.success(
            request,
            _("Job %(ref)s is submitted again as %(new)s.")
            % {"ref": job.reference, "new": new.reference},
        )
        return redirect("compute:job_detail", new.reference)
    return redirect("compute:job_detail", job.reference)


# --- usage -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def project_usage(request, code):
    """Totals, budget per resource of each allocation with its current tranche, charts by day
    and by user, per month, energy and CO2 with the assumptions, and the CSV export."""
    user = request.user
    project = projects_selectors.project_get(user, code)
    data = selectors.project_usage(user, project)
    today = timezone.localdate()
    allocations = []
    for row in data["allocations"]:
        allocation = row["allocation"]
        allocations.append(
            {
                **row,
                "live": allocation.status == AllocationStatus.ACTIVE
                and allocation.start <= today <= allocation.end,
                "budget_rows": [
                    {"label": RESOURCES.get(key, key), **numbers}
                    for key, numbers in row["budget"].items()
                ],
            }
        )
    by_day = data["by_day"][-31:]
    charts = {
        "day": bars_svg(
            [(row["period"].isoformat(), row["billing"]) for row in by_day],
            title=_("Billing units per day, project %(code)s") % {"code": project.code},
            desc=_("The last %(count)d days with use; the table below has every number.")
            % {"count": len(by_day)},
            id_prefix="usage-by-day",
        ),
        "user": bars_svg(
            [(row["email"] or row["username"] or "—", row["billing"]) for row in data["by_user"]],
            title=_("Billing units per person, project %(code)s") % {"code": project.code},
            desc=_("Each person's use since the project started."),
            id_prefix="usage-by-user",
        ),
    }
    context = {
        "project": project,
        "totals": data["totals"],
        "allocations": allocations,
        "by_user": data["by_user"],
        "by_month": data["by_month"],
        "by_day": by_day,
        "charts": charts,
        # The energy assumptions of the clusters the allocations run on.
        "clusters": list(
            selectors.clusters_visible(user)
            .filter(name__in={row["allocation"].cluster for row in allocations})
            .order_by("name")
        ),
        "can_submit": allowed(user, "job.submit", project),
    }
    return render(request, "compute/usage_project.html", context)


@login_required
@require_http_methods(["GET"])
def project_usage_csv(request, code):
    """The project's use per day, as CSV (the API's usage.csv has one line per job)."""
    user = request.user
    project = projects_selectors.project_get(user, code)
    data = selectors.project_usage(user, project)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in data["by_day"]:
        writer.writerow([row["period"].isoformat(), *(row[k] for k in CSV_COLUMNS[1:])])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.code}-usage-by-day.csv"'
    return response


# --- clusters ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def cluster_list(request):
    """The operators' view of the clusters: partitions, last sync and its error, who is who."""
    require(request.user, "cluster.manage")
    clusters = selectors.clusters_visible(request.user).prefetch_related(
        "partitions", "accounts__user"
    )
    return render(request, "compute/clusters_list.html", {"clusters": list(clusters)})


def _cluster_saved(request, cluster, message):
    messages.success(request, message)
    return redirect_to(request, reverse("compute:cluster_list") + f"#cluster-{cluster.name}")


def _cluster_form(request, form, *, title, cluster=None, status=200):
    context = {"form": form, "title": title, "cluster": cluster}
    return render(request, "compute/clusters_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def cluster_new(request):
    """Add a cluster: name, backend, its settings, rates and energy figures."""
    require(request.user, "cluster.manage")
    form = ClusterForm(request.POST or None)
    title = _("New cluster")
    if request.method == "POST":
        if form.is_valid():
            ok, cluster = call_service(
                request, services.cluster_create, form=form, actor=request.user, **form.creation()
            )
            if ok:
                return _cluster_saved(
                    request, cluster, _("Cluster %(name)s is added.") % {"name": cluster.name}
                )
        return _cluster_form(request, form, title=title, status=422)
    return _cluster_form(request, form, title=title)


@login_required
@require_http_methods(["GET", "POST"])
def cluster_edit(request, name):
    """Change a cluster's title, settings, rates, energy figures and sync interval."""
    require(request.user, "cluster.manage")
    cluster = selectors.cluster_get(request.user, name)
    form = ClusterForm(request.POST or None, cluster=cluster)
    title = _("Edit the cluster %(name)s") % {"name": cluster.name}
    if request.method == "POST":
        if form.is_valid():
            ok, _cluster = call_service(
                request,
                services.cluster_update,
                form=form,
                actor=request.user,
                cluster=cluster,
                **form.changes(),
            )
            if ok:
                return _cluster_saved(request, cluster, _("Saved."))
        return _cluster_form(request, form, title=title, cluster=cluster, status=422)
    return _cluster_form(request, form, title=title, cluster=cluster)


@login_required
@require_http_methods(["GET", "POST"])
def partition_edit(request, name, partition=None):
    """Add a partition to a cluster (``partition`` None) or change one."""
    require(request.user, "cluster.manage")
    cluster = selectors.cluster_get(request.user, name)
    existing = None
    if partition is not None:
        existing = get_object_or_404(cluster.partitions, name=partition)
    form = PartitionForm(request.POST or None, partition=existing)
    if existing is None:
        title = _("New partition of %(cluster)s") % {"cluster": cluster.name}
    else:
        title = _("Edit the partition %(name)s of %(cluster)s") % {
            "name": existing.name,
            "cluster": cluster.name,
        }
    if request.method == "POST":
        if form.is_valid():
            ok, _partition = call_service(
                request,
                services.partition_set,
                form=form,
                actor=request.user,
                cluster=cluster,
                name=existing.name if existing else form.cleaned_data["name"],
                **form.values(),
            )
            if ok:
                return _cluster_saved(request, cluster, _("Saved."))
        return _cluster_form(request, form, title=title, cluster=cluster, status=422)
    return _cluster_form(request, form, title=title, cluster=cluster)


@login_required
@require_http_methods(["GET", "POST"])
def cluster_accounts(request, name):
    """The people mapped to usernames on the cluster (by an operator or from the identity
    provider), and the form to map one (``?person=`` prefills it to change a mapping)."""
    require(request.user, "cluster.manage")
    cluster = selectors.cluster_get(request.user, name)
    form = ClusterAccountForm(request.POST or None, initial=request.GET.dict())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            person = form.cleaned_data["person"]
            ok, account = call_service(
                request,
                services.cluster_account_set,
                form=form,
                actor=request.user,
                cluster=cluster,
                user=person,
                username=form.cleaned_data["username"],
            )
            if ok:
                messages.success(
                    request,
                    _("%(email)s runs jobs on %(cluster)s as %(username)s.")
                    % {
                        "email": person.email,
                        "cluster": cluster.name,
                        "username": account.username,
                    },
                )
                return redirect_to(request, reverse("compute:cluster_accounts", args=[name]))
        status = 422
    accounts = cluster.accounts.select_related("user").order_by("username")
    provisions = cluster.provisions.select_related("allocation__project").order_by("account")
    context = {
        "cluster": cluster,
        "accounts": list(accounts),
        "provisions": list(provisions),
        "form": form,
    }
    return render(request, "compute/clusters_accounts.html", context, status=status)
