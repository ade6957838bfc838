"""Profiling a version: each tabular file becomes a stored Parquet copy with its schema, row count
and profile; figures are checked against values computed here with Python; a broken file fails
alone and never loses the version."""

import statistics
from collections import Counter

import duckdb
import pytest

from aifactory.data import services
from aifactory.data.models import Distribution
from aifactory.data.services import profiling
from aifactory.data.storage import get_storage
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import add_csv_version, add_version, make_dataset

pytestmark = pytest.mark.django_db

ROWS = [
    (i, f"n{i % 7}", f"user{i}@example.lu" if i % 10 else "", f"2024-02-{i % 28 + 1:02d}", i * 1.5)
    for i in range(1, 121)
]
TEXT = "id,name,email,day,score\n" + "".join(
    f"{i},{n},{e},{d},{'' if i % 4 == 0 else s}\n" for i, n, e, d, s in ROWS
)


def column(dist, name):
    return next(c for c in dist.profile["columns"] if c["name"] == name)


def test_profile_figures_match_an_independent_computation(publisher):
    dataset = make_dataset(publisher["org"])
    version = add_csv_version(dataset, TEXT)
    assert services.version_profile(str(version.pk)) == "ready"
    dist = Distribution.objects.get(version=version)
    assert dist.profile_status == "done", dist.profile_error
    assert dist.row_count == 120
    assert dist.schema == [
        {"name": "id", "type": "BIGINT"},
        {"name": "name", "type": "VARCHAR"},
        {"name": "email", "type": "VARCHAR"},
        {"name": "day", "type": "DATE"},
        {"name": "score", "type": "DOUBLE"},
    ]
    assert dist.dialect["delimiter"] == "," and dist.dialect["encoding"] == "utf-8"

    scores = [s for i, _n, _e, _d, s in ROWS if i % 4]
    score = column(dist, "score")
    assert score["nulls"] == 120 - len(scores) == 30
    assert score["distinct"] == len(set(scores))
    assert score["min"] == min(scores) and score["max"] == max(scores)
    assert score["mean"] == pytest.approx(statistics.fmean(scores))
    q1, q2, q3 = statistics.quantiles(scores, n=4)
    # approx_quantile returns a value of the data near the exact quartile.
    step = 1.5 * 4
    assert abs(score["quantiles"]["p25"] - q1) <= step
    assert abs(score["quantiles"]["p50"] - q2) <= step
    assert abs(score["quantiles"]["p75"] - q3) <= step

    names = Counter(n for _i, n, *_rest in ROWS)
    name = column(dist, "name")
    assert name["distinct"] == 7 and name["distinct_approx"] is False
    expected_top = sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [tuple(t) for t in name["top"]] == expected_top

    email = column(dist, "email")
    assert email["nulls"] == 12
    assert email["patterns"] == {"email": 1.0}
    day = column(dist, "day")
    assert day["min"] == "2024-02-01" and day["max"] == "2024-02-28"
    ident = column(dist, "id")
    assert ident["distinct"] == 120 and ident["mean"] == pytest.approx(60.5)

    # The Parquet copy is stored and reads back with every row.
    with get_storage().local_path(dist.parquet_key) as path:
        assert duckdb.sql(f"SELECT count(*) FROM '{path}'").fetchall() == [(120,)]
    version.refresh_from_db()
    assert version.quality_score is not None and version.quality_checked_at is not None


def test_approximate_path_for_large_files(tmp_path, monkeypatch):
    """Above EXACT_ROWS distinct counts are estimated and the frequent values are candidates
    from a sample, counted exactly over the whole table."""
    monkeypatch.setattr(profiling, "EXACT_ROWS", 10)
    monkeypatch.setattr(profiling, "SAMPLE_ROWS", 1000)  # all 300 rows: the sample is certain
    path = tmp_path / "a.csv"
    path.write_text(
        "k,uuid\n" + "".join(f"{i % 3},{i:08x}-0000-4000-8000-000000000000\n" for i in range(300))
    )
    converted, profile = profiling.profile_file(path, "csv", tmp_path)
    k = next(c for c in profile["columns"] if c["name"] == "k")
    assert k["distinct_approx"] is True and k["distinct"] == 3
    assert sorted(k["top"]) == [[0, 100], [1, 100], [2, 100]]
    uuid = next(c for c in profile["columns"] if c["name"] == "uuid")
    assert uuid["patterns"]["uuid"] == 1.0 and uuid["patterns_sampled"] == 300
    assert uuid["top"] == []  # every value once: no frequent values
    assert converted.row_count == 300
    assert profile["sampled_rows"] == 1000


def test_a_broken_file_fails_alone_and_the_version_stays(publisher):
    dataset = make_dataset(publisher["org"])
    version = add_version(
        dataset,
        [
            ("good.csv", b"a,b\n1,2\n"),
            ("bad.jsonl", b'{"a": 1}\n{"a": \n'),
            ("notes.txt", b"just text"),
        ],
    )
    assert services.version_profile(str(version.pk)) == "ready"
    version.refresh_from_db()
    assert version.status == "ready"
    files = {d.name: d for d in version.distributions.all()}
    assert files["good.csv"].profile_status == "done"
    assert files["bad.jsonl"].profile_status == "failed"
    assert "line" in files["bad.jsonl"].profile_error.lower()
    assert files["bad.jsonl"].parquet_key == ""
    assert files["notes.txt"].profile_status == ""


def test_reader_warnings_are_kept_on_the_file(publisher):
    dataset = make_dataset(publisher["org"])
    version = add_version(dataset, [("a.csv", "x;y\n1;é\n2;3;4\n".encode("cp1252"))])
    services.version_profile(str(version.pk))
    dist = version.distributions.get()
    assert dist.dialect["encoding"] == "cp1252" and dist.dialect["delimiter"] == ";"
    assert [w["code"] for w in dist.warnings if w.get("source") == "reader"] == ["ragged_rows"]
    from django.template.loader import render_to_string
    from django.utils import translation

    version.refresh_from_db()
    with translation.override("fr"):
        html = render_to_string(
            "data/_quality.html",
            {"dataset": dataset, "version": version, "can_edit": False},
        )
    assert "Certaines lignes ont trop peu ou trop de champs." in html
    assert "encodage cp1252" in html


def test_zip_bombs_are_not_opened(publisher):
    dataset = make_dataset(publisher["org"])
    version = add_csv_version(dataset)
    dist = version.distributions.get()
    dist.warnings = [{"code": "zip_bomb", "message": "x"}]
    dist.save()
    services.version_profile(str(version.pk))
    dist.refresh_from_db()
    assert dist.profile_status == "failed" and dist.parquet_key == ""


def test_profiling_again_replaces_the_parquet_copy(publisher):
    dataset = make_dataset(publisher["org"])
    version = add_csv_version(dataset)
    services.version_profile(str(version.pk))
    first = version.distributions.get().parquet_key
    services.version_profile(str(version.pk))
    second = version.distributions.get().parquet_key
    assert first != second
    assert not get_storage().exists(first) and get_storage().exists(second)
