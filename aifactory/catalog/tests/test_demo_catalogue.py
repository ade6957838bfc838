"""The demo catalogue shipped with the app imports cleanly and round-trips through export."""

import json
from pathlib import Path

from aifactory.catalog import selectors, services
from aifactory.catalog.models import Offering

DEMO = Path(services.__file__).parent / "demo" / "offerings.json"


def test_demo_catalogue_imports_and_exports(db):
    records = json.loads(DEMO.read_text(encoding="utf-8"))
    assert len(records) >= 150
    services.catalog_import(actor=None, records=records, is_demo=True)
    assert Offering.objects.filter(is_demo=True, status="published").count() == len(records)
    exported = {r["id"]: r for r in selectors.catalog_export()}
    assert set(exported) == {r["id"] for r in records}
    # Importing the same file again changes nothing.
    services.catalog_import(actor=None, records=records, is_demo=True)
    assert Offering.objects.count() == len(records)


def test_seed_demo_loads_the_catalogue_once(db):
    from django.core.management import call_command

    call_command("seed_demo")
    count = Offering.objects.filter(is_demo=True).count()
    assert count == len(json.loads(DEMO.read_text(encoding="utf-8")))
    call_command("seed_demo")
    assert Offering.objects.count() == count


def test_an_import_that_changes_nothing_is_not_audited(db):
    from aifactory.core.models import AuditEvent

    records = json.loads(DEMO.read_text(encoding="utf-8"))[:5]
    services.catalog_import(actor=None, records=records)
    assert AuditEvent.objects.filter(action="catalog.import").count() == 1
    services.catalog_import(actor=None, records=records)
    assert AuditEvent.objects.filter(action="catalog.import").count() == 1
