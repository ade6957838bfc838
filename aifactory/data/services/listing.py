"""Datasets in the catalogue's search and matchmaking.

The catalogue keeps one index of everything a business may find; a listed dataset (published, not
internal, still in its source) is an offering of type ``dataset`` there. The data app does not
import the catalogue (DESIGN.md): it hands a plain record to the hooks in
``settings.DATA_LISTING_HOOKS`` after the commit, and the catalogue's hook writes the offering.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from ..models import Dataset

__all__ = ["dataset_listing_notify", "dataset_listing_record"]

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "de", "fr", "lb")
# EU data themes → the hub's sectors.
THEME_SECTORS = {
    "AGRI": "agriculture",
    "ECON": "finance",
    "EDUC": "education",
    "ENER": "energy",
    "ENVI": "sustainability",
    "GOVE": "public-sector",
    "HEAL": "health",
    "JUST": "legal",
    "REGI": "public-sector",
    "SOCI": "public-sector",
    "TECH": "research",
    "TRAN": "logistics",
    "INTR": "general",
}


def _texts(values: dict, limit: int) -> dict:
    return {k: v[:limit] for k, v in (values or {}).items() if k in LANGUAGES and v}


def dataset_listing_record(dataset: Dataset) -> tuple[dict, bool]:
    """The catalogue record of a dataset, and whether it is listed now (and still in its
    source, for harvested datasets)."""
    listed = dataset.is_listed and dataset.gone_at is None
    title = _texts(dataset.title, 300)
    description = _texts(dataset.description, 5000) or title
    sectors = sorted({THEME_SECTORS[t] for t in dataset.themes if t in THEME_SECTORS})
    record = {
        "external_id": f"data-{dataset.pk}",
        "type": "dataset",
        "title": title,
        "description": description,
        "sectors": sectors,
        "tags": [k[:50] for k in dataset.keywords if isinstance(k, str) and k.strip()][:30],
        "languages": sorted(title),
        "stages": ["build"],
        "provider_name": dataset.publisher.legal_name[:200],
        "provider_organisation_id": str(dataset.publisher_id),
        "url": f"{settings.SITE_URL}/datasets/{dataset.slug}/",
    }
    return record, listed


def dataset_listing_notify(dataset: Dataset) -> None:
    """After the commit, tell the hooks how the dataset is listed now. A hook that fails is
    logged and rolled back: the dataset's own change stands, and the next change retries."""
    record, listed = dataset_listing_record(dataset)

    def call():
        for name in settings.DATA_LISTING_HOOKS:
            try:
                with transaction.atomic():
                    import_string(name)(record=dict(record), listed=listed)
            except Exception:
                logger.exception("dataset listing hook %s failed for %s", name, dataset.pk)

    transaction.on_commit(call)
