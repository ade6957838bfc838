"""Pages of access to data: asking for access, my requests, the stewards' inbox with approve and
refuse forms, grants with revoke, the access log, file downloads and previews, the SQL page.

Every action is a plain POST form that redirects; a refusal re-renders with the form's errors.
Buttons show only to those allowed; the services check again."""

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from aifactory.core.errors import NotAllowed, NotFound, ServiceError
from aifactory.core.forms import call_service
from aifactory.core.htmx import is_htmx
from aifactory.core.permissions import allowed, require

from . import requests_selectors as selectors
from . import services
from .models import AccessAction, RequestStatus
from .requests_forms import ApproveForm, QueryForm, ReasonForm, RequestForm


def _read(call):
    """Run a reading service; not found is 404, not allowed is 403 with the reason."""
    try:
        return call()
    except NotFound:
        raise Http404 from None
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None


def _dataset_url(dataset) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("data:dataset_detail", args=[dataset.slug])
    except NoReverseMatch:
        return reverse("data_requests:request_list")


@login_required
@require_http_methods(["GET", "POST"])
def request_create(request, slug):
    dataset = selectors.dataset_get(request.user, slug)
    require(request.user, "dataset.request_access", dataset)
    form = RequestForm(request.POST or None, user=request.user, dataset=dataset)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        organisation = request.user.memberships.get(
            organisation_id=data["organisation"]
        ).organisation
        ok, req = call_service(
            request,
            services.request_create,
            form=form,
            actor=request.user,
            dataset=dataset,
            organisation=organisation,
            project=data["project"],
            purpose=data["purpose"],
            duration_days=data["duration_days"],
            legal_basis=data.get("legal_basis") or "",
            accept_conditions=bool(data["accept_conditions"]),
        )
        if ok:
            messages.success(request, _("Your request is with the publisher's data stewards."))
            return redirect("data_requests:request_detail", req.pk)
    return render(
        request,
        "data/request_form.html",
        {
            "dataset": dataset,
            "form": form,
            "no_organisation": not form["organisation"].field.choices,
        },
        status=(422 if form.errors else 409) if request.method == "POST" else 200,
    )


@login_required
@require_GET
def request_list(request):
    status = request.GET.get("status", "")
    if status not in RequestStatus.values:
        status = ""
    mine = selectors.requests_list(request.user, status=status, scope="mine")[:500]
    return render(
        request,
        "data/request_list.html",
        {
            "requests": mine,
            "status": status,
            "statuses": RequestStatus.choices,
            "to_decide": selectors.requests_to_decide(request.user)
            .filter(status=RequestStatus.PENDING)
            .count(),
        },
    )


@login_required
@require_GET
def inbox(request):
    """The data steward's inbox: waiting requests first, then the latest decisions."""
    qs = selectors.requests_to_decide(request.user)
    return render(
        request,
        "data/request_inbox.html",
        {
            "pending": qs.filter(status=RequestStatus.PENDING).order_by("created_at")[:500],
            "decided": qs.exclude(status=RequestStatus.PENDING).order_by("-updated_at")[:50],
            "approve_form": ApproveForm(),
            "reason_form": ReasonForm(),
        },
    )


def _render_detail(request, req, *, status=200, **forms):
    user = request.user
    return render(
        request,
        "data/request_detail.html",
        {
            "req": req,
            "grant": getattr(req, "grant", None) if req.status == RequestStatus.APPROVED else None,
            "can_decide": req.status == RequestStatus.PENDING
            and allowed(user, "data_request.decide", req),
            "can_withdraw": req.status == RequestStatus.PENDING
            and allowed(user, "data_request.withdraw", req),
            "approve_form": forms.get("approve_form") or ApproveForm(),
            "reason_form": forms.get("reason_form") or ReasonForm(),
        },
        status=status,
    )


@login_required
@require_GET
def request_detail(request, pk):
    return _render_detail(request, selectors.request_get(request.user, pk))


@login_required
@require_POST
def request_withdraw(request, pk):
    req = selectors.request_get(request.user, pk)
    require(request.user, "data_request.withdraw", req)
    ok, _req = call_service(request, services.request_withdraw, actor=request.user, request=req)
    if ok:
        messages.success(request, _("Your request is withdrawn."))
    return redirect("data_requests:request_detail", req.pk)


def _after_decision(request, req):
    if request.POST.get("next") == "inbox":
        return redirect("data_requests:inbox")
    return redirect("data_requests:request_detail", req.pk)


@login_required
@require_POST
def request_approve(request, pk):
    req = selectors.request_get(request.user, pk)
    require(request.user, "data_request.decide", req)
    form = ApproveForm(request.POST)
    if form.is_valid():
        ok, _grant = call_service(
            request,
            services.request_approve,
            form=form,
            actor=request.user,
            request=req,
            conditions=form.cleaned_data["conditions"],
            expires_at=form.cleaned_data["expires_at"],
        )
        if ok:
            messages.success(request, _("Approved: the organisation may read the dataset now."))
            return _after_decision(request, req)
    return _render_detail(request, req, status=422 if form.errors else 409, approve_form=form)


@login_required
@require_POST
def request_refuse(request, pk):
    req = selectors.request_get(request.user, pk)
    require(request.user, "data_request.decide", req)
    form = ReasonForm(request.POST)
    if form.is_valid():
        ok, _req = call_service(
            request,
            services.request_refuse,
            form=form,
            actor=request.user,
            request=req,
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("Refused; the requester is told why."))
            return _after_decision(request, req)
    return _render_detail(request, req, status=422 if form.errors else 409, reason_form=form)


@login_required
@require_GET
def grant_list(request, slug):
    dataset = selectors.dataset_get(request.user, slug)
    grants = list(selectors.grants_of(request.user, dataset)[:500])
    return render(
        request,
        "data/request_grants.html",
        {"dataset": dataset, "grants": grants, "reason_form": ReasonForm()},
    )


@login_required
@require_POST
def grant_revoke(request, pk):
    grant = selectors.grant_get(request.user, pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        ok, _grant = call_service(
            request,
            services.grant_revoke,
            form=form,
            actor=request.user,
            grant=grant,
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("The grant is revoked."))
    else:
        messages.error(request, _("Give the reason for revoking the grant."))
    return redirect("data_requests:grant_list", grant.dataset.slug)


@login_required
@require_GET
def access_log(request, slug):
    dataset = selectors.dataset_get(request.user, slug)
    action = request.GET.get("action", "")
    if action not in AccessAction.values:
        action = ""
    page = Paginator(selectors.access_log(request.user, dataset, action=action), 100).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "data/access_log.html",
        {"dataset": dataset, "page": page, "action": action, "actions": AccessAction.choices},
    )


@require_GET
def download(request, slug, number, name):
    distribution = selectors.distribution_get(request.user, slug, number, name)
    stream, filename, media_type = _read(
        lambda: services.distribution_download(actor=request.user, distribution=distribution)
    )
    response = FileResponse(stream, content_type=media_type, as_attachment=True, filename=filename)
    response["Content-Disposition"] = (
        f"attachment; filename*=UTF-8''{quote(filename)}"
        if not filename.isascii()
        else response["Content-Disposition"]
    )
    return response


@require_GET
def preview(request, slug, number, name):
    distribution = selectors.distribution_get(request.user, slug, number, name)
    try:
        table = _read(
            lambda: services.distribution_preview(actor=request.user, distribution=distribution)
        )
    except ServiceError as exc:
        table = {"columns": [], "rows": [], "message": exc.message}
    context = {
        "distribution": distribution,
        "table": table,
        "dataset": distribution.version.dataset,
    }
    template = "data/_request_preview.html" if is_htmx(request) else "data/request_preview.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def query(request):
    form = QueryForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        ok, result = call_service(
            request, services.query_run, form=form, actor=request.user, sql=form.cleaned_data["sql"]
        )
    tables = services.query_tables(request.user)
    return render(
        request,
        "data/query.html",
        {"form": form, "result": result, "tables": tables},
        status=422 if form.errors else 200,
    )
