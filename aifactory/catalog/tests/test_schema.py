"""The published JSON Schema and the import's own check agree, and the schema is served."""

import json
from pathlib import Path

import jsonschema
import pytest
from django.test import Client

from aifactory.catalog.formats import record_clean
from aifactory.catalog.models import AiActRisk, Deployment, OfferingType
from aifactory.catalog.validation import SIZES
from aifactory.core.language import ISO_639_1
from aifactory.core.taxonomy import JourneyStage, OrganisationKind, Sector

from .conftest import record

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "offerings.schema.json").read_text(encoding="utf-8")
)
validator = jsonschema.Draft202012Validator(SCHEMA)

GOOD = [
    record(),
    record(title="Plain string title", description="Plain string description."),
    record(stage="fund", sectors=[], tags=[], languages=[], url=""),
    record(title={"lb": "Eppes", "de": "Etwas"}, url="http://example.lu/path?q=1#top"),
    record(price="free", deployment=["supercomputer"], ai_act_risk="", for_kinds=["public"]),
    record(for_sizes=["micro", "medium"], ai_act_risk="high"),
    record(title={"en": "<script>alert(1)</script>"}),
    record(id="a", title="x" * 200, description="y" * 10_000),
]
BAD = [
    record(id=None),
    record(colour="red"),
    record(type="gadget"),
    record(title=""),
    record(title="   "),
    record(title={}),
    record(title={"es": "Hola"}),
    record(title={"en": ""}),
    record(title="x" * 201),
    record(title=["a list"]),
    record(description="y" * 10_001),
    record(sectors=["astrology"]),
    record(sectors="finance"),
    record(tags=[""]),
    record(tags=["x" * 51]),
    record(tags=[3]),
    record(languages=["xx"]),
    record(languages=["EN"]),
    record(stage=[]),
    record(stage="dream"),
    record(provider=""),
    record(url="ftp://example.lu"),
    record(url="not a url"),
    record(url=None),
    record(deployment=["cloud"]),
    record(ai_act_risk="extreme"),
    record(for_kinds=["family"]),
    record(for_sizes=["unknown"]),
    record(price=5),
    record(id="has space"),
    record(id="-starts-with-dash"),
]


@pytest.mark.parametrize("good", GOOD, ids=range(len(GOOD)))
def test_good_records_pass_both(good):
    assert list(validator.iter_errors(good)) == []
    cleaned, errors = record_clean(0, good)
    assert errors == [] and cleaned is not None


@pytest.mark.parametrize("bad", BAD, ids=range(len(BAD)))
def test_bad_records_fail_both(bad):
    assert list(validator.iter_errors(bad)), f"the schema accepts {bad}"
    cleaned, errors = record_clean(0, bad)
    assert errors and cleaned is None, f"the import accepts {bad}"


def test_the_schema_is_itself_valid_and_names_the_taxonomy():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    props = SCHEMA["properties"]
    assert props["type"]["enum"] == OfferingType.values
    assert props["sectors"]["items"]["enum"] == Sector.values
    assert props["stage"]["oneOf"][0]["enum"] == JourneyStage.values
    assert props["deployment"]["items"]["enum"] == Deployment.values
    assert props["ai_act_risk"]["enum"] == AiActRisk.values
    assert props["for_kinds"]["items"]["enum"] == OrganisationKind.values
    assert props["for_sizes"]["items"]["enum"] == SIZES
    assert set(props["languages"]["items"]["enum"]) == ISO_639_1


def test_the_api_serves_the_schema(db):
    response = Client().get("/api/v1/catalog/schema")
    assert response.status_code == 200
    assert response.json() == SCHEMA
