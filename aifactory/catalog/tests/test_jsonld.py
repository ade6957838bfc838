"""schema.org JSON-LD of offerings: the right type per offering type, and safe in a script tag."""

import json
import re

import pytest

from aifactory.catalog.jsonld import SCHEMA_TYPES, offering_jsonld, script_tag
from aifactory.catalog.models import Offering, OfferingType

PAGE = "https://hub.example.lu/catalog/x/"


def offering(**changes) -> Offering:
    values = {
        "external_id": "x",
        "type": "solution",
        "title": {"fr": "Prévision des ventes", "de": "Absatzprognose"},
        "description": {"fr": "Prévoit les ventes.", "de": "Sagt den Absatz voraus."},
        "provider_name": "Backstuff S.à r.l.",
        "tags": ["forecasting"],
        "languages": ["fr", "lb"],
        "price": "49 € a month",
    }
    values.update(changes)
    return Offering(**values)


def test_every_offering_type_has_a_schema_org_type():
    assert set(SCHEMA_TYPES) == set(OfferingType.values)


@pytest.mark.parametrize(
    ("kind", "schema_type", "provider_key", "language_key"),
    [
        ("solution", "SoftwareApplication", "provider", "inLanguage"),
        ("service", "Service", "provider", "availableLanguage"),
        ("provider", "Organization", None, "knowsLanguage"),
        ("course", "Course", "provider", "inLanguage"),
        ("funding", "MonetaryGrant", "funder", None),
        ("dataset", "Dataset", "creator", "inLanguage"),
        ("model", "CreativeWork", "creator", "inLanguage"),
    ],
)
def test_each_type_is_described_with_its_own_properties(
    kind, schema_type, provider_key, language_key
):
    data = offering_jsonld(offering(type=kind), page_url=PAGE, language="de")
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == schema_type
    assert data["@id"] == PAGE and data["identifier"] == "x"
    assert data["name"] == "Absatzprognose"
    assert data["description"] == "Sagt den Absatz voraus."
    assert data["keywords"] == ["forecasting"]
    if provider_key:
        assert data[provider_key] == {"@type": "Organization", "name": "Backstuff S.à r.l."}
    if language_key:
        assert data[language_key] == ["fr", "lb"]
    if schema_type in ("SoftwareApplication", "Service", "Course"):
        assert data["offers"] == {"@type": "Offer", "description": "49 € a month"}
    else:
        assert "offers" not in data


def test_texts_fall_back_to_a_language_the_offering_has():
    data = offering_jsonld(offering(), page_url=PAGE, language="en")
    assert data["name"] == "Absatzprognose"  # the hub's order is en, de, fr, lb
    assert data["url"] == PAGE  # no own web address: the page itself
    data = offering_jsonld(offering(url="https://backstuff.example.lu"), page_url=PAGE, language="")
    assert data["url"] == "https://backstuff.example.lu"


def test_the_script_element_cannot_be_closed_or_broken_by_listing_text():
    evil = "</script><script>alert(1)</script> & <!-- <b>"
    data = offering_jsonld(
        offering(title={"en": evil}, tags=[evil], provider_name=evil),
        page_url=PAGE,
        language="en",
    )
    tag = str(script_tag(data))
    assert tag.startswith('<script type="application/ld+json">')
    assert tag.endswith("</script>")
    inner = tag[len('<script type="application/ld+json">') : -len("</script>")]
    assert not re.search(r"[<>&]", inner)
    assert "\\u003C/script\\u003E" in inner and "\\u0026" in inner
    parsed = json.loads(inner)
    assert parsed == data
    assert parsed["name"] == evil
