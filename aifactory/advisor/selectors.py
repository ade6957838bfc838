"""Reads of support cases, filtered by what the asking person may see.

Members see their organisations' cases and only the shared entries; advisors, operators and
administrators see every case and the internal notes (core.permissions, "case.*").
"""

import contextlib
import uuid

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.core.permissions import allowed
from aifactory.core.taxonomy import JourneyStage, Sector

from .models import Case, CaseEntry, CaseStatus, Visibility

OPEN = "open"  # a status filter: every status but closed
STATUS_FILTERS = [OPEN, *CaseStatus.values]


def cases_visible(user) -> QuerySet[Case]:
    qs = Case.objects.select_related("organisation", "assigned_to", "opened_by")
    if allowed(user, "case.list_all"):
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(organisation__memberships__user=user)


def overdue_q(now=None) -> Q:
    """Open cases whose first answer is late."""
    return Q(first_response_at__isnull=True, first_response_due__lt=now or timezone.now()) & ~Q(
        status=CaseStatus.CLOSED
    )


def is_overdue(case: Case, now=None) -> bool:
    return (
        case.first_response_at is None
        and case.status != CaseStatus.CLOSED
        and case.first_response_due < (now or timezone.now())
    )


def cases_list(
    user,
    *,
    status: str = "",
    stage: str = "",
    sector: str = "",
    overdue: bool = False,
    mine: bool = False,
    unassigned: bool = False,
    organisation=None,
) -> QuerySet[Case]:
    """The list behind the pages, the API and the CLI. An unknown filter value is an error,
    not an empty list. ``mine``: assigned to me; ``overdue``: first answer late."""
    checks = {
        "status": (status, STATUS_FILTERS),
        "stage": (stage, JourneyStage.values),
        "sector": (sector, Sector.values),
    }
    errors = {
        name: [_("Unknown value “%(value)s”.") % {"value": value}]
        for name, (value, known) in checks.items()
        if value and value not in known
    }
    if organisation not in (None, ""):
        try:
            organisation = uuid.UUID(str(organisation))
        except ValueError:
            errors["organisation"] = [_("Unknown value “%(value)s”.") % {"value": organisation}]
    if errors:
        raise ValidationError(errors)
    qs = cases_visible(user)
    if status == OPEN:
        qs = qs.exclude(status=CaseStatus.CLOSED)
    elif status:
        qs = qs.filter(status=status)
    if stage:
        qs = qs.filter(stage=stage)
    if sector:
        qs = qs.filter(sector=sector)
    if overdue:
        qs = qs.filter(overdue_q())
    if mine:
        qs = qs.filter(assigned_to=user) if getattr(user, "pk", None) else qs.none()
    if unassigned:
        qs = qs.filter(assigned_to__isnull=True)
    if organisation:
        qs = qs.filter(organisation_id=organisation)
    return qs.order_by("-created_at")


def case_get(user, key) -> Case:
    """By id or reference. A case the person may not see answers 404, so ids reveal nothing."""
    lookup = Q(reference=str(key).strip().upper())
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(str(key)))
    case = (
        Case.objects.select_related("organisation", "assigned_to", "opened_by")
        .filter(lookup)
        .first()
    )
    if case is None or not allowed(user, "case.view", case):
        raise Http404
    return case


def case_entries(user, case: Case) -> QuerySet[CaseEntry]:
    """The timeline; internal entries only for those who may see them."""
    qs = case.entries.select_related("author").order_by("created_at")
    if not allowed(user, "case.view_internal", case):
        qs = qs.filter(visibility=Visibility.SHARED)
    return qs


def case_counts(user) -> dict[str, int]:
    """Figures for the inbox and the dashboard, over the cases this person sees."""
    qs = cases_visible(user).exclude(status=CaseStatus.CLOSED)
    return {
        "open": qs.count(),
        "overdue": qs.filter(overdue_q()).count(),
        "unassigned": qs.filter(assigned_to__isnull=True).count(),
        "mine": qs.filter(assigned_to=user).count() if getattr(user, "pk", None) else 0,
    }


def case_staff():
    """The people a case can be assigned to, for the assignment form."""
    from django.contrib.auth import get_user_model

    from aifactory.core.roles import StaffRole

    people = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(staff_role__in=[StaffRole.ADVISOR, StaffRole.OPERATOR, StaffRole.ADMINISTRATOR])
            | Q(is_superuser=True)
        )
    )
    return people.order_by("first_name", "last_name", "email")
