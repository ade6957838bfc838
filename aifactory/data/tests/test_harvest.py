"""Harvesting DCAT-AP sources: every SEMIC example, runs that never duplicate, datasets that leave
and come back, bad documents and bad datasets, a round trip of our own export, and a source served
over HTTP."""

import datetime
import functools
import http.server
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aifactory.data import dcat, services
from aifactory.data.models import Dataset, HarvestRun, HarvestSource
from aifactory.data.tests.conformance import conformance_folder
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import make_dataset
from aifactory.data.tests.dcat_helpers import full_dataset

pytestmark = pytest.mark.django_db

BEES = "The population of bees"
WASPS = "The population of wasps"
MS = "https://data.exampleMS.gov/id/dataset/"
# What each SEMIC example holds: {identifier: English title} (read from the files by hand).
EXAMPLES = {
    "example-bees_wasps_dataset.ttl": {
        "http://www.example.org/rdf#dataset_bees": BEES,
        "http://www.example.org/rdf#dataset_wasp": WASPS,
    },
    "example-data_service_openapi_sla.ttl": {},
    "example-data_service_service_desk.ttl": {},
    "example-data_service_terms_sla.ttl": {MS + "1T2p3o4B": BEES, MS + "1W2o3p4T": WASPS},
    "example-map_licenses.ttl": {},
    "example-ms_catalogue.ttl": {MS + "1T2p3o4B": BEES},
    "example-ms_catalogue_hvd.ttl": {MS + "1T2p3o4B": BEES},
    "example-ms_catalogue_simple.ttl": {},
    "example-ms_dataset.ttl": {MS + "1T2p3o4B": BEES},
    "example-ms_dataset_2_distributions.ttl": {MS + "1T2p3o4B": BEES},
    "example-ms_dataset_2_identifiers.ttl": {MS + "1T2p3o4B": BEES},
    "example-ms_dataset_2_licenses.ttl": {MS + "1T2p3o4B": BEES, MS + "1W2o3p4T": WASPS},
    "example-ms_dataset_data_service.ttl": {MS + "1T2p3o4B": BEES, MS + "1W2o3p4T": WASPS},
    "example-ms_dataset_hvd_profile.ttl": {MS + "1T2p3o4B": BEES},
    "example-restrict_licenses.ttl": {MS + "1T2p3o4B": BEES, MS + "1W2o3p4T": WASPS},
}

TWO = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://src.example/ds/a> a dcat:Dataset ; dct:identifier "A" ;
    dct:title "Alpha"@en , "Alpha DE"@de ; dct:description "First."@en ;
    dcat:keyword "one" , "two" ;
    dcat:theme <http://publications.europa.eu/resource/authority/data-theme/ENVI> ;
    dct:accessRights <http://publications.europa.eu/resource/authority/access-right/RESTRICTED> ;
    dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/MONTHLY> .
<https://src.example/ds/b> a dcat:Dataset ; dct:identifier "B" ;
    dct:title "Beta"@en ; dct:description "Second."@en .
"""


def examples_dir():
    return conformance_folder("dcat-ap-3.0.1", "examples")


def file_source(operator, org, name, body: bytes, file_name="catalog.ttl"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return services.harvest_source_create(
        actor=operator,
        data={
            "name": name,
            "publisher": org,
            "file": SimpleUploadedFile(file_name, body),
        },
    )


def replace_file(operator, source, body: bytes, file_name="catalog.ttl"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return services.harvest_source_update(
        actor=operator, source=source, data={"file": SimpleUploadedFile(file_name, body)}
    )


def test_every_semic_example_is_harvested(publisher, operator):
    folder = examples_dir()
    assert {p.name for p in folder.glob("*.ttl")} == set(EXAMPLES)
    org = publisher["org"]
    for n, (name, expected) in enumerate(sorted(EXAMPLES.items())):
        source = file_source(operator, org, f"semic-{n}", (folder / name).read_bytes(), name)
        result = services.harvest_run(str(source.pk))
        assert result["status"] == "done", (name, result)
        assert result["created"] == len(expected), name
        got = {d.identifier: d.title["en"] for d in Dataset.objects.filter(source=source)}
        assert got == expected, name
        for dataset in Dataset.objects.filter(source=source):
            assert dataset.status == "published"
            assert dataset.publisher == org
            assert dataset.metadata_score is not None
            assert dataset.access_rights == "public"
        real_errors = [e for e in source.runs.get().errors if not e["error"].startswith("repaired")]
        assert real_errors == [], name

    # details from the richer examples
    bees = Dataset.objects.get(source__name="semic-9", identifier=MS + "1T2p3o4B")
    assert bees.description["en"].startswith("This dataset provides the population of bees")
    urls = sorted(d["access_url"] for d in bees.harvested_distributions)
    assert urls == [
        "https://orgea.exampleMS.gov/files/1T2p3o4B.shp",
        "https://orgea.exampleMS.gov/files/1T2p3o4B.ttl",
    ]
    assert {d.get("format") for d in bees.harvested_distributions} == {"SHP", "RDF_TURTLE"}
    # a licence document that is an exact match of an EU licence is read as it
    catalogue = Dataset.objects.get(source__name="semic-5")
    assert catalogue.licence == "CC0"
    hvd = Dataset.objects.get(source__name="semic-13")
    assert hvd.conformance == ["https://orgea.exampleMS.gov/applicationprofile/populationOfInsects"]
    licences = Dataset.objects.get(source__name="semic-11", identifier=MS + "1W2o3p4T")
    assert licences.licence == "https://data.exampleMS.gov/resource/NoCommercialUseWithFees"
    # the file whose @prefix lines lack their final dot is read, and the repair is noted
    bees_wasps = HarvestRun.objects.get(source__name="semic-0")
    assert any("@prefix" in e["error"] for e in bees_wasps.errors)


def test_fields_and_harvesting_twice(publisher, operator):
    source = file_source(operator, publisher["org"], "two", TWO.encode())
    first = services.harvest_run(str(source.pk))
    assert (first["created"], first["updated"], first["unchanged"], first["gone"]) == (2, 0, 0, 0)
    a = Dataset.objects.get(source=source, identifier="A")
    assert a.title == {"en": "Alpha", "de": "Alpha DE"}
    assert a.keywords == ["one", "two"]
    assert a.themes == ["ENVI"]
    assert a.access_rights == "restricted"
    assert a.frequency == "MONTHLY"
    assert a.publisher == publisher["org"]

    second = services.harvest_run(str(source.pk))
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 2)
    assert Dataset.objects.filter(source=source).count() == 2
    source.refresh_from_db()
    assert source.last_status == "done"
    assert source.last_counts["unchanged"] == 2
    assert source.runs.count() == 2

    # a change at the source updates the dataset in place
    replace_file(operator, source, TWO.replace('"Second."@en', '"Second, revised."@en').encode())
    third = services.harvest_run(str(source.pk))
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 1)
    b = Dataset.objects.get(source=source, identifier="B")
    assert b.description == {"en": "Second, revised."}


def test_a_dataset_that_leaves_the_source_is_marked_gone_and_can_come_back(publisher, operator):
    source = file_source(operator, publisher["org"], "leaving", TWO.encode())
    services.harvest_run(str(source.pk))
    only_a = TWO.split("<https://src.example/ds/b>")[0]
    replace_file(operator, source, only_a.encode())
    result = services.harvest_run(str(source.pk))
    assert result["gone"] == 1 and result["unchanged"] == 1
    b = Dataset.objects.get(source=source, identifier="B")
    assert b.gone_at is not None
    assert b.status == "archived"
    assert Dataset.objects.get(source=source, identifier="A").gone_at is None
    # gone once is counted once
    assert services.harvest_run(str(source.pk))["gone"] == 0

    replace_file(operator, source, TWO.encode())
    back = services.harvest_run(str(source.pk))
    assert back["updated"] == 1 and back["created"] == 0
    b.refresh_from_db()
    assert b.gone_at is None and b.status == "published"
    assert Dataset.objects.filter(source=source).count() == 2


def test_a_malformed_document_fails_the_run_and_changes_nothing(publisher, operator):
    source = file_source(operator, publisher["org"], "broken", TWO.encode())
    services.harvest_run(str(source.pk))
    before = {d.pk: d.updated_at for d in Dataset.objects.filter(source=source)}
    replace_file(operator, source, b"@prefix dcat: <http://www.w3.org/ns/dcat#> .\n<a> a dcat:")
    result = services.harvest_run(str(source.pk))
    assert result["status"] == "failed"
    assert "Not a readable RDF document" in result["error"]
    assert "turtle" in result["error"]
    after = {d.pk: d.updated_at for d in Dataset.objects.filter(source=source)}
    assert after == before
    assert not Dataset.objects.filter(source=source, gone_at__isnull=False).exists()
    source.refresh_from_db()
    assert source.last_status == "failed"
    assert "Not a readable RDF document" in source.last_error

    # an empty document and JSON-LD that would fetch a remote context fail as clearly
    replace_file(operator, source, b"{}", "catalog.jsonld")
    assert services.harvest_run(str(source.pk))["status"] == "failed"
    remote = b'{"@context": "https://example.org/context.jsonld", "@id": "x"}'
    replace_file(operator, source, remote, "catalog.jsonld")
    result = services.harvest_run(str(source.pk))
    assert result["status"] == "failed" and "remote @context" in result["error"]
    assert Dataset.objects.filter(source=source, status="published").count() == 2


def test_a_bad_dataset_does_not_stop_the_others(publisher, operator):
    body = TWO + (
        '<https://src.example/ds/c> a dcat:Dataset ; dct:identifier "C" .\n'  # no title
        '[] a dcat:Dataset ; dct:title "Nameless"@en .\n'  # no identifier, no URI
        '<https://src.example/ds/d> a dcat:Dataset ; dct:identifier "A" ; '
        'dct:title "Alpha again"@en .\n'  # A twice
    )
    source = file_source(operator, publisher["org"], "mixed", body.encode())
    result = services.harvest_run(str(source.pk))
    assert result["status"] == "done"
    assert result["created"] == 2 and result["errors"] == 3
    errors = {e["identifier"]: e["error"] for e in source.runs.get().errors}
    assert "no dct:title" in errors["C"]
    assert "cannot be found again" in errors[""]
    assert "twice" in errors["A"]


def _fields(dataset: Dataset) -> dict:
    return {
        "identifier": dataset.identifier,
        "title": dataset.title,
        "description": dataset.description,
        "keywords": sorted(dataset.keywords),
        "themes": sorted(dataset.themes),
        "contact": (dataset.contact_name, dataset.contact_email),
        "spatial": dataset.spatial,
        "temporal": (dataset.temporal_start, dataset.temporal_end),
        "frequency": dataset.frequency,
        "licence": dataset.licence,
        "access_rights": dataset.access_rights,
        "conformance": sorted(dataset.conformance),
        "provenance": dataset.provenance,
    }


@pytest.mark.parametrize("fmt", ["ttl", "jsonld"])
def test_round_trip_of_our_own_export(publisher, operator, fmt, make_org):
    org = publisher["org"]
    full = full_dataset(org)
    plain = make_dataset(
        org,
        publish=True,
        title={"en": "Plain", "fr": "Simple"},
        description={"en": "A plain dataset with a place name.", "fr": "Un jeu simple."},
        spatial="Esch-sur-Alzette",
        access_rights="restricted",
        landing_page="https://publisher.example/plain",
    )
    ours = [full, plain]
    export = dcat.serialize(dcat.catalog_graph(None), fmt).encode()
    other = make_org(legal_name="Mirror portal")
    source = file_source(operator, other, f"mirror-{fmt}", export, f"catalog.{fmt}")
    result = services.harvest_run(str(source.pk))
    assert result["status"] == "done" and result["created"] == 2, result
    for original in ours:
        copy = Dataset.objects.get(source=source, identifier=original.identifier)
        assert _fields(copy) == _fields(original)
        assert copy.publisher == other
        assert copy.issued_at == original.issued_at
    copy = Dataset.objects.get(source=source, identifier=full.identifier)
    assert copy.landing_page == "https://publisher.example/energy"
    files = {d["title"]: d for d in copy.harvested_distributions}
    assert set(files) == {"energy.csv", "energy.parquet"}
    assert files["energy.csv"]["byte_size"] == 64
    assert files["energy.csv"]["media_type"] == "text/csv"
    assert files["energy.csv"]["format"] == "CSV"
    assert files["energy.csv"]["download_url"].endswith("/versions/1/files/energy.csv")
    # and a harvested dataset exports as valid DCAT-AP again, with its files as references
    graph = dcat.dataset_graph(copy)
    from aifactory.data.tests.dcat_helpers import shacl_violations

    assert shacl_violations(graph) == []
    assert len(list(graph.objects(dcat.dataset_uri(copy), dcat.DCAT.distribution))) == 2
    # harvesting the export again finds nothing new
    again = services.harvest_run(str(source.pk))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, settings):
    """A local HTTP server for tmp_path/www, allowed as a fetch host (as an intranet mirror)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.DATA_FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_source_served_over_http_as_rdf_xml(publisher, operator, served):
    root, base = served
    full_dataset(publisher["org"])
    export = dcat.catalog_graph(None)
    (root / "catalog.rdf").write_bytes(export.serialize(format="xml").encode())
    source = services.harvest_source_create(
        actor=operator,
        data={"name": "portal", "publisher": publisher["org"].pk, "url": f"{base}/catalog.rdf"},
    )
    result = services.harvest_run(str(source.pk))
    assert result["status"] == "done" and result["created"] == 1, result
    assert Dataset.objects.get(source=source).title["de"] == "Energieverbrauch pro Gemeinde"

    # a missing document fails the run with the server's answer
    services.harvest_source_update(
        actor=operator, source=source, data={"url": f"{base}/nothing.rdf"}
    )
    result = services.harvest_run(str(source.pk))
    assert result["status"] == "failed" and "404" in result["error"]
    assert Dataset.objects.get(source=source).status == "published"


def test_source_validation_and_rights(publisher, operator, settings):
    org = publisher["org"]
    with pytest.raises(PermissionDenied):
        services.harvest_source_create(
            actor=publisher["owner"],
            data={"name": "mine", "publisher": org, "url": "https://portal.example/catalog.rdf"},
        )
    for data, field in (
        ({"name": "Bad Name", "publisher": org, "url": "https://a.example/c.rdf"}, "name"),
        ({"name": "nourl", "publisher": org}, "url"),
        ({"name": "ftp", "publisher": org, "url": "ftp://a.example/c.rdf"}, "url"),
        ({"name": "plain", "publisher": org, "url": "http://portal.example/c.rdf"}, "url"),
        ({"name": "private", "publisher": org, "url": "https://10.0.0.1/c.rdf"}, "url"),
        ({"name": "noorg", "publisher": "no such org", "url": "https://a.example/c"}, "publisher"),
        (
            {"name": "x", "publisher": org, "url": "https://a.example/c", "interval_hours": 0},
            "interval_hours",
        ),
    ):
        with pytest.raises(ValidationError) as caught:
            services.harvest_source_create(actor=operator, data=data)
        assert field in caught.value.message_dict, data
    source = services.harvest_source_create(
        actor=None,  # the system (the CLI)
        data={"name": "ok", "publisher": str(org.pk), "url": "https://portal.example/c.rdf"},
    )
    with pytest.raises(ValidationError):
        services.harvest_source_create(
            actor=operator, data={"name": "ok", "publisher": org, "url": "https://b.example/c"}
        )
    services.harvest_source_update(
        actor=operator, source=source, data={"interval_hours": 6, "title": "Portal"}
    )
    source.refresh_from_db()
    assert (source.interval_hours, source.title) == (6, "Portal")


def test_harvest_due_claims_each_source_once(publisher, operator):
    org = publisher["org"]
    due = services.harvest_source_create(
        actor=operator, data={"name": "due", "publisher": org, "url": "https://a.example/c.rdf"}
    )
    recent = services.harvest_source_create(
        actor=operator, data={"name": "recent", "publisher": org, "url": "https://b.example/c"}
    )
    HarvestSource.objects.filter(pk=recent.pk).update(last_run_at=timezone.now())
    services.harvest_source_create(
        actor=operator,
        data={
            "name": "off",
            "publisher": org,
            "url": "https://c.example/c",
            "is_active": False,
        },
    )
    assert services.harvest_due() == [str(due.pk)]
    assert services.harvest_due() == []  # claimed: not due again within its interval
    HarvestSource.objects.filter(pk=recent.pk).update(
        last_run_at=timezone.now() - datetime.timedelta(hours=25)
    )
    assert services.harvest_due() == [str(recent.pk)]


def test_a_harvest_never_loosens_local_access_rights(publisher, operator):
    source = file_source(operator, publisher["org"], "governed", TWO.encode())
    services.harvest_run(str(source.pk))
    b = Dataset.objects.get(source=source, identifier="B")
    assert b.access_rights == "public"
    # a steward restricts it: it holds personal data
    Dataset.objects.filter(pk=b.pk).update(access_rights="restricted", personal_data=True)
    renamed = TWO.replace('"Beta"@en', '"Beta, renamed"@en')
    replace_file(operator, source, renamed.encode())
    assert services.harvest_run(str(source.pk))["updated"] == 1
    b.refresh_from_db()
    assert b.title == {"en": "Beta, renamed"}
    assert (b.access_rights, b.personal_data) == ("restricted", True)

    # stricter rights at the source are taken
    internal = renamed.replace(
        '"Beta, renamed"@en ;',
        '"Beta, renamed"@en ; dct:accessRights '
        "<http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC> ;",
    )
    replace_file(operator, source, internal.encode())
    services.harvest_run(str(source.pk))
    b.refresh_from_db()
    assert b.access_rights == "internal" and b.personal_data is True


def test_a_new_harvested_dataset_with_personal_data_is_not_public(publisher, operator):
    from aifactory.data.services import harvest

    source = file_source(operator, publisher["org"], "personal", TWO.encode())
    graph, _ = services.harvest_parse(TWO.encode(), "catalog.ttl")
    identifier, data, _ = next(r for r in services.harvest_records(graph) if r[0] == "B")
    notes = []
    outcome = harvest._upsert(
        source, identifier, data | {"personal_data": True}, timezone.now(), notes
    )
    assert outcome == "created"
    b = Dataset.objects.get(source=source, identifier="B")
    assert (b.access_rights, b.personal_data) == ("restricted", True)
    assert notes and "personal data" in notes[0]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
 <!ENTITY a "lol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
 <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns:dcat="http://www.w3.org/ns/dcat#" xmlns:dct="http://purl.org/dc/terms/">
 <dcat:Dataset rdf:about="https://src.example/ds/a">
  <dct:identifier>A</dct:identifier><dct:title xml:lang="en">&i;</dct:title>
 </dcat:Dataset>
</rdf:RDF>
"""


def test_dtds_and_entities_are_refused_before_parsing(publisher, operator):
    source = file_source(operator, publisher["org"], "laughs", TWO.encode())
    services.harvest_run(str(source.pk))
    before = {d.pk: d.updated_at for d in Dataset.objects.filter(source=source)}
    replace_file(operator, source, BILLION_LAUGHS, "catalog.rdf")
    result = services.harvest_run(str(source.pk))
    assert result["status"] == "failed"
    assert "DTDs and entities are not accepted" in result["error"]
    assert {d.pk: d.updated_at for d in Dataset.objects.filter(source=source)} == before
    assert Dataset.objects.filter(source=source, status="published").count() == 2
    with pytest.raises(services.HarvestError):
        services.harvest_parse(b'<?xml version="1.0"?><!ENTITY x "y"><a/>', "a.xml")


def test_a_harvested_dataset_is_never_given_a_reserved_slug(publisher, operator):
    body = TWO.replace('"Alpha"@en , "Alpha DE"@de', '"New"@en').encode()
    source = file_source(operator, publisher["org"], "reserved", body)
    services.harvest_run(str(source.pk))
    a = Dataset.objects.get(source=source, identifier="A")
    from aifactory.data.services.datasets import RESERVED_SLUGS

    assert a.slug == "new-2" and a.slug not in RESERVED_SLUGS
