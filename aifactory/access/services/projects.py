"""Projects and allocations: creation, members and change requests. Monthly tranches live in
projects_tranches.py, imported external allocations in projects_external.py, and what they share
in projects_common.py; every public service is exported from here.

Contract for the decision service (review part)
-----------------------------------------------
When an application is accepted (in full or reduced), the decision service calls, inside its own
transaction::

    project_create(
        actor=operator,
        organisation=application.organisation,
        title=application.title,
        members=[(user, MemberRole.PI), (user, MemberRole.MANAGER), ...],  # people on the hub
        allocation={
            "resources": decision.granted,        # {Resource: amount}, amounts >= 0
            "start": date, "end": date,           # end >= start
            "pool": mode.pool,                    # optional CapacityPool
            "tranche_policy": mode.tranche_policy,
            "cluster": "meluxina", "partition": "gpu",
        },
        application=application,
    )

Exactly one member must have the PI role. ``actor=None`` means the system (no permission check). It returns the Project; the project code (a slug of the
title with a short random suffix) and the Slurm account name (lower case, ``[a-z0-9_]``, at most
30 characters, unique) are derived here. Bad input raises ValidationError naming the field;
nothing is written. The PI is mailed after the commit. An allocation on a pool must fit in what
the pool has left (``modes.pool_reserve``, with the pool row locked; the error names
``allocation.resources.<resource>``); so must the resources a change request adds
(``details.resources.<resource>``).

Tranches
--------
Every allocation has tranches: one covering the whole period for the policy ``none``; one per
calendar month for the monthly policies, each holding the consumable resources (GPU and CPU core
hours) pro rata by days, rounded so that the sum is exact (the remainder goes to the last one).
Storage is a quota, not consumed month by month, so it is not split. ``Tranche.amounts`` holds the
month's share; what carries over from earlier months depends on usage and is computed by
``tranche_available`` from the usage the caller passes in (the compute app will measure it).
"""

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.accounts.models import Organisation
from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record

from ..models import (
    Allocation,
    AllocationStatus,
    ChangeKind,
    ChangeRequest,
    ChangeStatus,
    MemberRole,
    Project,
    ProjectMember,
)
from .modes import pool_reserve
from .projects_common import (
    REASON_MAX,
    SLURM_ACCOUNT_MAX,
    TITLE_MAX,
    _clean_allocation,
    _create_allocation,
    _date,
    _mail_allocation,
    _mail_pi,
    _person_by_email,
    _project_code,
    _resources,
    _store,
    _text,
)
from .projects_external import external_allocation_import
from .projects_tranches import (
    CONSUMABLE,
    _number,
    tranche_available,
    tranche_current,
    tranche_recompute_future,
    tranche_split,
)

__all__ = [
    "CONSUMABLE",
    "SLURM_ACCOUNT_MAX",
    "project_create",
    "project_member_add",
    "project_member_set_role",
    "project_member_remove",
    "tranche_split",
    "tranche_current",
    "tranche_available",
    "tranche_recompute_future",
    "change_request_create",
    "change_request_approve",
    "change_request_refuse",
    "external_allocation_import",
]


def _clean_members(members) -> list[tuple[Any, str]]:
    if not members:
        raise ValidationError({"members": _("Name the project's members.")})
    seen = set()
    cleaned = []
    for i, (user, role) in enumerate(members):
        if role not in MemberRole.values:
            raise ValidationError(
                {f"members[{i}].role": _("Unknown value “%(value)s”.") % {"value": role}}
            )
        if user.pk in seen:
            raise ValidationError({f"members[{i}]": _("This person is named twice.")})
        seen.add(user.pk)
        cleaned.append((user, role))
    if sum(1 for _u, role in cleaned if role == MemberRole.PI) != 1:
        raise ValidationError({"members": _("A project has exactly one principal investigator.")})
    return cleaned


def project_create(
    *,
    actor,
    organisation: Organisation,
    title: str,
    members: list[tuple[Any, str]],
    allocation: dict,
    application=None,
) -> Project:
    """Open a project with its members and first allocation (operators only)."""
    require_actor(actor, "project.create")
    title = _text("title", title, TITLE_MAX)
    cleaned_members = _clean_members(members)
    cleaned = _clean_allocation(allocation)
    with transaction.atomic():
        if cleaned["pool"] is not None:
            pool_reserve(cleaned["pool"], cleaned["resources"], field="allocation.resources")
        project = Project.objects.create(
            code=_project_code(title),
            title=title,
            organisation=organisation,
            application=application,
        )
        for user, role in cleaned_members:
            ProjectMember.objects.create(project=project, user=user, role=role)
        created = _create_allocation(project, cleaned)
        audit_record(
            actor=actor,
            action="project.create",
            obj=project,
            changes={
                "title": title,
                "members": {str(u.pk): r for u, r in cleaned_members},
                "allocation": {
                    "resources": created.resources,
                    "start": created.start,
                    "end": created.end,
                    "tranche_policy": created.tranche_policy,
                    "slurm_account": created.slurm_account,
                },
                "application": application.pk if application else None,
            },
        )
        _mail_allocation(project, created)
    return project


# --- members -----------------------------------------------------------------------------------


def _role(field: str, role: str) -> str:
    if role not in MemberRole.values:
        raise ValidationError({field: _("Unknown value “%(value)s”.") % {"value": role}})
    return role


def _locked_project(project: Project) -> Project:
    return Project.objects.select_for_update().get(pk=project.pk)


def project_member_add(*, actor, project: Project, user, role: str) -> ProjectMember:
    """Add a person to the project. A second PI is refused: the PI role moves with set_role."""
    require_actor(actor, "project.manage_members", project)
    role = _role("role", role)
    if role == MemberRole.PI:
        raise ValidationError({"role": _("A project has exactly one principal investigator.")})
    with transaction.atomic():
        _locked_project(project)
        if project.members.filter(user=user).exists():
            raise ServiceError(_("This person is already a member."), field="user")
        member = ProjectMember.objects.create(project=project, user=user, role=role)
        audit_record(
            actor=actor,
            action="project.member_add",
            obj=project,
            changes={"user": user.pk, "role": role},
        )
    return member


def project_member_set_role(*, actor, member: ProjectMember, role: str) -> ProjectMember:
    """Change a member's role. Making someone PI hands the role over: the former PI becomes a
    manager, so there is always exactly one."""
    project = member.project
    require_actor(actor, "project.manage_members", project)
    role = _role("role", role)
    with transaction.atomic():
        _locked_project(project)
        member.refresh_from_db()
        old = member.role
        if old == role:
            return member
        if old == MemberRole.PI:
            raise ServiceError(
                _("Make another member the principal investigator first."), field="role"
            )
        changes = {"user": member.user_id, "role": [old, role]}
        if role == MemberRole.PI:
            previous = project.members.filter(role=MemberRole.PI).first()
            if previous is not None:
                previous.role = MemberRole.MANAGER
                previous.save(update_fields=["role", "updated_at"])
                changes["previous_pi"] = previous.user_id
        member.role = role
        member.save(update_fields=["role", "updated_at"])
        audit_record(actor=actor, action="project.member_role", obj=project, changes=changes)
    return member


def project_member_remove(*, actor, member: ProjectMember) -> None:
    """Remove a member; the PI stays (hand the role over first)."""
    project = member.project
    require_actor(actor, "project.manage_members", project)
    with transaction.atomic():
        _locked_project(project)
        member.refresh_from_db()
        if member.role == MemberRole.PI:
            raise ServiceError(
                _("The principal investigator stays; make another member PI first."),
                field="user",
            )
        user_id = member.user_id
        member.delete()
        audit_record(
            actor=actor, action="project.member_remove", obj=project, changes={"user": user_id}
        )


# --- change requests ---------------------------------------------------------------------------


def _clean_new_members(project: Project, members: Any, field: str) -> list[dict]:
    if not isinstance(members, list) or not members:
        raise ValidationError({field: _("Name at least one person.")})
    cleaned = []
    seen = set()
    for i, item in enumerate(members):
        if isinstance(item, str):
            item = {"email": item, "role": MemberRole.MEMBER}
        if not isinstance(item, dict):
            raise ValidationError({f"{field}[{i}]": _("Give an e-mail address and a role.")})
        person = _person_by_email(f"{field}[{i}].email", item.get("email"))
        role = item.get("role") or MemberRole.MEMBER
        if role not in (MemberRole.MANAGER, MemberRole.MEMBER):
            raise ValidationError({f"{field}[{i}].role": _("Choose manager or member.")})
        if person.pk in seen or project.members.filter(user=person).exists():
            raise ValidationError(
                {
                    f"{field}[{i}].email": _("%(email)s is already a member.")
                    % {"email": person.email}
                }
            )
        seen.add(person.pk)
        cleaned.append({"email": person.email, "role": role})
    return cleaned


def _clean_details(project: Project, allocation: Allocation | None, kind: str, details: Any):
    if not isinstance(details, dict):
        details = {}
    if kind == ChangeKind.RESOURCES:
        return {"resources": _resources("details.resources", details.get("resources"))}
    if kind == ChangeKind.EXTENSION:
        end = _date("details.end", details.get("end"))
        if allocation is not None and end <= allocation.end:
            raise ValidationError(
                {
                    "details.end": _("The new end must be after the current end (%(end)s).")
                    % {"end": allocation.end.isoformat()}
                }
            )
        return {"end": end.isoformat()}
    return {"members": _clean_new_members(project, details.get("members"), "details.members")}


def change_request_create(
    *, actor, project: Project, kind: str, details: dict, reason: str, allocation=None
) -> ChangeRequest:
    """The PI or a manager asks for more resources, an extension or new members."""
    require_actor(actor, "project.request_change", project)
    if kind not in ChangeKind.values:
        raise ValidationError({"kind": _("Unknown value “%(value)s”.") % {"value": kind}})
    reason = _text("reason", reason, REASON_MAX)
    if allocation is None and kind != ChangeKind.MEMBERS:
        allocation = project.allocations.order_by("-start").first()
        if allocation is None:
            raise ValidationError({"allocation": _("The project has no allocation.")})
    if allocation is not None and allocation.project_id != project.pk:
        raise ValidationError({"allocation": _("This allocation belongs to another project.")})
    cleaned = _clean_details(project, allocation, kind, details)
    with transaction.atomic():
        change = ChangeRequest.objects.create(
            project=project,
            allocation=allocation,
            kind=kind,
            details=cleaned,
            reason=reason,
            requested_by=actor,
        )
        audit_record(
            actor=actor,
            action="change_request.create",
            obj=change,
            changes={"kind": kind, "details": cleaned},
            organisation_id=project.organisation_id,
        )
    return change


def _locked_change(change: ChangeRequest) -> ChangeRequest:
    locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if locked.status != ChangeStatus.REQUESTED:
        raise InvalidTransition(
            _("This change request is already %(status)s.")
            % {"status": locked.get_status_display()}
        )
    return locked


def _apply(change: ChangeRequest, today: date) -> dict:
    if change.kind == ChangeKind.MEMBERS:
        details = _clean_new_members(
            change.project, change.details.get("members"), "details.members"
        )
        added = []
        for item in details:
            person = get_user_model().objects.get(email__iexact=item["email"])
            ProjectMember.objects.create(project=change.project, user=person, role=item["role"])
            added.append(person.pk)
        return {"members_added": added}
    allocation = Allocation.objects.select_for_update().get(pk=change.allocation_id)
    before = {"resources": dict(allocation.resources), "end": allocation.end}
    if change.kind == ChangeKind.RESOURCES:
        if allocation.pool_id and allocation.status == AllocationStatus.ACTIVE:
            # The pool counts the active allocation already: only what is added must fit.
            pool_reserve(allocation.pool, change.details["resources"], field="details.resources")
        merged = dict(allocation.resources)
        for key, value in change.details["resources"].items():
            merged[key] = _store(_number(merged.get(key, 0)) + _number(value))
        allocation.resources = merged
    else:
        new_end = date.fromisoformat(change.details["end"])
        if new_end <= allocation.end:
            raise ServiceError(
                _("The new end must be after the current end (%(end)s).")
                % {"end": allocation.end.isoformat()},
                field="details.end",
            )
        allocation.end = new_end
    allocation.save(update_fields=["resources", "end", "updated_at"])
    tranche_recompute_future(allocation, today)
    return {
        "resources": [before["resources"], allocation.resources],
        "end": [before["end"], allocation.end],
    }


def _mail_decision(change: ChangeRequest) -> None:
    project = change.project
    outcome = change.get_status_display()
    _mail_pi(
        project,
        _("Change request for project %(code)s: %(outcome)s")
        % {"code": project.code, "outcome": outcome},
        _("Your request (%(kind)s) for project %(code)s was %(outcome)s.%(note)s")
        % {
            "kind": change.get_kind_display(),
            "code": project.code,
            "outcome": outcome,
            "note": f"\n\n{change.decision_note}" if change.decision_note else "",
        },
    )


def change_request_approve(
    *, actor, change_request: ChangeRequest, note: str = "", today: date | None = None
) -> ChangeRequest:
    """Approve and apply: resources added, end moved (tranches recomputed for the months to
    come), or members added. ``today`` is for tests and back-dated decisions."""
    require_actor(actor, "project.decide_change", change_request.project)
    today = today or timezone.localdate()
    note = (note or "").strip()[:REASON_MAX]
    with transaction.atomic():
        change = _locked_change(change_request)
        applied = _apply(change, today)
        change.status = ChangeStatus.APPROVED
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.decision_note = note
        change.save()
        audit_record(
            actor=actor,
            action="change_request.approve",
            obj=change,
            changes={"status": [ChangeStatus.REQUESTED, ChangeStatus.APPROVED], **applied},
            organisation_id=change.project.organisation_id,
        )
        _mail_decision(change)
    return change


def change_request_refuse(*, actor, change_request: ChangeRequest, reason: str) -> ChangeRequest:
    require_actor(actor, "project.decide_change", change_request.project)
    reason = _text("reason", reason, REASON_MAX)
    with transaction.atomic():
        change = _locked_change(change_request)
        change.status = ChangeStatus.REFUSED
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.decision_note = reason
        change.save()
        audit_record(
            actor=actor,
            action="change_request.refuse",
            obj=change,
            changes={"status": [ChangeStatus.REQUESTED, ChangeStatus.REFUSED], "reason": reason},
            organisation_id=change.project.organisation_id,
        )
        _mail_decision(change)
    return change
