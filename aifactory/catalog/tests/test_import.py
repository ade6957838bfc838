"""The import: all or nothing, every error listed, upsert by id, and the export round trip."""

import json

import pytest
from django.core.exceptions import PermissionDenied

from aifactory.catalog import selectors, services
from aifactory.catalog.formats import ImportRejected
from aifactory.catalog.models import Offering
from aifactory.core.models import AuditEvent

from .conftest import record

pytestmark = pytest.mark.django_db


def errors_of(records, actor=None):
    with pytest.raises(ImportRejected) as exc:
        services.catalog_import(actor=actor, records=records)
    return [str(e) for e in exc.value.errors]


def test_an_import_creates_published_offerings(operator):
    result = services.catalog_import(
        actor=operator,
        records=[record(), record(id="course-ml", type="course", stage="upskill")],
        is_demo=True,
    )
    assert result.created == ["sol-bakery-forecast", "course-ml"]
    offering = Offering.objects.get(external_id="course-ml")
    assert (offering.status, offering.stages, offering.is_demo, offering.reviewed_by) == (
        "published",
        ["upskill"],
        True,
        operator,
    )
    assert offering.search_text and len(offering.content_hash) == 64
    assert AuditEvent.objects.filter(action="offering.import").count() == 2
    assert AuditEvent.objects.get(action="catalog.import").changes["created"] == 2


def test_only_operators_import(provider):
    with pytest.raises(PermissionDenied):
        services.catalog_import(actor=provider["owner"], records=[record()])
    assert not Offering.objects.exists()


def test_a_second_import_updates_by_id_and_skips_what_is_unchanged(operator, provider):
    services.catalog_import(actor=operator, records=[record(), record(id="b")])
    offering = Offering.objects.get(external_id="b")
    # What the format does not carry is kept by an update.
    services.offering_update(
        actor=operator,
        offering=offering,
        data={"ai_act_note": "No personal data.", "provider_organisation_id": provider["org"].pk},
    )
    result = services.catalog_import(
        actor=operator, records=[record(), record(id="b", price="on request")]
    )
    assert (result.created, result.updated, result.unchanged) == (
        [],
        ["b"],
        ["sol-bakery-forecast"],
    )
    offering.refresh_from_db()
    assert offering.price == "on request" and offering.ai_act_note == "No personal data."
    assert offering.provider_organisation == provider["org"]
    result = services.catalog_import(actor=operator, records=[record(id="b")])
    assert result.updated == ["b"]
    offering.refresh_from_db()
    assert offering.price == ""  # the file is the truth for its own keys


def test_an_archived_offering_in_the_file_is_published_again(operator):
    services.catalog_import(actor=operator, records=[record()])
    offering = Offering.objects.get()
    services.offering_archive(actor=operator, offering=offering)
    services.catalog_import(actor=operator, records=[record()])
    assert Offering.objects.get().status == "published"


def test_one_bad_record_rejects_the_file_with_every_error_listed(operator):
    services.catalog_import(actor=operator, records=[record(id="kept", price="1 €")])
    records = [
        record(id="kept", price="2 €"),  # good, but must not be written either
        record(id="sol-x", sectors=["finance", "foo"]),
        record(id="long", title="x" * 20_000),
        record(id="typo", colour="red", stage="dream"),
        record(id="types", sectors="finance", tags=[1, 2], url=42, languages="en"),
        record(id=None, provider=None),
        "not an object",
        record(id="dup"),
        record(id="dup"),
        record(id="bad id!", description={"es": "Hola"}),
        record(id="empty", title={"en": "  "}, stage=[], ai_act_risk="extreme"),
        record(id="nul", provider="A\x00B"),
    ]
    errors = errors_of(records, operator)
    assert errors == [
        "record 1 (sol-x): sectors: Unknown sector: “foo”.",
        "record 2 (long): title: At most 200 characters (20000 given).",
        "record 3 (typo): colour: Unknown key.",
        "record 3 (typo): stage: Unknown value “dream”; choose from: discover, assess, "
        "upskill, connect, fund, build, scale.",
        "record 4 (types): sectors: Give a list of texts.",
        "record 4 (types): tags: Give a list of texts.",
        "record 4 (types): languages: Give a list of texts.",
        "record 4 (types): url: Give a text.",
        "record 5: id: This field is required.",
        "record 5: provider: This field is required.",
        "record 6: Each record is a JSON object.",
        "record 8 (dup): id: This id appears more than once in the file (first in record 7).",
        "record 9 (bad id!): id: Use 1 to 100 letters, digits, dots, colons, dashes or "
        "underscores, starting with a letter or digit.",
        "record 9 (bad id!): description: Unknown language es; use en, de, fr, lb.",
        "record 10 (empty): title: en: This field is required.",
        "record 10 (empty): stage: Give at least one journey stage.",
        'record 10 (empty): ai_act_risk: Unknown value “extreme”; choose from: "", minimal, '
        "limited, high, unacceptable, not-applicable.",
        "record 11 (nul): provider: Remove the invisible NUL character from this text.",
    ]
    assert Offering.objects.get().price == "1 €"
    assert Offering.objects.count() == 1
    assert not AuditEvent.objects.filter(action="catalog.import", changes__updated=1).exists()


@pytest.mark.parametrize("records", [{}, "[]", None, 7])
def test_the_file_must_be_an_array(operator, records):
    assert errors_of(records, operator) == ["file: Give a JSON array of offerings."]


def test_html_is_stored_as_text(operator):
    script = "<script>alert('x')</script> & <b>bold</b>"
    services.catalog_import(actor=operator, records=[record(title={"en": script})])
    assert Offering.objects.get().title == {"en": script}


def test_plain_strings_get_their_language_guessed(operator):
    services.catalog_import(
        actor=operator,
        records=[
            record(
                id="de", title="KI für Handwerker", description="Wir zeigen Ihnen, wie das geht."
            ),
            record(id="lb", title="KI fir Betriber", description="Mir weisen Iech wéi dat geet."),
            record(
                id="mixed", title="Predictive maintenance", description={"fr": "Pour vos machines."}
            ),
        ],
    )
    titles = dict(Offering.objects.values_list("external_id", "title"))
    assert titles == {
        "de": {"de": "KI für Handwerker"},
        "lb": {"lb": "KI fir Betriber"},
        "mixed": {"en": "Predictive maintenance"},
    }


def test_export_import_export_is_identical(operator, provider, draft):
    records = [
        record(),
        record(
            id="fund-fit4digital",
            type="funding",
            title={"fr": "Fit 4 Digital", "de": "Fit 4 Digital", "lb": "Fit 4 Digital"},
            description="Aide pour la transformation numérique des PME.",
            stage="fund",
            price="jusqu'à 70 % des coûts",
            deployment=["eu-saas", "on-premises"],
            ai_act_risk="not-applicable",
            for_kinds=["sme", "startup"],
            for_sizes=["small", "micro"],
            tags=["subsidy", "<i>html</i>"],
        ),
    ]
    services.catalog_import(actor=operator, records=records)
    first = selectors.catalog_export()
    assert [r["id"] for r in first] == ["fund-fit4digital", "sol-bakery-forecast"]  # no draft
    funding = first[0]
    assert funding["stage"] == ["fund"] and funding["for_sizes"] == ["micro", "small"]
    assert funding["description"] == {"fr": "Aide pour la transformation numérique des PME."}
    Offering.objects.all().delete()
    services.catalog_import(actor=operator, records=json.loads(json.dumps(first)))
    assert selectors.catalog_export() == first
