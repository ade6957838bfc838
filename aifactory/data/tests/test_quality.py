"""Quality: the metadata score, the publisher's checks and their validation, the declared schema
and key, freshness, and the data quality score with its reasons."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aifactory.core.models import AuditEvent
from aifactory.data import services
from aifactory.data.models import Dataset, DatasetVersion
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import add_csv_version, add_version, make_dataset

pytestmark = pytest.mark.django_db

# 10 rows: id unique but 7 repeated once (so 9 distinct), kind in {a, b} plus one "z",
# amount 0..90 with one -5 and one null, code pattern AA9 but one "x1".
TEXT = "id,kind,amount,code\n" + "".join(
    f"{i if i != 9 else 7},{'z' if i == 4 else 'ab'[i % 2]},"
    f"{'' if i == 5 else (-5 if i == 2 else i * 10)},{'x1' if i == 3 else f'LU{i}'}\n"
    for i in range(10)
)


def profiled(dataset, text=TEXT, name="data.csv"):
    version = add_csv_version(dataset, text, name=name)
    services.version_profile(str(version.pk))
    version.refresh_from_db()
    return version


def by(results, check, **where):
    found = [
        r for r in results if r["check"] == check and all(r.get(k) == v for k, v in where.items())
    ]
    assert len(found) == 1, (check, where, results)
    return found[0]


# --- metadata ---------------------------------------------------------------------------------


def test_metadata_score_counts_each_field():
    empty = Dataset(title={"en": "x"})
    score, reasons = services.metadata_assess(empty)
    assert score == 0
    assert sum(r["max"] for r in reasons) == 100
    assert {r["field"] for r in reasons} >= {"description", "licence", "contact", "formats"}
    full = Dataset(
        title={"en": "x"},
        description={"en": "d" * 120},
        licence="CC_BY_4_0",
        contact_email="a@b.lu",
        spatial="LUX",
        temporal_start=datetime.date(2020, 1, 1),
        temporal_end=datetime.date(2024, 1, 1),
        frequency="MONTHLY",
        keywords=["a", "b", "c"],
        themes=["ENER"],
        conformance=["https://example.org/schema"],
        provenance="Measured by meters.",
        landing_page="https://example.org",
    )
    score, reasons = services.metadata_assess(full)
    # Everything but the formats of a newest version (there is none before saving).
    assert score == 94
    assert [r["field"] for r in reasons if r["points"] < r["max"]] == ["formats"]
    full.description = {"en": "short but not nothing at all"}
    full.keywords = ["a"]
    score2, reasons2 = services.metadata_assess(full)
    assert score2 == 94 - 20 - 4
    assert {r["field"]: r["points"] for r in reasons2}["keywords"] == 4


def test_metadata_formats_follow_the_newest_version(publisher):
    dataset = make_dataset(publisher["org"])
    add_version(dataset, [("a.csv", b"a\n1\n"), ("b.pdf", b"%PDF-1.4")])
    _score, reasons = services.metadata_assess(dataset)
    formats = next(r for r in reasons if r["field"] == "formats")
    assert formats["points"] == 3 and formats["max"] == 6
    add_csv_version(dataset)
    _score, reasons = services.metadata_assess(dataset)
    assert next(r for r in reasons if r["field"] == "formats")["points"] == 6


# --- validation of checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "checks, index, field",
    [
        ([{"check": "nope"}], 1, "check"),
        ([{"check": "not_null"}], 1, "column"),
        (
            [{"check": "not_null", "column": "id"}, {"check": "not_null", "column": "zz"}],
            2,
            "column",
        ),
        ([{"check": "between", "column": "amount"}], 1, "min"),
        ([{"check": "in_set", "column": "kind", "values": []}], 1, "values"),
        ([{"check": "matches", "column": "code", "pattern": "(["}], 1, "pattern"),
        ([{"check": "max_null_share", "column": "id", "value": 2}], 1, "value"),
        ([{"check": "unique", "columns": "id"}], 1, "columns"),
        ([{"check": "row_count", "min": -1}], 1, "min"),
        ([{"check": "not_null", "column": "id", "weight": 0}], 1, "weight"),
        ([{"check": "not_null", "column": "id", "colour": "red"}], 1, "colour"),
    ],
)
def test_checks_validate_names_the_item_and_field(checks, index, field):
    with pytest.raises(ValidationError) as info:
        services.checks_validate(checks, [{"name": n} for n in ("id", "kind", "amount", "code")])
    message = info.value.message_dict["checks"][0]
    assert f"Check {index}," in message and f"“{field}”" in message


def test_checks_validate_accepts_the_documented_examples():
    services.checks_validate(
        [
            {"check": "not_null", "column": "x"},
            {"check": "unique", "columns": ["a", "b"]},
            {"check": "between", "column": "x", "min": 0, "max": 10},
            {"check": "in_set", "column": "c", "values": ["a", "b"]},
            {"check": "matches", "column": "e", "pattern": "^[^@]+@[^@]+$"},
            {"check": "row_count", "min": 1},
            {
                "check": "max_null_share",
                "column": "x",
                "value": 0.05,
                "name": "few gaps",
                "weight": 2,
            },
        ],
        [],
    )


# --- data quality -----------------------------------------------------------------------------


def test_each_check_counts_failures(publisher):
    dataset = make_dataset(
        publisher["org"],
        frequency="",
        checks=[
            {"check": "not_null", "column": "amount"},
            {"check": "unique", "columns": ["id"]},
            {"check": "between", "column": "amount", "min": 0, "max": 100},
            {"check": "in_set", "column": "kind", "values": ["a", "b"]},
            {"check": "matches", "column": "code", "pattern": "^[A-Z]{2}[0-9]$"},
            {"check": "row_count", "min": 5, "max": 20},
            {"check": "max_null_share", "column": "amount", "value": 0.05, "name": "gaps"},
        ],
    )
    version = profiled(dataset)
    r = version.quality_results
    assert (by(r, "not_null", column="amount")["failed"], by(r, "not_null")["total"]) == (1, 10)
    assert by(r, "unique")["failed"] == 1
    assert (by(r, "between")["failed"], by(r, "between")["total"]) == (1, 9)
    assert by(r, "in_set")["failed"] == 1
    assert by(r, "matches")["failed"] == 1
    assert by(r, "row_count")["passed"] is True and by(r, "row_count")["value"] == 10
    gaps = by(r, "max_null_share")
    assert gaps["passed"] is False and gaps["value"] == 0.1 and gaps["name"] == "gaps"
    completeness = by(r, "completeness")
    assert (completeness["failed"], completeness["total"]) == (1, 40)
    assert by(r, "between")["score"] == pytest.approx(100 * 8 / 9, abs=0.1)
    # The score is the weighted mean, and the deductions add up to what is missing.
    weights = sum(x["weight"] for x in r)
    expected = round(sum(x["score"] * x["weight"] for x in r) / weights)
    assert version.quality_score == expected < 100
    assert sum(x["deduction"] for x in r) == pytest.approx(100 - expected, abs=1)


def test_declared_schema_and_key(publisher):
    dataset = make_dataset(
        publisher["org"],
        frequency="",
        declared_schema=[
            {"name": "id", "type": "integer", "required": True},
            {"name": "kind", "type": "string", "allowed": ["a", "b"]},
            {"name": "code", "type": "integer", "pattern": "^LU"},
            {"name": "amount", "type": "number", "min": 0},
            {"name": "missing", "type": "date"},
        ],
        key_columns=["id"],
    )
    r = profiled(dataset).quality_results
    assert by(r, "type", column="id")["passed"] is True
    code_type = by(r, "type", column="code")
    assert (code_type["failed"], code_type["total"]) == (10, 10)
    assert by(r, "matches", column="code")["failed"] == 1
    assert by(r, "in_set", column="kind")["failed"] == 1
    assert by(r, "between", column="amount")["failed"] == 1
    assert by(r, "not_null", column="id")["passed"] is True
    missing = [x for x in r if x.get("column") == "missing"]
    assert len(missing) == 2 and all(x["score"] == 0 and not x["passed"] for x in missing)
    key = by(r, "key")
    assert key["failed"] == 1 and key["weight"] == 3 and key["passed"] is False


def test_clean_data_scores_100(publisher):
    dataset = make_dataset(publisher["org"], key_columns=["id"], frequency="ANNUAL")
    version = profiled(dataset, "id,x\n1,a\n2,b\n")
    assert version.quality_score == 100
    assert all(x["passed"] for x in version.quality_results)
    assert {x["check"] for x in version.quality_results} == {"completeness", "key", "freshness"}


def test_freshness_against_the_update_frequency(publisher):
    dataset = make_dataset(publisher["org"], frequency="WEEKLY")
    version = profiled(dataset, "id\n1\n")
    DatasetVersion.objects.filter(pk=version.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=32)
    )
    score, results = services.version_check_quality(version)
    fresh = by(results, "freshness")
    assert fresh["passed"] is False and fresh["value"] == 32 and fresh["limit"] == 8
    assert fresh["score"] == pytest.approx(100 * 8 / 32)
    assert score < 100
    # Data that covers until recently is fresh even when uploaded long ago.
    Dataset.objects.filter(pk=dataset.pk).update(temporal_end=timezone.now().date())
    _score, results = services.version_check_quality(version)
    assert by(results, "freshness")["passed"] is True


def test_checks_run_on_every_file_that_has_the_column(publisher):
    dataset = make_dataset(
        publisher["org"], frequency="", checks=[{"check": "not_null", "column": "b"}]
    )
    version = add_version(dataset, [("one.csv", b"a,b\n1,\n"), ("two.csv", b"a\n1\n")])
    services.version_profile(str(version.pk))
    version.refresh_from_db()
    checks = [x for x in version.quality_results if x["check"] == "not_null"]
    assert [(x["file"], x["failed"]) for x in checks] == [("one.csv", 1)]


def test_dataset_checks_set_validates_saves_audits_and_checks_again(publisher):
    dataset = make_dataset(publisher["org"], frequency="")
    version = profiled(dataset, "id,x\n1,a\n1,b\n")
    assert version.quality_score == 100
    with pytest.raises(ValidationError) as info:
        services.dataset_checks_set(
            actor=publisher["member"],
            dataset=dataset,
            declared_schema=[],
            key_columns=["nope"],
            checks=[],
        )
    assert "key_columns" in info.value.message_dict
    with pytest.raises(PermissionDenied):
        services.dataset_checks_set(
            actor=publisher["outsider"],
            dataset=dataset,
            declared_schema=[],
            key_columns=["id"],
            checks=[],
        )
    services.dataset_checks_set(
        actor=publisher["member"],
        dataset=dataset,
        declared_schema=[{"name": "x", "type": "string", "required": True}],
        key_columns=["id"],
        checks=[{"check": "in_set", "column": "x", "values": ["a"]}],
    )
    dataset.refresh_from_db()
    assert dataset.key_columns == ["id"]
    version.refresh_from_db()
    assert by(version.quality_results, "key")["failed"] == 1
    assert by(version.quality_results, "in_set")["failed"] == 1
    assert version.quality_score < 100
    event = AuditEvent.objects.get(action="dataset.checks_set", object_id=str(dataset.pk))
    assert event.changes["key_columns"] == [[], ["id"]]


def test_declared_schema_validation():
    with pytest.raises(ValidationError, match="Column 2"):
        services.declared_schema_validate([{"name": "a"}, {"name": "b", "type": "float"}])
    with pytest.raises(ValidationError, match="twice"):
        services.declared_schema_validate([{"name": "a"}, {"name": "a"}])
    services.declared_schema_validate([{"name": "a", "type": "date", "required": False}])


# --- pages ------------------------------------------------------------------------------------


def test_quality_page_saves_and_refuses_with_the_field(publisher, client):
    dataset = make_dataset(publisher["org"], frequency="")
    profiled(dataset, "id,x\n1,a\n1,b\n")
    url = f"/datasets/{dataset.slug}/quality/"
    client.force_login(publisher["outsider"])
    assert client.get(url).status_code in (403, 404)
    client.force_login(publisher["member"])
    page = client.get(url)
    assert page.status_code == 200
    assert b"known-columns" in page.content and b"<code>id</code>" in page.content
    bad_json = client.post(url, {"declared_schema": "[{", "key_columns": "", "checks": ""})
    assert bad_json.status_code == 422 and "Not valid JSON" in bad_json.content.decode()
    bad_check = client.post(
        url, {"declared_schema": "", "key_columns": "", "checks": '[{"check": "unique"}]'}
    )
    assert bad_check.status_code == 422
    assert "Check 1, field “columns”" in bad_check.content.decode()
    saved = client.post(
        url,
        {
            "declared_schema": '[{"name": "x", "type": "string"}]',
            "key_columns": "id",
            "checks": '[{"check": "row_count", "min": 3}]',
        },
    )
    assert saved.status_code == 302
    dataset.refresh_from_db()
    assert dataset.key_columns == ["id"] and dataset.checks == [{"check": "row_count", "min": 3}]
    assert dataset.declared_schema == [{"name": "x", "type": "string"}]


def test_quality_report_partial(publisher):
    from django.template.loader import render_to_string
    from django.utils import translation

    dataset = make_dataset(publisher["org"], key_columns=["id"], frequency="")
    version = profiled(dataset)
    dataset.refresh_from_db()
    html = render_to_string(
        "data/_quality.html", {"dataset": dataset, "version": version, "can_edit": True}
    )
    assert f'id="data-quality-score">{version.quality_score} / 100' in html
    assert f'id="metadata-quality-score">{dataset.metadata_score} / 100' in html
    assert 'data-check="key" data-passed="false"' in html
    assert 'data-column="amount"' in html and "kind" in html
    assert f"/datasets/{dataset.slug}/quality/" in html
    with translation.override("de"):
        german = render_to_string(
            "data/_quality.html", {"dataset": dataset, "version": version, "can_edit": False}
        )
    assert "Datenqualität" in german and "Eindeutiger Schlüssel" in german
    assert "Die Schlüsselspalten wiederholen sich" in german
    assert "/quality/" not in german
    empty = render_to_string(
        "data/_quality.html", {"dataset": dataset, "version": None, "can_edit": False}
    )
    assert "not measured yet" in empty


def test_dataset_page_shows_the_quality_report(publisher, client):
    dataset = make_dataset(publisher["org"], key_columns=["id"])
    version = profiled(dataset, "id,kwh\n1,2.5\n2,3.5\n")
    client.force_login(publisher["member"])
    html = client.get(f"/datasets/{dataset.slug}/").content.decode()
    assert f'id="data-quality-score">{version.quality_score} / 100' in html
    assert 'data-column="kwh"' in html and 'id="quality-edit"' in html
