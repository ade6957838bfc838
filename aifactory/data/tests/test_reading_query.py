"""Read-only SQL: only readable datasets, one SELECT, no files or settings, row and time limits."""

import pytest
from django.core.exceptions import ValidationError

from aifactory.core.errors import ServiceError
from aifactory.data import services
from aifactory.data.models import AccessLogEntry
from aifactory.data.storage import get_storage
from aifactory.data.tests.data_helpers import data_storage, publisher  # noqa: F401
from aifactory.data.tests.requests_helpers import dataset_make, request_make, version_make


@pytest.fixture
def world(publisher):  # noqa: F811
    org = publisher["org"]
    granted = dataset_make(org, slug="grid-load")
    version_make(granted)
    req = request_make(granted, publisher["outsider"], publisher["other_org"])
    services.request_approve(actor=publisher["steward"], request=req)
    restricted = dataset_make(org, slug="meters")
    version_make(restricted)
    internal = dataset_make(org, access_rights="internal", slug="payroll")
    version_make(internal)
    public = dataset_make(org, access_rights="public", slug="communes")
    version_make(
        public,
        {
            "names.csv": "SELECT * FROM (VALUES (1, 'Esch'), (2, 'Vianden')) t(id, name)",
            "areas.csv": "SELECT * FROM (VALUES (1, 14.35), (2, 9.67)) t(id, km2)",
        },
    )
    return publisher | {"granted": granted, "restricted": restricted, "internal": internal}


def _sql_error(actor, sql) -> str:
    with pytest.raises(ValidationError) as exc:
        services.query_run(actor=actor, sql=sql)
    return " ".join(exc.value.message_dict["sql"])


def test_query_over_readable_datasets_is_logged(world):
    outsider = world["outsider"]
    sql = (
        "SELECT g.name, a.km2 FROM grid_load g JOIN communes__names n ON n.name = g.name "
        "JOIN communes__areas a ON a.id = n.id"
    )
    result = services.query_run(actor=outsider, sql=sql)
    assert result["columns"] == ["name", "km2"]
    assert result["rows"] == [["Esch", "14.35"]] and result["truncated"] is False
    assert sorted(result["tables"]) == ["communes__areas", "communes__names", "grid_load"]
    entries = AccessLogEntry.objects.order_by("dataset__slug")
    assert [(e.dataset.slug, e.action, e.detail) for e in entries] == [
        ("communes", "query", sql),
        ("grid-load", "query", sql),
    ]
    assert entries[1].organisation == world["other_org"] and entries[1].grant is not None


def test_unreadable_datasets_do_not_exist(world):
    outsider = world["outsider"]
    for name in ("meters", "payroll", "no_such_table"):
        message = _sql_error(outsider, f"SELECT count(*) FROM {name}")
        assert f"Table with name {name} does not exist" in message
    # Their own members read them.
    result = services.query_run(actor=world["member"], sql="SELECT count(*) AS n FROM payroll")
    assert result["rows"] == [[3]]
    assert not AccessLogEntry.objects.exclude(user=world["member"]).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; SELECT 2",
        "COPY (SELECT 1) TO '/tmp/out.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA enable_external_access",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO grid_load VALUES (9, 'x', 1)",
        "DROP VIEW grid_load",
        "EXPLAIN SELECT 1",
        "",
        "SELEC 1",
    ],
)
def test_only_one_select(world, sql):
    message = _sql_error(world["outsider"], sql)
    assert message
    assert not AccessLogEntry.objects.exists()


def test_no_files_no_settings(world, data_storage):  # noqa: F811
    outsider = world["outsider"]
    meters = world["restricted"].versions.get().distributions.get()
    with get_storage().local_path(meters.parquet_key) as path:
        parquet = str(path)
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        f"SELECT * FROM read_parquet('{parquet}')",
        f"SELECT * FROM '{parquet}'",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_text('/etc/hostname')",
    ):
        message = _sql_error(outsider, sql)
        assert "no files" in message or "does not exist" in message, sql
    # A name of a Python object in the server is not a table either.
    assert "does not exist" in _sql_error(outsider, "SELECT * FROM settings")
    limits = services.query_run(
        actor=outsider,
        sql="SELECT current_setting('enable_external_access') AS ext, "
        "current_setting('threads') AS threads",
    )
    assert limits["rows"] == [[False, 2]]


def test_row_limit(world):
    result = services.query_run(
        actor=world["outsider"], sql="SELECT * FROM range(10) r", max_rows=4
    )
    assert result["rows"] == [[0], [1], [2], [3]] and result["truncated"] is True
    result = services.query_run(actor=world["outsider"], sql="SELECT * FROM range(4)", max_rows=4)
    assert result["truncated"] is False


def test_time_limit(world, settings):
    settings.DATA_QUERY_SECONDS = 0.5
    with pytest.raises(ServiceError) as exc:
        services.query_run(
            actor=world["outsider"],
            sql="SELECT count(*) FROM range(1000000000) a, range(1000000000) b",
        )
    assert "0.5 seconds" in exc.value.message and exc.value.field == "sql"


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def test_result_size_limit(world, monkeypatch):
    import gc

    from aifactory.data.services import reading

    monkeypatch.setattr(reading, "QUERY_MAX_BYTES", 60 * 1024 * 1024)
    gc.collect()
    before = _rss_mb()
    result = services.query_run(
        actor=world["outsider"], sql="SELECT repeat('x', 50000000) AS s FROM range(8)"
    )
    gc.collect()
    # one 50 MB value fits the budget, the second does not (8 would be 400 MB)
    assert result["truncated"] is True and len(result["rows"]) == 1
    assert "cut at 60 MB" in result["message"]
    assert _rss_mb() - before < 250
    small = services.query_run(actor=world["outsider"], sql="SELECT 'x' AS s FROM range(3)")
    assert small["truncated"] is False and small["message"] == "" and len(small["rows"]) == 3
