"""Pages for organisations, their members and invitations.

Buttons are shown only to those allowed (via core.permissions); the services check again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.core.errors import NotFound
from aifactory.core.forms import call_service
from aifactory.core.htmx import redirect_to, render_fragment
from aifactory.core.permissions import allowed, org_role
from aifactory.core.roles import OrgRole
from aifactory.core.taxonomy import Sector

from . import selectors, services
from .forms import InvitationForm, OrganisationForm, RoleForm
from .models import InvitationStatus


def _role_label(role: str | None) -> str:
    return OrgRole(role).label if role else ""


@login_required
@require_http_methods(["GET"])
def organisation_list(request):
    user = request.user
    can_list_all = allowed(user, "organisation.list_all")
    show_all = can_list_all and request.GET.get("all") == "1"
    rows = [
        {"organisation": o, "role": _role_label(o.my_role)}
        for o in selectors.organisations_visible(user, all_for_staff=show_all)
    ]
    return render(
        request,
        "accounts/organisation_list.html",
        {"rows": rows, "can_list_all": can_list_all, "show_all": show_all},
    )


@login_required
@require_http_methods(["GET", "POST"])
def organisation_create(request):
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, organisation = call_service(
            request,
            services.organisation_create,
            form=form,
            actor=request.user,
            data=form.cleaned_data,
        )
        if ok:
            messages.success(
                request,
                _("%(name)s is registered; you are its owner.") % {"name": organisation},
            )
            return redirect("accounts:organisation_detail", organisation.pk)
    return render(request, "accounts/organisation_form.html", {"form": form, "creating": True})


@login_required
@require_http_methods(["GET"])
def organisation_detail(request, organisation_id):
    user = request.user
    organisation = selectors.organisation_get(user, organisation_id)
    return render(
        request,
        "accounts/organisation_detail.html",
        {
            "organisation": organisation,
            "my_role": _role_label(org_role(user, organisation)),
            "members": selectors.memberships_of(user, organisation),
            "sectors": _sector_labels(organisation.sectors),
            "can_update": allowed(user, "organisation.update", organisation),
            "can_manage": allowed(user, "membership.manage", organisation),
        },
    )


def _sector_labels(values: list[str]) -> list[str]:
    labels = dict(Sector.choices)
    return [str(labels.get(v, v)) for v in values]


@login_required
@require_http_methods(["GET", "POST"])
def organisation_edit(request, organisation_id):
    user = request.user
    organisation = selectors.organisation_get(user, organisation_id)
    if not allowed(user, "organisation.update", organisation):
        raise PermissionDenied("organisation.update")
    form = OrganisationForm(
        request.POST or None, initial=OrganisationForm.initial_from(organisation)
    )
    if request.method == "POST" and form.is_valid():
        ok, _org = call_service(
            request,
            services.organisation_update,
            form=form,
            actor=user,
            organisation=organisation,
            data=form.cleaned_data,
        )
        if ok:
            messages.success(request, _("The profile is saved."))
            return redirect("accounts:organisation_detail", organisation.pk)
        organisation.refresh_from_db()
    return render(
        request,
        "accounts/organisation_form.html",
        {"form": form, "organisation": organisation, "creating": False},
    )


# --- members and invitations -------------------------------------------------------------------


def _member_row(user, membership) -> dict:
    """One row of the members table and what the viewer may do with it."""
    organisation = membership.organisation
    may_grant_owner = allowed(user, "membership.grant_owner", organisation)
    may_manage = allowed(user, "membership.manage", organisation) and (
        membership.role != OrgRole.OWNER or may_grant_owner
    )
    is_me = membership.user_id == user.pk
    return {
        "membership": membership,
        "is_me": is_me,
        "can_change": may_manage,
        "can_remove": may_manage and not is_me,
        "role_choices": [
            (value, label)
            for value, label in OrgRole.choices
            if value != OrgRole.OWNER or may_grant_owner
        ],
    }


def _pending_invitations(user, organisation):
    return selectors.invitations_of(user, organisation).filter(status=InvitationStatus.PENDING)


def _members_context(request, organisation, invite_form=None) -> dict:
    user = request.user
    can_invite = allowed(user, "invitation.manage", organisation)
    may_grant_owner = allowed(user, "membership.grant_owner", organisation)
    return {
        "organisation": organisation,
        "rows": [_member_row(user, m) for m in selectors.memberships_of(user, organisation)],
        "can_invite": can_invite,
        "invitations": _pending_invitations(user, organisation) if can_invite else [],
        "invite_form": invite_form or InvitationForm(with_owner=may_grant_owner),
        "is_member": org_role(user, organisation) is not None,
    }


@login_required
@require_http_methods(["GET"])
def members(request, organisation_id):
    organisation = selectors.organisation_get(request.user, organisation_id)
    return render(request, "accounts/members.html", _members_context(request, organisation))


def _members_url(organisation) -> str:
    return reverse("accounts:members", args=[organisation.pk])


@login_required
@require_POST
def member_role(request, organisation_id, membership_id):
    user = request.user
    organisation = selectors.organisation_get(user, organisation_id)
    membership = selectors.membership_get(user, organisation, membership_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        ok, _m = call_service(
            request,
            services.membership_set_role,
            actor=user,
            membership=membership,
            role=form.cleaned_data["role"],
        )
        if ok:
            messages.success(
                request,
                _("%(person)s is now %(role)s.")
                % {"person": membership.user.display_name, "role": membership.get_role_display()},
            )
    else:
        messages.error(request, _("Choose one of the listed roles."))
    if request.htmx:
        membership.refresh_from_db()
        return render_fragment(
            request, "accounts/_member_row.html", {"row": _member_row(user, membership)}
        )
    return redirect(_members_url(organisation))


@login_required
@require_POST
def member_remove(request, organisation_id, membership_id):
    user = request.user
    organisation = selectors.organisation_get(user, organisation_id)
    membership = selectors.membership_get(user, organisation, membership_id)
    ok, _none = call_service(request, services.membership_remove, actor=user, membership=membership)
    if ok:
        messages.success(
            request,
            _("%(person)s is no longer a member.") % {"person": membership.user.display_name},
        )
    if request.htmx:
        context = {"row": _member_row(user, membership)} if not ok else {}
        return render_fragment(request, "accounts/_member_row.html", context)
    return redirect(_members_url(organisation))


@login_required
@require_POST
def organisation_leave(request, organisation_id):
    user = request.user
    organisation = selectors.organisation_get(user, organisation_id)
    ok, _none = call_service(
        request, services.membership_leave, actor=user, organisation=organisation
    )
    if ok:
        messages.success(request, _("You left %(name)s.") % {"name": organisation})
        return redirect_to(request, reverse("accounts:organisation_list"))
    return redirect_to(request, _members_url(organisation))


@login_required
@require_POST
def invitation_create(request, organisation_id):
    user = request.user
    organisation = selectors.organisation_get(user, organisation_id)
    form = InvitationForm(
        request.POST, with_owner=allowed(user, "membership.grant_owner", organisation)
    )
    if form.is_valid():
        ok, _created = call_service(
            request,
            services.invitation_create,
            form=form,
            actor=user,
            organisation=organisation,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
        )
        if ok:
            messages.success(
                request,
                _("We sent an invitation to %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            return redirect(_members_url(organisation))
    context = _members_context(request, organisation, form)
    context["page_url"] = _members_url(organisation)  # for the language switcher
    return render(request, "accounts/members.html", context)


@login_required
@require_POST
def invitation_revoke(request, organisation_id, invitation_id):
    user = request.user
    organisation = selectors.organisation_get(user, organisation_id)
    invitation = selectors.invitation_get(user, organisation, invitation_id)
    ok, _inv = call_service(request, services.invitation_revoke, actor=user, invitation=invitation)
    if ok:
        messages.success(
            request, _("The invitation to %(email)s is revoked.") % {"email": invitation.email}
        )
    if request.htmx:
        context = {
            "organisation": organisation,
            "invitations": _pending_invitations(user, organisation),
        }
        return render_fragment(request, "accounts/_invitations.html", context)
    return redirect(_members_url(organisation))


# --- accepting an invitation -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation_page(request, token):
    """Anyone with the link sees what it offers; only the invited, signed-in person can accept."""
    try:
        invitation = services.invitation_by_token(token)
    except NotFound:
        return render(request, "accounts/invitation.html", {"missing": True}, status=404)
    user = request.user
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect(f"{reverse('accounts:login')}?next={request.path}")
        ok, membership = call_service(request, services.invitation_accept, actor=user, token=token)
        if ok:
            messages.success(
                request,
                _("Welcome to %(name)s.") % {"name": membership.organisation.legal_name},
            )
            return redirect("accounts:organisation_detail", membership.organisation_id)
        return redirect(request.path)
    matches = allowed(user, "invitation.accept", invitation)
    return render(
        request,
        "accounts/invitation.html",
        {"invitation": invitation, "state": invitation.display_status, "matches": matches},
    )


@login_required
@require_POST
def invitation_accept(request, invitation_id):
    """Accept from the dashboard, where the invited address is the person's verified one."""
    ok, membership = call_service(
        request, services.invitation_accept, actor=request.user, invitation_id=invitation_id
    )
    if ok:
        messages.success(
            request, _("Welcome to %(name)s.") % {"name": membership.organisation.legal_name}
        )
        return redirect("accounts:organisation_detail", membership.organisation_id)
    return redirect("core:dashboard")
