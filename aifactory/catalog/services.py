"""Every change of state of the catalogue: offerings, their moderation, and the import.

Moderation: draft → in_review → published → archived; in_review → draft on rejection (with the
reason); archived → draft to revise. A provider's edit of a published offering sends it back to
review, so nothing the operators have not read is ever public; operators' own edits stay published.
"""

import hashlib
import json
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.accounts.models import Organisation
from aifactory.core.errors import InvalidTransition
from aifactory.core.permissions import allowed, require
from aifactory.core.services import audit_record, diff_fields

from .formats import IMPORTED_FIELDS, ImportResult, records_clean
from .models import Offering, OfferingStatus, OfferingType
from .validation import FIELDS, REQUIRED, clean_offering

Status = OfferingStatus
REASON_MAX = 2000
TEXT_FIELDS = ("title", "description", "tags", "provider_name")


def _derive(offering: Offering) -> None:
    """Rebuild the lexical index text and the hash the embedding index compares against."""
    parts = [
        *offering.title.values(),
        *offering.description.values(),
        offering.provider_name,
        *offering.tags,
    ]
    offering.search_text = "\n".join(p for p in parts if p)
    content = {name: getattr(offering, name) for name in TEXT_FIELDS}
    offering.content_hash = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def _audit(actor, action: str, offering: Offering, changes: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=offering,
        changes=changes,
        organisation_id=offering.provider_organisation_id,
    )


def _locked(offering: Offering) -> Offering:
    return Offering.objects.select_for_update().get(pk=offering.pk)


def _organisation(organisation_id) -> Organisation | None:
    if organisation_id in (None, ""):
        return None
    try:
        return Organisation.objects.get(pk=uuid.UUID(str(organisation_id)))
    except (ValueError, Organisation.DoesNotExist):
        raise ValidationError({"provider_organisation_id": _("No such organisation.")}) from None


def offering_create(*, actor, data: dict[str, Any]) -> Offering:
    """A new draft. Managers and owners list for their organisation (``provider_organisation_id``);
    operators for anyone, or for no organisation. Without ``external_id`` one is made up."""
    data = dict(data)
    provider_organisation = _organisation(data.pop("provider_organisation_id", None))
    if provider_organisation is None and not allowed(actor, "offering.moderate"):
        raise ValidationError(
            {"provider_organisation_id": _("Choose the organisation that offers this.")}
        )
    require(actor, "offering.create", provider_organisation)
    if provider_organisation is not None and not data.get("provider_name"):
        data["provider_name"] = provider_organisation.legal_name
    if not data.get("external_id"):
        prefix = data.get("type") if data.get("type") in OfferingType.values else "offering"
        data["external_id"] = f"{prefix}-{uuid.uuid4().hex[:10]}"
    cleaned = clean_offering(data, required=REQUIRED)
    offering = Offering(
        **{**FIELDS, **cleaned}, provider_organisation=provider_organisation, status=Status.DRAFT
    )
    _derive(offering)
    try:
        with transaction.atomic():
            offering.save(force_insert=True)
            _audit(actor, "offering.create", offering, cleaned)
    except IntegrityError:
        raise ValidationError(
            {"external_id": _("An offering with this id exists already.")}
        ) from None
    return offering


def offering_update(*, actor, offering: Offering, data: dict[str, Any]) -> Offering:
    """Change the given fields. Operators may also move the listing to another organisation
    (``provider_organisation_id``), e.g. when a provider takes over an imported listing."""
    require(actor, "offering.edit", offering)
    data = dict(data)
    moderator = allowed(actor, "offering.moderate")
    errors: dict[str, list[str]] = {}
    if "external_id" in data:
        errors["external_id"] = [_("This field cannot be changed.")]
        del data["external_id"]
    new_org = offering.provider_organisation
    if "provider_organisation_id" in data:
        org_id = data.pop("provider_organisation_id")
        if not moderator:
            errors["provider_organisation_id"] = [_("This field cannot be changed.")]
        else:
            try:
                new_org = _organisation(org_id)
            except ValidationError as exc:
                errors.update(exc.message_dict)
    try:
        cleaned = clean_offering(data)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        offering = _locked(offering)
        require(actor, "offering.edit", offering)
        if offering.status == Status.ARCHIVED:
            raise InvalidTransition(_("An archived offering cannot be edited; restore it first."))
        changes = diff_fields(offering, cleaned)
        if new_org != offering.provider_organisation:
            changes["provider_organisation"] = [
                offering.provider_organisation_id,
                new_org.pk if new_org else None,
            ]
            offering.provider_organisation = new_org
        if changes:
            if offering.status == Status.PUBLISHED and not moderator:
                changes["status"] = [offering.status, Status.IN_REVIEW]
                offering.status = Status.IN_REVIEW
            _derive(offering)
            offering.save()
            _audit(actor, "offering.update", offering, changes)
    return offering


def _transition(
    *, actor, offering: Offering, action: str, rule: str, sources, target, refusal: str, **extra
) -> Offering:
    require(actor, rule, offering)
    with transaction.atomic():
        offering = _locked(offering)
        if offering.status not in sources:
            raise InvalidTransition(refusal)
        changes: dict[str, Any] = {"status": [offering.status, target]}
        offering.status = target
        for name, value in extra.items():
            setattr(offering, name, value)
            if name != "reviewed_at":
                changes[name] = value
        offering.save()
        _audit(actor, action, offering, changes)
    return offering


def offering_submit(*, actor, offering: Offering) -> Offering:
    return _transition(
        actor=actor,
        offering=offering,
        action="offering.submit",
        rule="offering.edit",
        sources={Status.DRAFT},
        target=Status.IN_REVIEW,
        refusal=_("Only a draft can be submitted for review."),
    )


def offering_approve(*, actor, offering: Offering) -> Offering:
    """Publish; a rejection reason from an earlier round is cleared."""
    return _transition(
        actor=actor,
        offering=offering,
        action="offering.approve",
        rule="offering.moderate",
        sources={Status.IN_REVIEW},
        target=Status.PUBLISHED,
        refusal=_("Only an offering in review can be approved."),
        reviewed_by=actor,
        reviewed_at=timezone.now(),
        review_note="",
    )


def offering_reject(*, actor, offering: Offering, reason: str) -> Offering:
    """Back to draft with the reason, which the provider sees and answers by editing."""
    reason = _reason(reason)
    return _transition(
        actor=actor,
        offering=offering,
        action="offering.reject",
        rule="offering.moderate",
        sources={Status.IN_REVIEW},
        target=Status.DRAFT,
        refusal=_("Only an offering in review can be rejected."),
        reviewed_by=actor,
        reviewed_at=timezone.now(),
        review_note=reason,
    )


def offering_archive(*, actor, offering: Offering) -> Offering:
    return _transition(
        actor=actor,
        offering=offering,
        action="offering.archive",
        rule="offering.edit",
        sources={Status.DRAFT, Status.IN_REVIEW, Status.PUBLISHED},
        target=Status.ARCHIVED,
        refusal=_("This offering is archived already."),
    )


def offering_restore(*, actor, offering: Offering) -> Offering:
    return _transition(
        actor=actor,
        offering=offering,
        action="offering.restore",
        rule="offering.edit",
        sources={Status.ARCHIVED},
        target=Status.DRAFT,
        refusal=_("Only an archived offering can be restored."),
    )


def _reason(text) -> str:
    if not isinstance(text, str):
        text = ""
    if "\x00" in text:
        raise ValidationError({"reason": _("Remove the invisible NUL character from this text.")})
    text = text.strip()
    if not text:
        raise ValidationError({"reason": _("Give the reason, so the provider can act on it.")})
    if len(text) > REASON_MAX:
        raise ValidationError(
            {
                "reason": _("At most %(limit)d characters (%(count)d given).")
                % {"limit": REASON_MAX, "count": len(text)}
            }
        )
    return text


def catalog_import(*, actor, records: Any, is_demo: bool = False) -> ImportResult:
    """Create or update (by ``id``) every record, published, or nothing at all.

    ``actor=None`` is the system: the command line, run with server access. Every record is
    checked before anything is written; one bad record rejects the whole file (ImportRejected).
    Fields outside the format (AI Act note, eligible countries, provider organisation) of an
    existing offering are kept.
    """
    if actor is not None:
        require(actor, "catalog.import")
    cleaned_records = records_clean(records)
    result = ImportResult()
    now = timezone.now()
    reviewer = actor if getattr(actor, "is_authenticated", False) else None
    ids = [r["external_id"] for r in cleaned_records]
    with transaction.atomic():
        existing = Offering.objects.select_for_update().in_bulk(ids, field_name="external_id")
        for cleaned in cleaned_records:
            offering = existing.get(cleaned["external_id"])
            if offering is None:
                offering = Offering(**{**FIELDS, **cleaned}, status=Status.PUBLISHED)
                offering.is_demo = is_demo
                offering.reviewed_by, offering.reviewed_at = reviewer, now
                _derive(offering)
                offering.save(force_insert=True)
                _audit(actor, "offering.import", offering, {"created": True, **cleaned})
                result.created.append(offering.external_id)
                continue
            changes = diff_fields(
                offering,
                {name: cleaned[name] for name in IMPORTED_FIELDS}
                | {"status": Status.PUBLISHED, "is_demo": is_demo},
            )
            if not changes:
                result.unchanged.append(offering.external_id)
                continue
            offering.reviewed_by, offering.reviewed_at = reviewer, now
            _derive(offering)
            offering.save()
            _audit(actor, "offering.import", offering, changes)
            result.updated.append(offering.external_id)
        audit_record(
            actor=actor,
            action="catalog.import",
            changes={
                "created": len(result.created),
                "updated": len(result.updated),
                "unchanged": len(result.unchanged),
                "is_demo": is_demo,
            },
        )
    return result
