"""Projects under /api/v1/projects: members see theirs (organisation managers their
organisation's, operators every one); the PI and managers ask for changes; operators decide and
import allocations decided elsewhere."""

import json
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import LimitOffsetPagination, paginate

from aifactory.core.permissions import require

from . import projects_selectors as selectors
from .models import Allocation
from .projects_schemas import (
    ApproveIn,
    ChangeRequestIn,
    ChangeRequestOut,
    ImportOut,
    MemberIn,
    MemberOut,
    ProjectDetailOut,
    ProjectOut,
    RefuseIn,
    RoleIn,
)
from .services import projects as services

router = Router(tags=["projects"])

IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "source, external_id, organisation (id, VAT or registration "
                    "number), title, pi (e-mail), members, resources, start, end; optional "
                    "cluster, partition, tranche_policy.",
                }
            }
        },
    }
}


def detail(project):
    """The project with its allocations, each with the current tranche and what remains in it.

    Usage is not measured yet (the compute app will), so what remains is the tranche's share
    plus nothing carried."""
    today = timezone.localdate()
    rows = list(project.allocations.select_related("pool").prefetch_related("tranches"))
    for allocation in rows:
        allocation.current = services.tranche_current(allocation, today)
        allocation.available = services.tranche_available(allocation, today, {})
    project.allocation_rows = rows
    return project


@router.get("", response=list[ProjectOut], summary="Projects I may see")
@paginate(LimitOffsetPagination, max_limit=500)
def projects_list(request: HttpRequest):
    return selectors.projects_visible(request.user).order_by("code")


@router.post(
    "/import-external",
    response={200: ImportOut, 201: ImportOut},
    summary="Import an allocation decided elsewhere (operators)",
    openapi_extra=IMPORT_BODY,
)
def projects_import(request: HttpRequest):
    """Upsert by (source, external_id): 201 when the project is new, 200 when updated. Every
    error is reported at once, by field (422); nothing is written when one is found."""
    from aifactory.api import problem

    require(request.user, "allocation.import")
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        return problem(request, 400, "Bad request", f"The body is not valid JSON: {exc}")
    project, created = services.external_allocation_import(actor=request.user, data=payload)
    return Status(201 if created else 200, {"created": created, "project": detail(project)})


@router.get(
    "/change-requests", response=list[ChangeRequestOut], summary="Open change requests (operators)"
)
def change_requests_pending(request: HttpRequest):
    require(request.user, "project.decide_change")
    return list(selectors.change_requests_pending(request.user))


@router.get(
    "/{key}",
    response=ProjectDetailOut,
    summary="One project with members, allocations, tranches and change requests",
)
def projects_read(request: HttpRequest, key: str):
    """``key`` is the project's id or code."""
    return detail(selectors.project_get(request.user, key))


@router.get("/{key}/members", response=list[MemberOut], summary="The project's members")
def members_list(request: HttpRequest, key: str):
    project = selectors.project_get(request.user, key)
    return list(project.members.select_related("user"))


def _person(email: str):
    person = get_user_model().objects.filter(email__iexact=email.strip(), is_active=True).first()
    if person is None:
        raise ValidationError({"email": _("No one on the hub has this address.")})
    return person


@router.post("/{key}/members", response={201: MemberOut}, summary="Add a member (PI, operators)")
def members_add(request: HttpRequest, key: str, payload: MemberIn):
    project = selectors.project_get(request.user, key)
    require(request.user, "project.manage_members", project)
    member = services.project_member_add(
        actor=request.user, project=project, user=_person(payload.email), role=payload.role
    )
    return Status(201, member)


@router.patch("/{key}/members/{user_id}", response=MemberOut, summary="Change a member's role")
def members_role(request: HttpRequest, key: str, user_id: UUID, payload: RoleIn):
    project = selectors.project_get(request.user, key)
    require(request.user, "project.manage_members", project)
    member = selectors.project_member_get(project, user_id)
    return services.project_member_set_role(actor=request.user, member=member, role=payload.role)


@router.delete("/{key}/members/{user_id}", response={204: None}, summary="Remove a member")
def members_remove(request: HttpRequest, key: str, user_id: UUID):
    project = selectors.project_get(request.user, key)
    require(request.user, "project.manage_members", project)
    member = selectors.project_member_get(project, user_id)
    services.project_member_remove(actor=request.user, member=member)
    return Status(204, None)


@router.get(
    "/{key}/change-requests",
    response=list[ChangeRequestOut],
    summary="The project's change requests",
)
def change_requests_list(request: HttpRequest, key: str):
    project = selectors.project_get(request.user, key)
    return list(project.change_requests.select_related("requested_by", "decided_by"))


@router.post(
    "/{key}/change-requests",
    response={201: ChangeRequestOut},
    summary="Ask for more resources, an extension or new members (PI, managers)",
)
def change_requests_create(request: HttpRequest, key: str, payload: ChangeRequestIn):
    """``details``: ``{"resources": {"gpu_hours": 500}}``, ``{"end": "2027-06-30"}`` or
    ``{"members": [{"email": "...", "role": "member"}]}``."""
    project = selectors.project_get(request.user, key)
    allocation = None
    if payload.allocation:
        allocation = Allocation.objects.filter(project=project, pk=payload.allocation).first()
        if allocation is None:
            raise ValidationError({"allocation": _("This allocation belongs to another project.")})
    change = services.change_request_create(
        actor=request.user,
        project=project,
        kind=payload.kind,
        details=payload.details,
        reason=payload.reason,
        allocation=allocation,
    )
    return Status(201, change)


@router.post(
    "/{key}/change-requests/{change_id}/approve",
    response=ChangeRequestOut,
    summary="Approve and apply (operators)",
)
def change_requests_approve(request: HttpRequest, key: str, change_id: UUID, payload: ApproveIn):
    project = selectors.project_get(request.user, key)
    change = selectors.change_request_get(request.user, project, change_id)
    return services.change_request_approve(
        actor=request.user, change_request=change, note=payload.note
    )


@router.post(
    "/{key}/change-requests/{change_id}/refuse",
    response=ChangeRequestOut,
    summary="Refuse with a reason (operators)",
)
def change_requests_refuse(request: HttpRequest, key: str, change_id: UUID, payload: RefuseIn):
    project = selectors.project_get(request.user, key)
    change = selectors.change_request_get(request.user, project, change_id)
    return services.change_request_refuse(
        actor=request.user, change_request=change, reason=payload.reason
    )
