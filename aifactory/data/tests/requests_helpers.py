"""Factories of the access tests: datasets (through the dataset services), a ready version whose
tabular files already have their Parquet copy (made here with DuckDB, as profiling would, so the
tests need not profile), and access requests."""

import itertools
import tempfile
from pathlib import Path

import duckdb

from aifactory.data.models import Dataset, DatasetVersion, Distribution, VersionStatus
from aifactory.data.storage import get_storage, new_key

_counter = itertools.count(1)

ROWS = [(1, "Esch", 120.5), (2, "Diekirch", 98.0), (3, "Luxembourg", 310.25)]


def dataset_make(publisher, *, access_rights="restricted", status="published", **fields) -> Dataset:
    """A dataset made by the dataset services (as the system), published unless ``status`` says
    "draft"."""
    from aifactory.data.tests.data_helpers import make_dataset

    n = next(_counter)
    values = {
        "slug": f"energy-use-{n}",
        "title": {"en": f"Energy use {n}"},
        "use_conditions": "Research use only; no re-identification.",
    }
    values.update(fields)
    return make_dataset(
        publisher, publish=status == "published", access_rights=access_rights, **values
    )


def version_make(dataset: Dataset, files: dict[str, str | None] | None = None) -> DatasetVersion:
    """A ready version; ``files`` maps a file name to the SQL that makes its rows (None: not
    tabular, stored as text). Default: one CSV ``data.csv`` with ROWS."""
    files = files or {"data.csv": _values_sql(ROWS)}
    number = (
        dataset.versions.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    version = DatasetVersion.objects.create(
        dataset=dataset, number=number, status=VersionStatus.READY
    )
    storage = get_storage()
    with tempfile.TemporaryDirectory() as tmp:
        for name, select in files.items():
            raw = Path(tmp) / name
            parquet_key, rows, schema = "", None, []
            if select is None:
                raw.write_text("not a table\n", encoding="utf-8")
                fmt, media = "other", "text/plain"
            else:
                con = duckdb.connect()
                con.execute(f"COPY ({select}) TO '{raw}' (HEADER, DELIMITER ',')")
                pq = Path(tmp) / (name + ".parquet")
                con.execute(f"COPY ({select}) TO '{pq}' (FORMAT parquet)")
                rows = con.execute(f"SELECT count(*) FROM ({select})").fetchone()[0]
                schema = [
                    {"name": c[0], "type": c[1]}
                    for c in con.execute(f"DESCRIBE {select}").fetchall()
                ]
                con.close()
                parquet_key = new_key(name + ".parquet")
                storage.put_file(parquet_key, pq)
                fmt, media = "csv", "text/csv"
            key = new_key(name)
            stored = storage.put_file(key, raw)
            Distribution.objects.create(
                version=version,
                name=name,
                media_type=media,
                format=fmt,
                size=stored.size,
                sha256=stored.sha256,
                storage_key=key,
                parquet_key=parquet_key,
                row_count=rows,
                schema=schema,
                profile_status="done" if parquet_key else "",
            )
    return version


def _values_sql(rows) -> str:
    values = ", ".join(f"({i}, '{name}', {kwh})" for i, name, kwh in rows)
    return f"SELECT * FROM (VALUES {values}) AS t(id, name, kwh)"


def request_make(dataset, requester, organisation, **fields):
    from aifactory.data import services

    values = {
        "project": "PRJ-1",
        "purpose": "Train a load forecasting model.",
        "duration_days": 30,
        "legal_basis": "public_task" if dataset.personal_data else "",
        "accept_conditions": True,
    }
    values.update(fields)
    return services.request_create(
        actor=requester, dataset=dataset, organisation=organisation, **values
    )
