"""Applications under /api/v1/access/applications: the form, the team, evidence files,
submit and withdraw for applicants; eligibility and revision requests for operators."""

import contextlib
import uuid

from django.db.models import Q
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import File, Router, Status
from ninja.files import UploadedFile

from aifactory.accounts.models import Organisation

from . import applications_selectors as selectors
from .applications_schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPatch,
    AttachmentOut,
    EligibilityIn,
    MemberIn,
    MemberOut,
    ReasonIn,
    RevisionIn,
)
from .models import Call
from .services import applications as services

router = Router(tags=["applications"])


def _call(key: str) -> Call:
    lookup = Q(code=key)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(key))
    call = Call.objects.select_related("mode").filter(lookup).first()
    if call is None:
        raise Http404
    return call


@router.get(
    "/applications",
    response=list[ApplicationOut],
    summary="Applications (my organisations'; every one for operators)",
)
def applications_list(
    request: HttpRequest, status: str = "", overdue: bool = False, mine: bool = False
):
    """``overdue=true``: open applications near or past their decision target."""
    return selectors.applications_list(request.user, status=status, overdue=overdue, mine=mine)


@router.post("/applications", response={201: ApplicationOut}, summary="Start a draft")
def applications_create(request: HttpRequest, payload: ApplicationIn):
    data = payload.dict(exclude_unset=True)
    call = _call(data.pop("call"))
    organisation = get_object_or_404(Organisation, pk=data.pop("organisation"))
    application = services.application_create(
        actor=request.user, call=call, organisation=organisation, data=data
    )
    return Status(201, selectors.application_get(request.user, application.pk))


@router.get("/applications/{key}", response=ApplicationOut, summary="One application")
def applications_read(request: HttpRequest, key: str):
    """``key`` is the id or the reference (A-YYYY-NNNNN)."""
    return selectors.application_get(request.user, key)


@router.patch("/applications/{key}", response=ApplicationOut, summary="Save fields of a draft")
def applications_update(request: HttpRequest, key: str, payload: ApplicationPatch):
    application = selectors.application_get(request.user, key)
    services.application_update(
        actor=request.user, application=application, data=payload.dict(exclude_unset=True)
    )
    return selectors.application_get(request.user, application.pk)


def _then(request, application):
    return selectors.application_get(request.user, application.pk)


@router.post("/applications/{key}/submit", response=ApplicationOut, summary="Submit (idempotent)")
def applications_submit(request: HttpRequest, key: str):
    application = selectors.application_get(request.user, key)
    return _then(request, services.application_submit(actor=request.user, application=application))


@router.post("/applications/{key}/withdraw", response=ApplicationOut, summary="Withdraw")
def applications_withdraw(request: HttpRequest, key: str, payload: ReasonIn):
    application = selectors.application_get(request.user, key)
    services.application_withdraw(
        actor=request.user, application=application, reason=payload.reason
    )
    return _then(request, application)


@router.post(
    "/applications/{key}/members", response={201: MemberOut}, summary="Name a person on the team"
)
def applications_member_add(request: HttpRequest, key: str, payload: MemberIn):
    application = selectors.application_get(request.user, key)
    member = services.application_member_add(
        actor=request.user, application=application, **payload.dict()
    )
    return Status(201, member)


@router.delete(
    "/applications/{key}/members/{member_id}", response={204: None}, summary="Remove a person"
)
def applications_member_remove(request: HttpRequest, key: str, member_id: uuid.UUID):
    application = selectors.application_get(request.user, key)
    services.application_member_remove(
        actor=request.user, application=application, member_id=member_id
    )
    return Status(204, None)


@router.post(
    "/applications/{key}/attachments",
    response={201: AttachmentOut},
    summary="Attach evidence (multipart, field 'file': a PDF)",
)
def applications_attach(request: HttpRequest, key: str, file: File[UploadedFile] = None):
    application = selectors.application_get(request.user, key)
    attachment = services.application_attachment_add(
        actor=request.user, application=application, upload=file
    )
    return Status(201, attachment)


@router.post(
    "/applications/{key}/eligibility",
    response=ApplicationOut,
    summary="Confirm or override the eligibility check (operators)",
)
def applications_eligibility(request: HttpRequest, key: str, payload: EligibilityIn):
    application = selectors.application_get(request.user, key)
    services.application_eligibility_decide(
        actor=request.user,
        application=application,
        eligible=payload.eligible,
        reason=payload.reason,
    )
    return _then(request, application)


@router.post(
    "/applications/{key}/revision",
    response=ApplicationOut,
    summary="Ask the applicant for a revision (operators)",
)
def applications_revision(request: HttpRequest, key: str, payload: RevisionIn):
    application = selectors.application_get(request.user, key)
    services.application_request_revision(
        actor=request.user, application=application, note=payload.note
    )
    return _then(request, application)
