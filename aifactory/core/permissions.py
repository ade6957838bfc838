"""Every permission rule of the hub, in one place.

Views, API handlers, selectors and the CLI ask ``allowed(user, action, obj)`` or ``require(...)``;
none of them decides on its own. Rules look at the person's staff role and their membership role in
the object's organisation (reached through related names, so core imports no domain app).
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied

from .roles import OrgRole, StaffRole

ALL_STAFF = frozenset(r for r in StaffRole if r)


def staff_role(user) -> str:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ""
    if user.is_superuser:
        return StaffRole.ADMINISTRATOR
    return user.staff_role or ""


def is_staff_in(user, *roles: str) -> bool:
    role = staff_role(user)
    return bool(role) and (role in roles or role == StaffRole.ADMINISTRATOR)


def org_role(user, organisation) -> str | None:
    """The person's membership role in the organisation, or None."""
    if not getattr(user, "is_authenticated", False) or organisation is None:
        return None
    cache = getattr(user, "_org_roles", None)
    if cache is None:
        cache = dict(user.memberships.values_list("organisation_id", "role"))
        user._org_roles = cache
    return cache.get(organisation.pk)


def forget_roles(user) -> None:
    """Drop the per-request role cache after a membership change."""
    if hasattr(user, "_org_roles"):
        del user._org_roles


def _authenticated(user, obj=None) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def _member(user, org) -> bool:
    return org_role(user, org) is not None


def _manager(user, org) -> bool:
    return org_role(user, org) in (OrgRole.OWNER, OrgRole.MANAGER)


def _owner(user, org) -> bool:
    return org_role(user, org) == OrgRole.OWNER


def _any_staff(user, obj=None) -> bool:
    return is_staff_in(user, *ALL_STAFF)


def _admin(user, obj=None) -> bool:
    return is_staff_in(user, StaffRole.ADMINISTRATOR)


def _operator(user, obj=None) -> bool:
    return is_staff_in(user, StaffRole.OPERATOR)


def _token_owner(user, token) -> bool:
    return _authenticated(user) and token is not None and token.user_id == user.pk


def _invited(user, invitation) -> bool:
    """A verified account with the address the invitation was sent to."""
    return (
        _authenticated(user)
        and invitation is not None
        and user.email_verified
        and invitation.email.lower() == user.email.lower()
    )


def _provider_org(offering):
    return getattr(offering, "provider_organisation", None)


def _published(user, offering) -> bool:
    return getattr(offering, "status", None) == "published"


def _provider_member(user, offering) -> bool:
    return _member(user, _provider_org(offering))


def _provider_manager(user, offering) -> bool:
    return _manager(user, _provider_org(offering))


def _case_member(user, case) -> bool:
    return _member(user, getattr(case, "organisation", None))


def _case_staff(user, obj=None) -> bool:
    """The factory's front desk: advisors, and operators and administrators standing in."""
    return is_staff_in(user, StaffRole.ADVISOR, StaffRole.OPERATOR)


def _either(*rules: Callable[..., bool]) -> Callable[..., bool]:
    return lambda user, obj=None: any(rule(user, obj) for rule in rules)


RULES: dict[str, Callable[..., bool]] = {
    # Organisations: members see their own; every staff role sees all (advisors need the profile).
    "organisation.create": _authenticated,
    "organisation.view": _either(_member, _any_staff),
    "organisation.update": _either(_manager, _admin),
    "organisation.list_all": _any_staff,
    # Memberships and invitations: managers and owners run their team; administrators can help.
    "membership.view": _either(_member, _any_staff),
    "membership.manage": _either(_manager, _admin),
    "membership.grant_owner": _either(_owner, _admin),
    "invitation.manage": _either(_manager, _admin),
    "invitation.accept": _invited,
    # API tokens are personal: not even an administrator may use or revoke someone else's.
    "token.manage": _token_owner,
    # The factory's own tools.
    "audit.view": _either(_operator, _admin),
    "staff.assign_role": _admin,
    "user.deactivate": _admin,
    # Catalogue: published offerings are public; the provider organisation's managers and owners
    # propose and edit their listings (the object of "offering.create" is that organisation);
    # operators edit any listing, moderate and import.
    "offering.view": _either(_published, _provider_member, _any_staff),
    "offering.list_all": _any_staff,
    "offering.create": _either(_manager, _operator),
    "offering.edit": _either(_provider_manager, _operator),
    "offering.moderate": _operator,
    "catalog.import": _operator,
    # Support cases (advisor app). Members of the case's organisation see it with its shared
    # entries, write messages and may withdraw or reopen it; advisors, operators and
    # administrators see every case with its internal notes and run it (triage, assignment,
    # notes, linked offerings, status). The object of "case.create" is the organisation.
    "case.create": _member,
    "case.view": _either(_case_member, _case_staff),
    "case.list_all": _case_staff,
    "case.view_internal": _case_staff,
    "case.message": _either(_case_member, _case_staff),
    "case.withdraw": _either(_case_member, _case_staff),
    "case.reopen": _either(_case_member, _case_staff),
    "case.manage": _case_staff,
    # Readiness assessments (advisor app).
    # The object is the organisation or one of its assessments. Its members (any role) start,
    # fill in and complete them; advisors, operators and administrators read every one, to
    # advise, but do not answer for the organisation.
    "readiness.fill": lambda user, obj=None: _member(user, getattr(obj, "organisation", obj)),
    "readiness.view": lambda user, obj=None: (
        _member(user, getattr(obj, "organisation", obj))
        or is_staff_in(user, StaffRole.ADVISOR, StaffRole.OPERATOR)
    ),
    "readiness.list_all": lambda user, obj=None: is_staff_in(
        user, StaffRole.ADVISOR, StaffRole.OPERATOR
    ),
    # Django's admin site: read-only views for administrators; changes go through the services.
    "admin.view": _admin,
}


def allowed(user, action: str, obj: Any = None) -> bool:
    try:
        rule = RULES[action]
    except KeyError:
        raise LookupError(f"no permission rule named {action!r}") from None
    return bool(rule(user, obj))


def require(user, action: str, obj: Any = None) -> None:
    if not allowed(user, action, obj):
        raise PermissionDenied(action)
