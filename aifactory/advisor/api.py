"""Support cases under /api/v1/cases. Members see their organisations' cases and the shared
entries; advisors, operators and administrators see and run every case."""

import contextlib
import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from aifactory.accounts.selectors import organisation_get
from aifactory.catalog.selectors import offering_get
from aifactory.core.permissions import require

from . import selectors
from .schemas import (
    AssignIn,
    CaseDetailOut,
    CaseIn,
    CaseOut,
    EntryOut,
    LinkIn,
    MessageIn,
    NoteIn,
    StatusIn,
    TriageIn,
)
from .services import cases as services

router = Router(tags=["cases"])


class CaseFilters(Schema):
    status: str = ""
    stage: str = ""
    sector: str = ""
    overdue: bool = False
    mine: bool = False
    unassigned: bool = False
    organisation: str = ""


def _detail(request, case):
    case.visible_entries = list(selectors.case_entries(request.user, case))
    return case


@router.get(
    "/cases",
    response=list[CaseOut],
    summary="Support cases (my organisations'; every case for advisors)",
)
@paginate(LimitOffsetPagination, max_limit=500)
def cases_list(request: HttpRequest, filters: Query[CaseFilters]):
    """``status`` is one of new, triaged, in_progress, waiting_for_customer, closed, or ``open``
    (all but closed); ``overdue``: the first answer is late; ``mine``: assigned to me."""
    return selectors.cases_list(request.user, **filters.dict())


@router.post("/cases", response={201: CaseDetailOut}, summary="Ask the factory: open a case")
def cases_create(request: HttpRequest, payload: CaseIn):
    """The need is matched against the catalogue and the results are kept on the case."""
    organisation = organisation_get(request.user, payload.organisation)
    case = services.case_open(
        actor=request.user,
        organisation=organisation,
        need=payload.need,
        subject=payload.subject,
        sector=payload.sector,
    )
    return Status(201, _detail(request, case))


@router.get("/cases/{key}", response=CaseDetailOut, summary="One case with its timeline")
def cases_read(request: HttpRequest, key: str):
    """``key`` is the case's id or its reference (C-2026-00042)."""
    return _detail(request, selectors.case_get(request.user, key))


@router.post("/cases/{key}/messages", response={201: EntryOut}, summary="Write a message")
def cases_message(request: HttpRequest, key: str, payload: MessageIn):
    case = selectors.case_get(request.user, key)
    entry = services.case_message(
        actor=request.user, case=case, body=payload.body, await_customer=payload.await_customer
    )
    return Status(201, entry)


@router.post("/cases/{key}/notes", response={201: EntryOut}, summary="Add a note (staff)")
def cases_note(request: HttpRequest, key: str, payload: NoteIn):
    """``visibility``: ``internal`` (never shown to the customer) or ``shared``."""
    case = selectors.case_get(request.user, key)
    entry = services.case_note(
        actor=request.user, case=case, body=payload.body, visibility=payload.visibility
    )
    return Status(201, entry)


def _staff_person(value: str):
    value = (value or "").strip()
    lookup = Q(email__iexact=value)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(value))
    person = get_user_model().objects.filter(lookup).first()
    if person is None:
        raise ValidationError({"assignee": _("No such person.")})
    return person


@router.post("/cases/{key}/assign", response=CaseOut, summary="Assign an advisor (staff)")
def cases_assign(request: HttpRequest, key: str, payload: AssignIn):
    case = selectors.case_get(request.user, key)
    require(request.user, "case.manage", case)
    assignee = _staff_person(payload.assignee) if payload.assignee else None
    return services.case_assign(actor=request.user, case=case, assignee=assignee)


@router.post("/cases/{key}/triage", response=CaseOut, summary="Journey stage and sector (staff)")
def cases_triage(request: HttpRequest, key: str, payload: TriageIn):
    case = selectors.case_get(request.user, key)
    return services.case_triage(
        actor=request.user, case=case, stage=payload.stage, sector=payload.sector
    )


@router.post("/cases/{key}/status", response=CaseOut, summary="Change the status")
def cases_status(request: HttpRequest, key: str, payload: StatusIn):
    """``closed`` needs a ``reason`` (the customer may only give ``withdrawn``);
    ``in_progress`` on a closed case reopens it."""
    case = selectors.case_get(request.user, key)
    return services.case_set_status(
        actor=request.user, case=case, status=payload.status, reason=payload.reason
    )


def _offering(request, key: str):
    try:
        return offering_get(request.user, key.strip())
    except Http404:
        raise ValidationError({"offering": _("No such offering.")}) from None


@router.post(
    "/cases/{key}/offerings", response=CaseDetailOut, summary="Recommend an offering (staff)"
)
def cases_link(request: HttpRequest, key: str, payload: LinkIn):
    case = selectors.case_get(request.user, key)
    require(request.user, "case.manage", case)
    case = services.case_link_offering(
        actor=request.user, case=case, offering=_offering(request, payload.offering)
    )
    return _detail(request, case)


@router.delete(
    "/cases/{key}/offerings/{offering}",
    response=CaseDetailOut,
    summary="Withdraw a recommendation (staff)",
)
def cases_unlink(request: HttpRequest, key: str, offering: str):
    case = selectors.case_get(request.user, key)
    require(request.user, "case.manage", case)
    case = services.case_unlink_offering(
        actor=request.user, case=case, offering=_offering(request, offering)
    )
    return _detail(request, case)
