"""DCAT-AP export of the whole catalogue: 10,000 datasets, Turtle and JSON-LD (issue 6).

What is real: ``dcat.catalog_text(None, fmt)``, the path of ``GET /api/v1/dcat/catalog.ttl`` and
``aifactory dcat export`` (the query of what an anonymous visitor may see, with the newest ready
version of each dataset and its files prefetched, 2,000 datasets at a time; rdflib graphs of 500
datasets; the Turtle and JSON-LD writers of data/dcat/), on a real database (SQLite in a
temporary folder, or PostgreSQL with ``--database-url``). What is left out: the HTTP layer (the
API answers with the same string).

Data: ``--datasets`` published public datasets (default 10,000) made with ``bulk_create`` with
every field the export writes (two languages, keywords, two themes, contact, spatial, temporal,
frequency, licence, conformance, provenance, landing page, metadata score and its 11 reasons),
each with one ready version of ``--files`` files (default 2: a CSV and a Parquet, with a schema and
a data quality score with two check results).

Figures: for Turtle and JSON-LD, the time of the whole export as the API and the CLI run it
(``dcat.catalog_text``: database reads, graphs of 500 datasets at a time, writing) and its size;
the peak memory of the process (VmHWM) over both; then the time to build the graphs alone.

    .venv/bin/python benchmarks/data/dcat_export.py [--datasets 10000] [--files 2]
        [--database-url postgres://postgres@127.0.0.1:5432/aifactory_bench_dcat] [--keep FILE]
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "compute"))

from common import machine, reset_peak_rss, rss_mb, setup_django  # noqa: E402

REASONS = [
    {"field": f, "points": p, "max": m, "message": "Benchmark reason."}
    for f, p, m in [
        ("description", 20, 20),
        ("licence", 15, 15),
        ("contact", 10, 10),
        ("spatial", 8, 8),
        ("temporal", 8, 8),
        ("frequency", 8, 8),
        ("keywords", 8, 8),
        ("themes", 7, 7),
        ("conformance", 6, 6),
        ("formats", 6, 6),
        ("landing_page", 4, 4),
    ]
]
SCHEMA = [
    {"name": "id", "type": "BIGINT"},
    {"name": "commune", "type": "VARCHAR"},
    {"name": "kwh", "type": "DOUBLE"},
    {"name": "day", "type": "DATE"},
]


def populate(count: int, files: int) -> None:
    from django.utils import timezone

    from aifactory.accounts import services as account_services
    from aifactory.data.models import Dataset, DatasetVersion, Distribution

    owner = account_services.user_create(
        email="bench@dcat.example", password="correct-Horse-battery-9", email_verified=True
    )
    org = account_services.organisation_create(
        actor=owner, data={"legal_name": "Bench publisher", "country": "LU", "kind": "public"}
    )
    now = timezone.now()
    batch = 2000
    for start in range(0, count, batch):
        datasets, versions, dists = [], [], []
        for n in range(start, min(count, start + batch)):
            dataset = Dataset(
                id=uuid.uuid4(),
                publisher=org,
                identifier=f"aifh-bench-{n}",
                slug=f"bench-{n}",
                title={"en": f"Energy use {n}", "de": f"Energieverbrauch {n}"},
                description={
                    "en": f"Daily electricity consumption of commune {n}, metered and aggregated.",
                    "fr": f"Consommation quotidienne d'électricité de la commune {n}.",
                },
                keywords=["energy", "electricity", f"commune-{n % 100}"],
                themes=["ENER", "REGI"],
                contact_name="Data desk",
                contact_email="data@bench.example",
                spatial="LUX",
                temporal_start=datetime.date(2020, 1, 1),
                temporal_end=datetime.date(2024, 12, 31),
                frequency="DAILY",
                licence="CC_BY_4_0",
                access_rights="public",
                conformance=["https://example.org/schemas/energy"],
                provenance="Aggregated from the smart meters of the grid operators.",
                landing_page=f"https://bench.example/energy/{n}",
                status="published",
                issued_at=now,
                metadata_score=100,
                metadata_reasons=REASONS,
            )
            version = DatasetVersion(
                id=uuid.uuid4(),
                dataset=dataset,
                number=1,
                status="ready",
                quality_score=90,
                quality_checked_at=now,
                quality_results=[
                    {"check": "completeness", "column": "kwh", "passed": False, "score": 80,
                     "message": "Some values are missing."},
                    {"check": "freshness", "passed": True, "score": 100, "message": "Fresh."},
                ],
            )  # fmt: skip
            datasets.append(dataset)
            versions.append(version)
            for f in range(files):
                fmt = "csv" if f % 2 == 0 else "parquet"
                dists.append(
                    Distribution(
                        version=version,
                        name=f"energy-{f}.{fmt}",
                        media_type="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
                        format=fmt,
                        size=1_000_000 + n,
                        sha256=f"{n:064x}",
                        storage_key=f"versions/{version.id}/energy-{f}.{fmt}",
                        schema=SCHEMA,
                        row_count=10_000,
                    )
                )
        Dataset.objects.bulk_create(datasets)
        DatasetVersion.objects.bulk_create(versions)
        Distribution.objects.bulk_create(dists)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=2, help="files per dataset")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", metavar="FILE", help="write the Turtle export to FILE")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aifh-bench-dcat-") as data_dir:
        vendor = setup_django(data_dir, args.database_url)
        print(machine(vendor))
        t0 = time.perf_counter()
        populate(args.datasets, args.files)
        print(
            f"made {args.datasets:,} datasets with {args.files} file(s) each in "
            f"{time.perf_counter() - t0:.1f} s"
        )

        from django.urls import reverse

        from aifactory.data import dcat

        reverse(
            "data:dataset_detail", kwargs={"slug": "x"}
        )  # the URLconf is loaded, as in a server
        reset_peak_rss()
        base = rss_mb()
        for fmt in ("ttl", "jsonld"):
            size = 0
            keep = Path(args.keep) if args.keep and fmt == "ttl" else Path(os.devnull)
            t0 = time.perf_counter()
            with keep.open("w", encoding="utf-8") as out:
                for piece in dcat.catalog_text(None, fmt):
                    size += len(piece.encode())
                    out.write(piece)
            seconds = time.perf_counter() - t0
            print(
                f"{fmt}: {seconds:.1f} s for {args.datasets:,} datasets "
                f"({seconds / args.datasets * 1000:.2f} ms each), {size / 1e6:.1f} MB"
            )
        print(f"peak memory: {rss_mb('VmHWM'):.0f} MB (before the export: {base:.0f} MB)")
        t0 = time.perf_counter()
        triples = sum(len(g) for g in dcat.catalog_chunks(None))
        print(f"(the graph alone: {triples:,} triples built in {time.perf_counter() - t0:.1f} s)")
        if vendor == "sqlite":
            print("database: SQLite in a temporary folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
