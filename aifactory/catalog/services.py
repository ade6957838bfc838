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
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.accounts.models import Organisation
from aifactory.core.errors import InvalidTransition
from aifactory.core.permissions import allowed, require, require_actor
from aifactory.core.services import audit_record, diff_fields

from .embeddings import get_embedder, passage_text, to_bytes
from .formats import IMPORTED_FIELDS, ImportResult, records_clean
from .models import Offering, OfferingEmbedding, OfferingStatus, OfferingType
from .validation import FIELDS, REQUIRED, clean_offering

Status = OfferingStatus
REASON_MAX = 2000
TEXT_FIELDS = ("title", "description", "tags", "provider_name")
EMBED_BATCH = 64


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
            _enqueue_embedding([offering.pk])
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
            _enqueue_embedding([offering.pk])
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
    """Publish; a rejection reason from an earlier round is cleared. The embedding task is
    queued again (a no-op when the vector is current) in case the model changed meanwhile."""
    published = _transition(
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
    _enqueue_embedding([published.pk])
    return published


def offering_reject(*, actor, offering: Offering, reason: str) -> Offering:
    """Back to draft with the reason, which the provider sees and answers by editing."""
    require(actor, "offering.moderate", offering)  # a refusal comes before any other message
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


def _offering_upsert(
    *,
    actor,
    offering: Offering | None,
    record: dict[str, Any],
    fields: dict[str, Any],
    stamp: dict[str, Any] | None = None,
) -> tuple[Offering, str]:
    """Create the offering of a checked ``record`` (with ``fields`` its source decides, such as
    the status) or bring an existing one to them, audited as an import; ``stamp`` (who reviewed
    it, when) is written only with a change. Returns the offering and "created", "updated" or
    "unchanged"."""
    stamp = stamp or {}
    if offering is None:
        offering = Offering(**{**FIELDS, **record, **fields, **stamp})
        _derive(offering)
        offering.save(force_insert=True)
        _audit(actor, "offering.import", offering, {"created": True, **record})
        return offering, "created"
    changes = diff_fields(offering, {**record, **fields})
    if not changes:
        return offering, "unchanged"
    for name, value in stamp.items():
        setattr(offering, name, value)
    _derive(offering)
    offering.save()
    _audit(actor, "offering.import", offering, changes)
    return offering, "updated"


def catalog_import(*, actor, records: Any, is_demo: bool = False) -> ImportResult:
    """Create or update (by ``id``) every record, published, or nothing at all.

    ``actor=None`` is the system: the command line, run with server access. Every record is
    checked before anything is written; one bad record rejects the whole file (ImportRejected).
    Fields outside the format (AI Act note, eligible countries, provider organisation) of an
    existing offering are kept.
    """
    require_actor(actor, "catalog.import")
    cleaned_records = records_clean(records)
    result = ImportResult()
    now = timezone.now()
    reviewer = actor if getattr(actor, "is_authenticated", False) else None
    ids = [r["external_id"] for r in cleaned_records]
    with transaction.atomic():
        existing = Offering.objects.select_for_update().in_bulk(ids, field_name="external_id")
        for cleaned in cleaned_records:
            offering, outcome = _offering_upsert(
                actor=actor,
                offering=existing.get(cleaned["external_id"]),
                record={name: cleaned[name] for name in IMPORTED_FIELDS},
                fields={"status": Status.PUBLISHED, "is_demo": is_demo},
                stamp={"reviewed_by": reviewer, "reviewed_at": now},
            )
            getattr(result, outcome).append(offering.external_id)
        if result.created or result.updated:  # the audit log records changes, not no-ops
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
        changed = Offering.objects.filter(external_id__in=result.created + result.updated)
        _enqueue_embedding(list(changed.values_list("pk", flat=True)))
    return result


def _enqueue_embedding(offering_ids) -> None:
    """After the commit, queue one embedding task per offering, so the vector follows the text."""
    from .tasks import offering_embed  # tasks.py imports this module

    def enqueue():
        for pk in offering_ids:
            offering_embed.enqueue(str(pk))

    if offering_ids:
        transaction.on_commit(enqueue)


def _stale(offerings, model: str):
    """Offerings without a vector of this model for their current text."""
    current = OfferingEmbedding.objects.filter(
        offering=OuterRef("pk"), content_hash=OuterRef("content_hash"), model=model
    )
    return offerings.filter(~Exists(current))


def _embed(offerings) -> int:
    """Compute and store vectors for these offerings, in batches; returns how many.

    The hash stored is the one of the text read here, so an edit made meanwhile stays stale
    and is picked up by its own task."""
    embedder = get_embedder()
    pks = list(offerings.values_list("pk", flat=True))
    for start in range(0, len(pks), EMBED_BATCH):
        batch = list(
            Offering.objects.filter(pk__in=pks[start : start + EMBED_BATCH]).only(
                "pk", "title", "description", "content_hash"
            )
        )
        vectors = embedder.embed_passages([passage_text(o) for o in batch])
        now = timezone.now()
        with transaction.atomic():
            for offering, vector in zip(batch, vectors, strict=True):
                OfferingEmbedding.objects.update_or_create(
                    offering_id=offering.pk,
                    defaults={
                        "model": embedder.name,
                        "content_hash": offering.content_hash,
                        "dim": embedder.dim,
                        "vector": to_bytes(vector),
                        "computed_at": now,
                    },
                )
    return len(pks)


def offering_embed_refresh(*, offering_id) -> bool:
    """(Re)compute one offering's vector if it is missing or stale; True if it was computed.

    Drafts and offerings in review are embedded too, so they are searchable the moment they are
    published. Idempotent: a current vector is left alone. No audit event: the vector is derived
    from text whose change was audited."""
    offerings = Offering.objects.filter(pk=offering_id).exclude(status=Status.ARCHIVED)
    return _embed(_stale(offerings, get_embedder().name)) > 0


def catalog_index_pending(
    *, limit: int | None = None, offering_ids=None, everything: bool = False
) -> int:
    """Embed the published offerings whose vector is missing or stale (``everything``: all of
    them), synchronously; ``offering_ids`` narrows it to those. Returns how many were embedded."""
    offerings = Offering.objects.filter(status=Status.PUBLISHED).order_by("pk")
    if offering_ids is not None:
        offerings = offerings.filter(pk__in=list(offering_ids))
    if not everything:
        offerings = _stale(offerings, get_embedder().name)
    if limit is not None:
        offerings = offerings[:limit]
    count = _embed(offerings)
    if count:
        audit_record(
            actor=None,
            action="catalog.index",
            changes={"embedded": count, "model": get_embedder().name, "everything": everything},
        )
    return count


def dataset_listing_sync(*, record: dict[str, Any], listed: bool) -> Offering | None:
    """Keep the catalogue's listing of a dataset in step with the data app (a hook named in
    settings.DATA_LISTING_HOOKS, so that the catalogue imports nothing from data): published
    while the dataset is listed, archived when it is not. The data app owns these listings;
    their moderation is the dataset's publication."""
    external_id = record["external_id"]
    offering = Offering.objects.select_for_update().filter(external_id=external_id).first()
    if not listed:
        if offering is not None and offering.status != Status.ARCHIVED:
            # The status it had: an operator may have moved the listing out of "published".
            changes = diff_fields(offering, {"status": Status.ARCHIVED})
            offering.save(update_fields=["status", "updated_at"])
            _audit(None, "offering.archive", offering, changes)
        return offering
    organisation_id = record.pop("provider_organisation_id", None)
    cleaned = clean_offering(record, required=REQUIRED)
    if cleaned["type"] != OfferingType.DATASET:
        raise ValidationError({"type": _("Only datasets are listed this way.")})
    organisation = _organisation(organisation_id)
    offering, outcome = _offering_upsert(
        actor=None,
        offering=offering,
        record=cleaned,
        fields={
            "status": Status.PUBLISHED,
            "provider_organisation_id": organisation.pk if organisation else None,
        },
    )
    if outcome != "unchanged":
        _enqueue_embedding([offering.pk])
    return offering
