"""Pages of the projects: my projects, a project's page (allocations with the current tranche
and what remains, members, change requests with their forms), and the operators' queue of change
requests to decide.

Every action is a plain POST form that redirects back to the project; a refusal re-renders the
page with the form's errors. Buttons are shown only to those allowed; the services check again.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.core.forms import call_service
from aifactory.core.permissions import allowed, require

from . import projects_selectors as selectors
from .models import ChangeStatus, MemberRole, Resource
from .projects_forms import ChangeRequestForm, DecisionForm, MemberForm, RoleForm
from .services import projects as services

RESOURCES = dict(Resource.choices)


def _allocation_rows(project) -> list[dict]:
    """Each allocation with its current tranche and what remains in it, per resource.

    Usage is not measured yet (the compute app will pass it in), so what remains is the current
    tranche's share."""
    today = timezone.localdate()
    rows = []
    for allocation in project.allocations.select_related("pool").prefetch_related("tranches"):
        current = services.tranche_current(allocation, today)
        available = services.tranche_available(allocation, today, {})
        rows.append(
            {
                "allocation": allocation,
                "current": current,
                "resources": [
                    {
                        "label": RESOURCES.get(key, key),
                        "total": value,
                        "tranche": current.amounts.get(key) if current else None,
                        "available": available.get(key),
                    }
                    for key, value in allocation.resources.items()
                ],
                "tranches": list(allocation.tranches.all()),
            }
        )
    return rows


def _render_project(request, project, *, status=200, **forms):
    user = request.user
    members = list(project.members.select_related("user"))
    context = {
        "project": project,
        "allocations": _allocation_rows(project),
        "members": members,
        "roles": MemberRole.choices,
        "changes": list(project.change_requests.select_related("requested_by", "decided_by")),
        "can_request": allowed(user, "project.request_change", project),
        "can_decide": allowed(user, "project.decide_change", project),
        "can_manage": allowed(user, "project.manage_members", project),
        "change_form": forms.get("change_form") or ChangeRequestForm(),
        "decision_form": forms.get("decision_form") or DecisionForm(),
        "member_form": forms.get("member_form") or MemberForm(),
        "requested": ChangeStatus.REQUESTED,
    }
    return render(request, "access/projects_detail.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def project_list(request):
    """My projects; organisation managers and operators also see the projects they oversee."""
    user = request.user
    mine = list(selectors.projects_mine(user).order_by("code"))
    mine_ids = {p.pk for p in mine}
    others = [
        p for p in selectors.projects_visible(user).order_by("code")[:500] if p.pk not in mine_ids
    ]
    return render(
        request,
        "access/projects_list.html",
        {
            "mine": mine,
            "others": others,
            "can_decide": allowed(user, "project.decide_change"),
        },
    )


@login_required
@require_http_methods(["GET"])
def project_detail(request, code):
    return _render_project(request, selectors.project_get(request.user, code))


@login_required
@require_http_methods(["GET"])
def change_request_queue(request):
    require(request.user, "project.decide_change")
    changes = selectors.change_requests_pending(request.user)[:500]
    return render(request, "access/projects_queue.html", {"changes": changes})


@login_required
@require_POST
def change_request_create(request, code):
    project = selectors.project_get(request.user, code)
    require(request.user, "project.request_change", project)
    form = ChangeRequestForm(request.POST)
    if form.is_valid():
        ok, _change = call_service(
            request,
            services.change_request_create,
            form=form,
            actor=request.user,
            project=project,
            kind=form.cleaned_data["kind"],
            details=form.details(),
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("Your change request is with the factory's operators."))
            return redirect("access:project_detail", project.code)
    return _render_project(request, project, change_form=form)


def _decide(request, code, change_id, service, **extra):
    project = selectors.project_get(request.user, code)
    change = selectors.change_request_get(request.user, project, change_id)
    require(request.user, "project.decide_change", project)
    form = DecisionForm(request.POST)
    if form.is_valid():
        note = form.cleaned_data["note"]
        kwargs = {"note": note} if service is services.change_request_approve else {"reason": note}
        ok, _change = call_service(
            request, service, form=form, actor=request.user, change_request=change, **kwargs
        )
        if ok:
            messages.success(request, extra["done"])
            if request.POST.get("next") == "queue":
                return redirect("access:change_request_queue")
            return redirect("access:project_detail", project.code)
    return _render_project(request, project, decision_form=form)


@login_required
@require_POST
def change_request_approve(request, code, change_id):
    return _decide(
        request,
        code,
        change_id,
        services.change_request_approve,
        done=_("The change is approved and applied."),
    )


@login_required
@require_POST
def change_request_refuse(request, code, change_id):
    return _decide(
        request,
        code,
        change_id,
        services.change_request_refuse,
        done=_("The change request is refused."),
    )


@login_required
@require_POST
def project_member_add(request, code):
    project = selectors.project_get(request.user, code)
    require(request.user, "project.manage_members", project)
    form = MemberForm(request.POST)
    if form.is_valid():
        person = (
            get_user_model()
            .objects.filter(email__iexact=form.cleaned_data["email"], is_active=True)
            .first()
        )
        if person is None:
            form.add_error("email", _("No one on the hub has this address."))
        else:
            ok, _member = call_service(
                request,
                services.project_member_add,
                form=form,
                actor=request.user,
                project=project,
                user=person,
                role=form.cleaned_data["role"],
            )
            if ok:
                messages.success(request, _("The member is added."))
                return redirect("access:project_detail", project.code)
    return _render_project(request, project, member_form=form)


@login_required
@require_POST
def project_member_role(request, code, user_id):
    project = selectors.project_get(request.user, code)
    require(request.user, "project.manage_members", project)
    member = selectors.project_member_get(project, user_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        ok, _member = call_service(
            request,
            services.project_member_set_role,
            actor=request.user,
            member=member,
            role=form.cleaned_data["role"],
        )
        if ok:
            messages.success(request, _("The role is changed."))
    else:
        messages.error(request, _("Choose a role."))
    return redirect("access:project_detail", project.code)


@login_required
@require_POST
def project_member_remove(request, code, user_id):
    project = selectors.project_get(request.user, code)
    require(request.user, "project.manage_members", project)
    member = selectors.project_member_get(project, user_id)
    ok, _none = call_service(
        request, services.project_member_remove, actor=request.user, member=member
    )
    if ok:
        messages.success(request, _("The member is removed."))
    return redirect("access:project_detail", project.code)
