"""The demo catalogue: offerings for the Luxembourg AI Factory, loaded by `aifactory seed-demo`."""

import json
from pathlib import Path

from .services import catalog_import, catalog_index_pending

DEMO_FILE = Path(__file__).parent / "demo" / "offerings.json"


def load_demo_catalogue() -> str:
    records = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    result = catalog_import(actor=None, records=records, is_demo=True)
    # Searchable as soon as `make run` is up, without waiting for the worker.
    embedded = catalog_index_pending()
    return (
        f"demo catalogue: {len(result.created)} offerings created, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged, {embedded} embedded for search"
    )


def index_demo_listings() -> str:
    """After the other apps' demo data: their listings (datasets) searchable at once as well."""
    return f"demo listings: {catalog_index_pending()} embedded for search"
