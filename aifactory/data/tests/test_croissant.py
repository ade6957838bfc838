"""Croissant 1.0 JSON-LD of a dataset version, checked with mlcroissant (offline: its static
analysis reads the document only, it fetches no file)."""

import copy
import hashlib

import pytest

from aifactory.conftest import ApiClient
from aifactory.data import croissant
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import make_dataset
from aifactory.data.tests.dcat_helpers import add_version_directly, full_dataset

pytestmark = pytest.mark.django_db


def check(doc: dict):
    """mlcroissant's own validation, with no warning either; returns its Metadata (raises
    ValidationError on errors)."""
    import mlcroissant

    metadata = mlcroissant.Dataset(jsonld=copy.deepcopy(doc)).metadata
    assert not metadata.ctx.issues.warnings
    return metadata


def test_type_mapping():
    assert croissant.data_type("BIGINT") == "sc:Integer"
    assert croissant.data_type("integer") == "sc:Integer"
    assert croissant.data_type("DOUBLE") == "sc:Float"
    assert croissant.data_type("DECIMAL(10,2)") == "sc:Float"
    assert croissant.data_type("VARCHAR") == "sc:Text"
    assert croissant.data_type("DATE") == "sc:Date"
    assert croissant.data_type("TIMESTAMP WITH TIME ZONE") == "sc:DateTime"
    assert croissant.data_type("BOOLEAN") == "sc:Boolean"
    assert croissant.data_type("INTEGER[]") == "sc:Text"


def test_croissant_of_a_version_validates(publisher):
    dataset = full_dataset(publisher["org"])
    response = ApiClient().get(f"/datasets/{dataset.slug}/croissant")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/ld+json")
    doc = response.json()
    metadata = check(doc)
    assert metadata.name == "Energy use per commune"
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["version"] == "1.0.0"
    assert doc["license"].endswith("/licence/CC_BY_4_0")
    files = {f["name"]: f for f in doc["distribution"]}
    assert files["energy.csv"]["sha256"] == "ab" * 32
    assert files["energy.csv"]["contentSize"] == "64 B"
    assert files["energy.csv"]["encodingFormat"] == "text/csv"
    assert files["energy.parquet"]["encodingFormat"] == "application/x-parquet"
    assert files["energy.csv"]["contentUrl"].endswith(
        f"/api/v1/datasets/{dataset.slug}/versions/1/files/energy.csv"
    )
    records = {r["@id"]: r for r in doc["recordSet"]}
    fields = {f["name"]: f for f in records["energy.csv/records"]["field"]}
    assert {name: f["dataType"] for name, f in fields.items()} == {
        "id": "sc:Integer",
        "commune": "sc:Text",
        "kwh": "sc:Float",
        "day": "sc:Date",
        "metered": "sc:Boolean",
        "read_at": "sc:DateTime",
    }
    assert fields["kwh"]["source"] == {
        "fileObject": {"@id": "energy.csv"},
        "extract": {"column": "kwh"},
    }
    # mlcroissant read the same record sets and fields
    assert {rs.uuid for rs in metadata.record_sets} == set(records)


def test_versions_and_access(publisher):
    org = publisher["org"]
    dataset = full_dataset(org)
    add_version_directly(
        dataset,
        [
            {
                "name": "energy 2025.csv",
                "format": "csv",
                "media_type": "text/csv",
                "size": 10,
                "sha256": "ef" * 32,
                "schema": [{"name": "id", "type": "BIGINT"}],
            },
            # a file that is not tabular is described, with no record set
            {
                "name": "notes.pdf",
                "format": "other",
                "media_type": "application/pdf",
                "size": 5,
                "sha256": "01" * 32,
            },
        ],
    )
    client = ApiClient()
    newest = client.get(f"/datasets/{dataset.slug}/croissant").json()
    check(newest)
    assert newest["version"] == "2.0.0"
    assert {f["name"] for f in newest["distribution"]} == {"energy 2025.csv", "notes.pdf"}
    assert [r["@id"] for r in newest["recordSet"]] == ["energy_2025.csv/records"]
    first = client.get(f"/datasets/{dataset.pk}/croissant?version=1").json()
    assert first["version"] == "1.0.0"
    assert client.get(f"/datasets/{dataset.slug}/croissant?version=9").status_code == 404

    # no data yet, and datasets the visitor may not see
    empty = make_dataset(org, publish=True)
    assert client.get(f"/datasets/{empty.slug}/croissant").status_code == 404
    internal = make_dataset(org, publish=True, access_rights="internal")
    add_version_directly(internal, [])
    assert client.get(f"/datasets/{internal.slug}/croissant").status_code == 404
    member = ApiClient(publisher["member"])
    assert member.get(f"/datasets/{internal.slug}/croissant").status_code == 200


def test_a_broken_document_fails_validation(publisher):
    import mlcroissant

    dataset = full_dataset(publisher["org"])
    doc = ApiClient().get(f"/datasets/{dataset.slug}/croissant").json()
    check(doc)
    # a field read from a file that is not there
    broken = copy.deepcopy(doc)
    broken["recordSet"][0]["field"][0]["source"]["fileObject"]["@id"] = "missing.csv"
    with pytest.raises(mlcroissant.ValidationError):
        check(broken)
    # a file without its address
    broken = copy.deepcopy(doc)
    del broken["distribution"][0]["contentUrl"]
    with pytest.raises(mlcroissant.ValidationError):
        check(broken)


def test_a_real_upload_validates_in_croissant_and_dcat(publisher):
    """A CSV stored through version_create and profiled: the SHA-256 and size are those of the
    stored file, the fields have the profiled types, and both documents validate."""
    from aifactory.data import dcat, services
    from aifactory.data.tests.data_helpers import CSV, add_csv_version
    from aifactory.data.tests.dcat_helpers import shacl_violations

    dataset = make_dataset(publisher["org"], publish=True)
    version = add_csv_version(dataset)
    services.version_profile(str(version.pk))
    doc = ApiClient().get(f"/datasets/{dataset.slug}/croissant").json()
    check(doc)
    file = doc["distribution"][0]
    assert file["name"] == "data.csv"
    assert file["sha256"] == hashlib.sha256(CSV.encode()).hexdigest()
    assert file["contentSize"] == f"{len(CSV.encode())} B"
    fields = {f["name"]: f["dataType"] for f in doc["recordSet"][0]["field"]}
    assert fields["id"] == "sc:Integer" and fields["name"] == "sc:Text"
    assert shacl_violations(dcat.dataset_graph(dataset)) == []
