"""Shared by the DCAT-AP, Croissant and harvesting tests: a dataset with every DCAT-AP field and a
version, and pySHACL validation against the official DCAT-AP 3.0.1 shapes."""

import datetime
from functools import cache

from django.utils import timezone
from rdflib import Graph

from aifactory.data.models import Dataset, DatasetVersion, Distribution, VersionStatus
from aifactory.data.tests.conformance import conformance_folder
from aifactory.data.tests.data_helpers import make_dataset

SCHEMA = [
    {"name": "id", "type": "BIGINT"},
    {"name": "commune", "type": "VARCHAR"},
    {"name": "kwh", "type": "DOUBLE"},
    {"name": "day", "type": "DATE"},
    {"name": "metered", "type": "BOOLEAN"},
    {"name": "read_at", "type": "TIMESTAMP"},
]


def shapes_dir():
    return conformance_folder("dcat-ap-3.0.1", must_have="dcat-ap-SHACL.ttl")


@cache
def _shapes(folder: str) -> tuple[Graph, Graph, Graph]:
    """The shapes, the range shapes, and both together. ranges.ttl repeats the node shapes and adds
    the range (sh:class, sh:datatype) property shapes; it is no shapes graph on its own (it refers
    to the property shapes of dcat-ap-SHACL.ttl), and five of its references point to property
    shapes defined in neither file: those references are dropped, every other shape is kept."""
    from rdflib.namespace import SH

    core = Graph().parse(f"{folder}/dcat-ap-SHACL.ttl", format="turtle")
    ranges = Graph().parse(f"{folder}/ranges.ttl", format="turtle")
    both = core + ranges
    for shape, prop in list(both.subject_objects(SH.property)):
        if both.value(prop, SH.path) is None:
            both.remove((shape, SH.property, prop))
    return core, ranges, both


def shacl_violations(graph: Graph) -> list[dict]:
    """Every result of validating ``graph`` against the DCAT-AP 3.0.1 shapes: as the shapes'
    README says (pyshacl -s dcat-ap-SHACL.ttl -e ranges.ttl), then, stricter, with the range
    shapes as shapes too (every value of the class its property expects, without inference).
    [] when it conforms to both."""
    from pyshacl import validate
    from rdflib.namespace import SH

    core, ranges, both = _shapes(str(shapes_dir()))
    found = []
    for shapes, ont in ((core, ranges), (both, None)):
        conforms, report, _text = validate(
            graph, shacl_graph=shapes, ont_graph=ont, inference="none", advanced=True
        )
        results = list(report.subjects(SH.resultSeverity, None))
        for result in results:
            found.append(
                {
                    "focus": str(report.value(result, SH.focusNode)),
                    "path": str(report.value(result, SH.resultPath)),
                    "message": str(report.value(result, SH.resultMessage)),
                }
            )
        assert conforms == (not results)
    return found


def add_version_directly(
    dataset, files, *, quality_score=None, quality_results=()
) -> DatasetVersion:
    """A ready version with the given distributions ({name, format, media_type, size, sha256,
    schema}), written to the database without files (DCAT and Croissant read only the records)."""
    number = (dataset.versions.count() or 0) + 1
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        status=VersionStatus.READY,
        quality_score=quality_score,
        quality_results=list(quality_results),
        quality_checked_at=timezone.now() if quality_score is not None else None,
    )
    for item in files:
        Distribution.objects.create(
            version=version,
            storage_key=f"test/{version.pk}/{item['name']}",
            **item,
        )
    return version


def full_dataset(org) -> Dataset:
    """A published public dataset with every DCAT-AP field we export and a version of two files."""
    dataset = make_dataset(
        org,
        publish=True,
        title={"en": "Energy use per commune", "de": "Energieverbrauch pro Gemeinde"},
        description={
            "en": "Daily electricity consumption of every commune of Luxembourg, metered by the "
            "grid operators and aggregated per day.",
            "fr": "Consommation quotidienne d'électricité de chaque commune.",
        },
        keywords=["energy", "electricity", "communes"],
        themes=["ENER", "REGI"],
        contact_name="Data desk",
        contact_email="data@publisher.example",
        spatial="LUX",
        temporal_start=datetime.date(2020, 1, 1),
        temporal_end=datetime.date(2024, 12, 31),
        frequency="DAILY",
        licence="CC_BY_4_0",
        access_rights="public",
        conformance=["https://example.org/schemas/energy"],
        provenance="Aggregated from the smart meters of the grid operators.",
        landing_page="https://publisher.example/energy",
    )
    add_version_directly(
        dataset,
        [
            {
                "name": "energy.csv",
                "format": "csv",
                "media_type": "text/csv",
                "size": 64,
                "sha256": "ab" * 32,
                "schema": SCHEMA,
                "row_count": 3,
            },
            {
                "name": "energy.parquet",
                "format": "parquet",
                "media_type": "application/vnd.apache.parquet",
                "size": 2048,
                "sha256": "cd" * 32,
                "schema": SCHEMA,
                "row_count": 3,
            },
        ],
        quality_score=87,
        quality_results=[
            {
                "check": "completeness",
                "column": "kwh",
                "passed": False,
                "score": 80,
                "message": "Some values are missing.",
            },
            {"check": "freshness", "passed": True, "score": 100, "message": "Fresh."},
        ],
    )
    dataset.refresh_from_db()
    return dataset
