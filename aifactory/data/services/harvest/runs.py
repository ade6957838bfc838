"""A run: every dataset of the document created, updated or marked gone, and the bookkeeping."""

import datetime
import hashlib
import json
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from aifactory.core.errors import NotFound
from aifactory.core.services import audit_record

from ...models import AccessRights, Dataset, DatasetStatus, HarvestRun, HarvestSource, HarvestStatus
from ..datasets import _assess, _free_slug
from .mapping import harvest_records
from .parsing import HarvestError, _max_bytes, _read, harvest_parse

logger = logging.getLogger(__name__)
# Strictness of access rights: a harvest may tighten a dataset's rights, never loosen them.
STRICTNESS = {
    AccessRights.PUBLIC: 0,
    AccessRights.REGISTERED: 1,
    AccessRights.RESTRICTED: 2,
    AccessRights.INTERNAL: 3,
}


def _hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _harvested_slug(title: dict, identifier: str) -> str:
    return _free_slug(
        slugify(title.get("en") or next(iter(title.values()), "")) or slugify(identifier)
    )


def _listed(dataset: Dataset) -> None:
    """Tell the catalogue's search (services/listing.py) how the dataset is listed now."""
    from ..listing import dataset_listing_notify

    dataset_listing_notify(dataset)


def _apply(dataset: Dataset, data: dict) -> None:
    for field, value in data.items():
        if field in ("temporal_start", "temporal_end"):
            value = datetime.date.fromisoformat(value) if value else None
        elif field == "issued_at":
            value = datetime.datetime.fromisoformat(value) if value else None
        setattr(dataset, field, value)


def _not_public_if_personal(dataset: Dataset, notes: list[str]) -> None:
    if dataset.personal_data and dataset.access_rights == AccessRights.PUBLIC:
        dataset.access_rights = AccessRights.RESTRICTED
        notes.append(_("The dataset holds personal data, so it is restricted rather than public."))


def _upsert(source: HarvestSource, identifier: str, data: dict, now, notes: list[str]) -> str:
    """Create or update one dataset; "created", "updated" or "unchanged". An existing dataset
    keeps the access rights and personal-data flag its stewards set, unless the source's rights
    are stricter; a dataset with personal data is never public (``notes`` says when a harvest
    made one restricted)."""
    digest = _hash(data)
    dataset = (
        Dataset.objects.select_for_update().filter(source=source, identifier=identifier).first()
    )
    if dataset is None:
        dataset = Dataset(
            publisher=source.publisher,
            source=source,
            identifier=identifier,
            slug=_harvested_slug(data["title"], identifier),
            status=DatasetStatus.PUBLISHED,
        )
        _apply(dataset, data)
        _not_public_if_personal(dataset, notes)
        dataset.issued_at = dataset.issued_at or now
        dataset.source_hash = digest
        _assess(dataset)
        dataset.save()
        _listed(dataset)
        return "created"
    came_back = dataset.gone_at is not None
    if (
        dataset.source_hash == digest
        and not came_back
        and dataset.publisher_id == source.publisher_id
    ):
        return "unchanged"
    local_rights, local_personal = dataset.access_rights, dataset.personal_data
    _apply(dataset, data)
    if STRICTNESS.get(dataset.access_rights, 0) < STRICTNESS.get(local_rights, 0):
        dataset.access_rights = local_rights
    dataset.personal_data = local_personal or bool(data.get("personal_data"))
    _not_public_if_personal(dataset, notes)
    dataset.issued_at = dataset.issued_at or now
    dataset.publisher = source.publisher
    dataset.source_hash = digest
    if came_back:
        dataset.gone_at = None
        dataset.status = DatasetStatus.PUBLISHED
    _assess(dataset)
    dataset.save()
    _listed(dataset)
    return "updated"


def _finish(source: HarvestSource, run: HarvestRun, status: HarvestStatus, error: str = "") -> dict:
    now = timezone.now()
    run.status, run.finished_at = status, now
    run.save()
    counts = {
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "gone": run.gone,
        "errors": len(run.errors),
    }
    HarvestSource.objects.filter(pk=source.pk).update(
        last_status=status, last_error=error, last_counts=counts, updated_at=now
    )
    return {
        "run": str(run.pk),
        "source": source.name,
        "status": str(status),
        "error": error,
        **counts,
    }


def harvest_run(source_id: str) -> dict:
    """Harvest one source now (the background task ``harvest_source``; the system acts). Returns
    the run's counts: created, updated, unchanged, gone, errors, and its status ("done", or
    "failed" with the error when the document could not be read)."""
    source = HarvestSource.objects.select_related("publisher").filter(pk=source_id).first()
    if source is None:
        raise NotFound(_("No such harvest source."))
    started = timezone.now()
    HarvestSource.objects.filter(pk=source.pk).update(
        last_run_at=started, last_status=HarvestStatus.RUNNING
    )
    run = HarvestRun.objects.create(source=source)
    try:
        raw, name = _read(source)
        if len(raw) > _max_bytes():
            raise HarvestError(
                _("The document is larger than the limit of %(mb)s MB.")
                % {"mb": settings.DATA_HARVEST_MAX_MB}
            )
        graph, notes = harvest_parse(raw, name)
    except HarvestError as exc:
        run.errors = [{"identifier": "", "error": str(exc)}]
        result = _finish(source, run, HarvestStatus.FAILED, str(exc))
        _audit_run(source, result)
        return result
    run.errors = [{"identifier": "", "error": note} for note in notes]
    records = harvest_records(graph)
    seen: set[str] = set()
    for identifier, data, error in records:
        if identifier:
            seen.add(identifier)
        if error:
            run.errors.append({"identifier": identifier or "", "error": error})
            continue
        notes = []
        try:
            with transaction.atomic():
                outcome = _upsert(source, identifier, data, started, notes)
        except Exception as exc:  # one bad dataset does not stop the others
            logger.exception("harvest %s: dataset %s failed", source.name, identifier)
            run.errors.append(
                {"identifier": identifier, "error": f"{exc.__class__.__name__}: {exc}"}
            )
            continue
        setattr(run, outcome, getattr(run, outcome) + 1)
        run.errors += [{"identifier": identifier, "error": note} for note in notes]
    with transaction.atomic():
        gone = list(
            Dataset.objects.select_for_update()
            .filter(source=source, gone_at__isnull=True)
            .exclude(identifier__in=seen)
        )
        for dataset in gone:
            dataset.gone_at = started
            dataset.status = DatasetStatus.ARCHIVED
            dataset.save(update_fields=["gone_at", "status", "updated_at"])
            _listed(dataset)
        run.gone = len(gone)
    result = _finish(source, run, HarvestStatus.DONE)
    _audit_run(source, result)
    return result


def _audit_run(source: HarvestSource, result: dict) -> None:
    audit_record(
        actor=None,
        action="harvest_source.harvest",
        obj=source,
        organisation_id=source.publisher_id,
        changes={k: v for k, v in result.items() if k not in ("source",)},
    )
