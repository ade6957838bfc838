"""Allocations decided elsewhere (the EuroHPC federation platform): imported from JSON, upserted
by (source, external_id), all or nothing with every error named by field."""

import contextlib
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _

from aifactory.accounts.models import Organisation
from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record

from ..models import MemberRole, Project, ProjectMember
from .projects_common import (
    TITLE_MAX,
    _clean_allocation,
    _create_allocation,
    _date,
    _mail_allocation,
    _person_by_email,
    _project_code,
    _resources,
    _text,
)
from .projects_tranches import _write_tranches, tranche_split

# --- external allocations ----------------------------------------------------------------------

EXTERNAL_FIELDS = {
    "source",
    "external_id",
    "organisation",
    "title",
    "pi",
    "members",
    "resources",
    "start",
    "end",
    "cluster",
    "partition",
    "tranche_policy",
}
ALLOCATION_KEYS = ("resources", "start", "end", "tranche_policy", "cluster", "partition")


def _organisation_lookup(value: Any) -> Organisation | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    lookup = Q(vat_number__iexact=value) | Q(registration_number__iexact=value)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(value))
    return Organisation.objects.filter(lookup).first()


def _collect(errors: dict, field_fn):
    """Run one field's check, keeping its error instead of stopping at the first."""
    try:
        return field_fn()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    return None


def _clean_external(data: Any) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"__all__": _("Give the allocation as a JSON object.")})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(data) - EXTERNAL_FIELDS):
        errors[key] = [_("Unknown field.")]
    out: dict[str, Any] = {}
    out["source"] = _collect(errors, lambda: slugify(_text("source", data.get("source"), 100)))
    out["external_id"] = _collect(
        errors, lambda: _text("external_id", data.get("external_id"), 200)
    )
    out["title"] = _collect(errors, lambda: _text("title", data.get("title"), TITLE_MAX))
    org = _organisation_lookup(data.get("organisation"))
    if org is None:
        errors["organisation"] = [_("No organisation with this id, VAT or registration number.")]
    out["organisation"] = org
    out["pi"] = _collect(errors, lambda: _person_by_email("pi", data.get("pi")))
    members = []
    raw_members = data.get("members") or []
    if not isinstance(raw_members, list):
        errors["members"] = [_("Give a list of members.")]
        raw_members = []
    for i, item in enumerate(raw_members):
        if isinstance(item, str):
            item = {"email": item}
        if not isinstance(item, dict):
            errors[f"members[{i}]"] = [_("Give an e-mail address and a role.")]
            continue
        person = _collect(
            errors,
            lambda item=item, i=i: _person_by_email(f"members[{i}].email", item.get("email")),
        )
        role = item.get("role") or MemberRole.MEMBER
        if role not in (MemberRole.MANAGER, MemberRole.MEMBER):
            errors[f"members[{i}].role"] = [_("Choose manager or member.")]
        elif person is not None:
            members.append((person, role))
    _collect(errors, lambda: _resources("resources", data.get("resources")))
    _collect(errors, lambda: _date("start", data.get("start")))
    _collect(errors, lambda: _date("end", data.get("end")))
    allocation = None
    if not errors:
        allocation = _collect(
            errors,
            lambda: _clean_allocation(
                {key: data.get(key) for key in ALLOCATION_KEYS}, field="allocation"
            ),
        )
    # The import's fields are flat: report them under their own names.
    for key in list(errors):
        if key.startswith("allocation."):
            errors.setdefault(key.removeprefix("allocation."), []).extend(errors.pop(key))
    if out["pi"] is not None:
        members = [(u, r) for u, r in members if u.pk != out["pi"].pk]
    if len({u.pk for u, _r in members}) != len(members):
        errors.setdefault("members", []).append(_("A person is named twice."))
    if errors:
        raise ValidationError(errors)
    out["members"] = [(out["pi"], MemberRole.PI), *members]
    out["allocation"] = allocation
    return out


def external_allocation_import(*, actor, data: Any) -> tuple[Project, bool]:
    """Create or update a project and its allocation decided elsewhere, by (source, external_id).

    All or nothing: every error is reported at once, by field. On update the title, members
    (the PI and those listed are added or given the stated role; nobody is removed) and the
    allocation's resources, dates and tranches follow the source. Returns (project, created)."""
    require_actor(actor, "allocation.import")
    clean = _clean_external(data)
    with transaction.atomic():
        project = (
            Project.objects.select_for_update()
            .filter(external_source=clean["source"], external_id=clean["external_id"])
            .first()
        )
        created = project is None
        if created:
            project = Project.objects.create(
                code=_project_code(clean["title"]),
                title=clean["title"],
                organisation=clean["organisation"],
                external_source=clean["source"],
                external_id=clean["external_id"],
            )
        else:
            project.title = clean["title"]
            project.organisation = clean["organisation"]
            project.save(update_fields=["title", "organisation", "updated_at"])
        current = {m.user_id: m for m in project.members.all()}
        for user, role in clean["members"]:
            member = current.get(user.pk)
            if member is None:
                ProjectMember.objects.create(project=project, user=user, role=role)
            elif member.role != role:
                member.role = role
                member.save(update_fields=["role", "updated_at"])
        for member in project.members.filter(role=MemberRole.PI).exclude(user=clean["pi"]):
            member.role = MemberRole.MANAGER
            member.save(update_fields=["role", "updated_at"])
        cleaned = clean["allocation"]
        allocation = project.allocations.filter(external_id=clean["external_id"]).first()
        if allocation is None:
            allocation = _create_allocation(project, cleaned, external_id=clean["external_id"])
        else:
            for key in ("resources", "start", "end", "tranche_policy", "cluster", "partition"):
                setattr(allocation, key, cleaned[key])
            allocation.save()
            allocation.tranches.all().delete()
            _write_tranches(
                allocation,
                0,
                tranche_split(
                    allocation.resources,
                    allocation.start,
                    allocation.end,
                    allocation.tranche_policy,
                ),
            )
        audit_record(
            actor=actor,
            action="project.import_external" if created else "project.update_external",
            obj=project,
            changes={
                "source": clean["source"],
                "external_id": clean["external_id"],
                "members": {str(u.pk): r for u, r in clean["members"]},
                "resources": allocation.resources,
                "start": allocation.start,
                "end": allocation.end,
            },
        )
        _mail_allocation(project, allocation)
    return project, created
