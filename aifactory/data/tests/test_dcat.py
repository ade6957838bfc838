"""DCAT-AP 3 export: every field a dataset can have, validated with pySHACL against the official
DCAT-AP 3.0.1 shapes (the range shapes included), DQV quality measurements, the visitor's scope, the
API endpoints and the CLI."""

import datetime
import io
import json

import pytest
from django.core.management import call_command
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, RDF

from aifactory.conftest import ApiClient
from aifactory.data import dcat
from aifactory.data.dcat import DCAT
from aifactory.data.models import Dataset
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import make_dataset
from aifactory.data.tests.dcat_helpers import full_dataset, shacl_violations

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(publisher):
    """A full public dataset with a version, a restricted one, an internal one, a draft and a
    harvested-style dataset whose files stay at the source."""
    org = publisher["org"]
    full = full_dataset(org)
    restricted = make_dataset(
        org, publish=True, access_rights="restricted", title={"en": "Restricted meters"}
    )
    internal = make_dataset(
        org, publish=True, access_rights="internal", title={"en": "Internal billing"}
    )
    draft = make_dataset(org, title={"en": "Draft work"})
    harvested = make_dataset(
        org, publish=True, title={"en": "Harvested bees"}, spatial="Esch-sur-Alzette"
    )
    Dataset.objects.filter(pk=harvested.pk).update(
        harvested_distributions=[
            {
                "uri": "https://example.org/files/bees.csv#dist",
                "title": "bees.csv",
                "access_url": "https://example.org/files/",
                "download_url": "https://example.org/files/bees.csv",
                "media_type": "text/csv",
                "format": "CSV",
                "licence": "https://example.org/licence",
                "byte_size": 1200,
            },
            {"title": "no address at all"},
        ]
    )
    return {
        "full": full,
        "restricted": restricted,
        "internal": internal,
        "draft": draft,
        "harvested": harvested,
        **publisher,
    }


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def _identifiers(graph: Graph) -> set[str]:
    return {str(o) for o in graph.objects(None, DCTERMS.identifier)}


def test_export_of_every_field_validates_with_no_violation(catalogue, settings, monkeypatch):
    settings.SITE_URL = "https://hub.example.eu"
    graph = dcat.catalog_graph(catalogue["owner"])
    assert shacl_violations(graph) == []
    # the same through Turtle and JSON-LD (what a harvester reads), written whole or streamed in
    # pieces of one dataset each (the vocabulary terms repeat in each piece: the same triples)
    monkeypatch.setattr(dcat.graph, "CHUNK", 1)  # where catalog_chunks reads it
    for fmt, parser in (("ttl", "turtle"), ("jsonld", "json-ld")):
        again = Graph().parse(data=dcat.serialize(graph, fmt), format=parser)
        assert isomorphic(again, graph)
        streamed = "".join(dcat.catalog_text(catalogue["owner"], fmt))
        assert isomorphic(Graph().parse(data=streamed, format=parser), graph)
        assert shacl_violations(again) == []

    full = catalogue["full"]
    uri = dcat.dataset_uri(full)
    g = graph
    assert (uri, RDF.type, DCAT.Dataset) in g
    assert (uri, DCTERMS.identifier, Literal(full.identifier)) in g
    assert (uri, DCTERMS.title, Literal("Energy use per commune", lang="en")) in g
    assert (uri, DCTERMS.title, Literal("Energieverbrauch pro Gemeinde", lang="de")) in g
    assert {str(k) for k in g.objects(uri, DCAT.keyword)} == {"energy", "electricity", "communes"}
    assert set(g.objects(uri, DCAT.theme)) == {
        URIRef(dcat.THEME + "ENER"),
        URIRef(dcat.THEME + "REGI"),
    }
    assert (uri, DCTERMS.spatial, URIRef(dcat.COUNTRY + "LUX")) in g
    assert (uri, DCTERMS.accrualPeriodicity, URIRef(dcat.FREQUENCY + "DAILY")) in g
    assert (uri, DCTERMS.accessRights, URIRef(dcat.ACCESS_RIGHT + "PUBLIC")) in g
    assert (uri, DCTERMS.conformsTo, URIRef("https://example.org/schemas/energy")) in g
    period = g.value(uri, DCTERMS.temporal)
    assert g.value(period, DCAT.startDate) == Literal(
        datetime.date(2020, 1, 1), datatype=dcat.XSD.date
    )
    contact = g.value(uri, DCAT.contactPoint)
    assert str(g.value(contact, URIRef("http://www.w3.org/2006/vcard/ns#hasEmail"))) == (
        "mailto:data@publisher.example"
    )
    assert str(g.value(g.value(uri, DCTERMS.publisher), URIRef(str(dcat.FOAF) + "name"))) == (
        "Publisher S.A."
    )
    assert g.value(uri, DCAT.landingPage) == URIRef("https://publisher.example/energy")

    # distributions of the newest version: checksum, size, media type, format, licence
    dists = list(g.objects(uri, DCAT.distribution))
    assert len(dists) == 2
    csv = next(d for d in dists if str(g.value(d, DCTERMS.title)) == "energy.csv")
    assert g.value(csv, DCAT.byteSize) == Literal(64, datatype=dcat.XSD.nonNegativeInteger)
    assert g.value(csv, DCAT.mediaType) == URIRef(dcat.IANA + "text/csv")
    assert g.value(csv, DCTERMS.format) == URIRef(dcat.FILE_TYPE + "CSV")
    assert g.value(csv, DCTERMS.license) == URIRef(dcat.LICENCE + "CC_BY_4_0")
    assert g.value(csv, DCAT.accessURL) is not None
    checksum = g.value(csv, dcat.SPDX.checksum)
    assert g.value(checksum, dcat.SPDX.algorithm) == dcat.SPDX.checksumAlgorithm_sha256
    assert str(g.value(checksum, dcat.SPDX.checksumValue)) == "ab" * 32

    # DQV: the metadata score and the data quality score, each of its metric, with reasons
    values = {}
    for m in g.objects(uri, dcat.DQV.hasQualityMeasurement):
        values[g.value(m, dcat.DQV.isMeasurementOf)] = g.value(m, dcat.DQV.value).toPython()
    assert values == {
        URIRef(settings.DATA_CATALOG_URI + "#metadata-quality-score"): full.metadata_score,
        URIRef(settings.DATA_CATALOG_URI + "#data-quality-score"): 87,
    }
    bodies = [
        str(g.value(g.value(a, dcat.OA.hasBody), RDF.value))
        for a in g.objects(uri, dcat.DQV.hasQualityAnnotation)
    ]
    assert any("completeness [kwh]: failed" in b for b in bodies)
    assert any(b.startswith("Metadata quality:") for b in bodies)

    # the harvested dataset's files stay references; a place name is a dct:Location
    harvested = dcat.dataset_uri(catalogue["harvested"])
    refs = list(g.objects(harvested, DCAT.distribution))
    assert URIRef("https://example.org/files/bees.csv#dist") in refs
    assert len(refs) == 2
    place = g.value(harvested, DCTERMS.spatial)
    assert (place, RDF.type, DCTERMS.Location) in g


def test_a_broken_graph_gives_violations(catalogue):
    graph = dcat.catalog_graph(None)
    uri = dcat.dataset_uri(catalogue["full"])
    for title in list(graph.objects(uri, DCTERMS.title)):
        graph.remove((uri, DCTERMS.title, title))
    for dist in graph.objects(uri, DCAT.distribution):
        graph.remove((dist, DCAT.accessURL, None))
        graph.set((dist, DCAT.byteSize, Literal("big")))
    violations = shacl_violations(graph)
    paths = {v["path"] for v in violations}
    assert str(DCTERMS.title) in paths
    assert str(DCAT.accessURL) in paths
    assert str(DCAT.byteSize) in paths


def test_visitors_see_only_what_they_may(catalogue):
    public = {
        catalogue["full"].identifier,
        catalogue["restricted"].identifier,
        catalogue["harvested"].identifier,
    }
    assert _identifiers(dcat.catalog_graph(None)) == public
    assert _identifiers(dcat.catalog_graph(catalogue["outsider"])) == public
    # members see their organisation's internal dataset; drafts are in no catalogue
    assert _identifiers(dcat.catalog_graph(catalogue["member"])) == public | {
        catalogue["internal"].identifier
    }
    assert catalogue["draft"].identifier not in _identifiers(dcat.catalog_graph(catalogue["owner"]))


def test_api_catalogue_and_one_dataset(catalogue, make_user):
    anonymous = ApiClient()
    response = anonymous.get("/dcat/catalog.ttl")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/turtle")
    graph = Graph().parse(data=_body(response), format="turtle")
    assert catalogue["internal"].identifier not in _identifiers(graph)
    assert catalogue["full"].identifier in _identifiers(graph)

    response = ApiClient(catalogue["member"]).get("/dcat/catalog.jsonld")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/ld+json")
    text = _body(response)
    assert "@context" in json.loads(text)
    graph = Graph().parse(data=text, format="json-ld")
    assert catalogue["internal"].identifier in _identifiers(graph)

    # one dataset, by slug or id; an internal one is not found for outsiders
    response = anonymous.get(f"/datasets/{catalogue['full'].slug}/dcat.ttl")
    assert response.status_code == 200
    assert _identifiers(Graph().parse(data=response.content.decode(), format="turtle")) == {
        catalogue["full"].identifier
    }
    assert anonymous.get(f"/datasets/{catalogue['full'].pk}/dcat.jsonld").status_code == 200
    assert anonymous.get(f"/datasets/{catalogue['internal'].slug}/dcat.ttl").status_code == 404
    assert anonymous.get(f"/datasets/{catalogue['draft'].slug}/dcat.ttl").status_code == 404
    member = ApiClient(catalogue["member"])
    assert member.get(f"/datasets/{catalogue['internal'].slug}/dcat.ttl").status_code == 200

    # a wrong token is refused rather than treated as anonymous
    bad = ApiClient()
    bad.headers["Authorization"] = "Bearer nonsense"
    assert bad.get("/dcat/catalog.ttl").status_code == 401


def test_cli_export(catalogue, tmp_path):
    out = tmp_path / "catalog.jsonld"
    call_command("dcat", "export", "--format", "jsonld", "--output", str(out))
    graph = Graph().parse(out, format="json-ld")
    # the server's shell exports what an anonymous visitor sees
    assert catalogue["internal"].identifier not in _identifiers(graph)
    assert catalogue["full"].identifier in _identifiers(graph)

    stdout = io.StringIO()
    call_command("dcat", "export", stdout=stdout)
    graph = Graph().parse(data=stdout.getvalue(), format="turtle")
    assert catalogue["full"].identifier in _identifiers(graph)


def test_catalogue_settings(catalogue, settings):
    settings.DATA_CATALOG_TITLE = "Luxembourg AI Factory data"
    settings.DATA_CATALOG_URI = "https://data.example.lu/catalog"
    graph = dcat.catalog_graph(None)
    catalog = URIRef("https://data.example.lu/catalog")
    assert (catalog, RDF.type, DCAT.Catalog) in graph
    assert graph.value(catalog, DCTERMS.title) == Literal("Luxembourg AI Factory data", lang="en")
    assert len(list(graph.objects(catalog, DCAT.dataset))) == 3
