"""Harvesting through its interfaces: the operators' pages, the API and `aifactory harvest`; and
the dataset page's links to its DCAT-AP and Croissant documents."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse

from aifactory.conftest import ApiClient
from aifactory.data import services
from aifactory.data.models import Dataset, HarvestRun, HarvestSource, HarvestStatus
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.dcat_helpers import full_dataset

pytestmark = pytest.mark.django_db

DOC = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://src.example/ds/a> a dcat:Dataset ; dct:identifier "A" ; dct:title "Alpha"@en ;
    dct:description "First."@en ;
    dcat:distribution [ a dcat:Distribution ; dcat:accessURL <https://src.example/a.csv> ;
        dct:title "a.csv" ] .
<https://src.example/ds/c> a dcat:Dataset ; dct:identifier "C" .
"""


def test_pages(publisher, operator, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(operator)
    assert client.get(reverse("data_harvest:source_list")).status_code == 200
    # a bad address is a field error, and nothing is made
    response = client.post(
        reverse("data_harvest:source_new"),
        {
            "name": "bad",
            "url": "ftp://portal.example/c.rdf",
            "publisher": publisher["org"].pk,
            "interval_hours": 24,
        },
    )
    assert response.status_code == 422
    assert not HarvestSource.objects.exists()
    response = client.post(
        reverse("data_harvest:source_new"),
        {
            "name": "upload",
            "title": "Uploaded catalogue",
            "publisher": publisher["org"].pk,
            "interval_hours": 12,
            "is_active": "on",
            "file": SimpleUploadedFile("catalog.ttl", DOC),
        },
    )
    assert response.status_code == 302, response.content[:500]
    source = HarvestSource.objects.get(name="upload")
    assert source.file_key and source.interval_hours == 12

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("data_harvest:source_run", args=["upload"]))
    assert response.status_code == 302
    assert len(callbacks) == 1  # the task is enqueued after the commit
    services.harvest_run(str(source.pk))  # what the worker does

    page = client.get(reverse("data_harvest:source_runs", args=["upload"])).content.decode()
    assert "no dct:title" in page and "Alpha" in page
    listing = client.get(reverse("data_harvest:source_list")).content.decode()
    assert "Uploaded catalogue" in listing and "1 new, 0 updated" in listing

    response = client.post(
        reverse("data_harvest:source_edit", args=["upload"]),
        {
            "title": "Renamed",
            "publisher": publisher["org"].pk,
            "interval_hours": 6,
            "is_active": "",
        },
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.title, source.interval_hours, source.is_active) == ("Renamed", 6, False)
    assert source.file_key  # no new file and no address: the file stays

    # a harvested dataset's page shows where it comes from and its files at the source
    alpha = Dataset.objects.get(source=source, identifier="A")
    page = client.get(reverse("data:dataset_detail", args=[alpha.slug])).content.decode()
    assert 'id="harvested-from"' in page and "https://src.example/a.csv" in page
    assert 'id="dcat-ttl"' in page and 'id="croissant"' not in page  # no version here

    # people who are no operators may not
    steward = Client()
    steward.force_login(publisher["owner"])
    assert steward.get(reverse("data_harvest:source_list")).status_code == 403
    assert steward.post(reverse("data_harvest:source_run", args=["upload"])).status_code == 403


def test_dataset_page_links(publisher):
    dataset = full_dataset(publisher["org"])
    page = Client().get(reverse("data:dataset_detail", args=[dataset.slug])).content.decode()
    assert f"/api/v1/datasets/{dataset.slug}/dcat.ttl" in page
    assert f"/api/v1/datasets/{dataset.slug}/dcat.jsonld" in page
    assert f"/api/v1/datasets/{dataset.slug}/croissant" in page


def test_api(publisher, operator):
    api = ApiClient(operator)
    response = api.post(
        "/harvest/sources",
        {
            "name": "portal",
            "url": "https://portal.example/catalog.rdf",
            "publisher": str(publisher["org"].pk),
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "portal" and body["has_file"] is False
    assert body["publisher_name"] == "Publisher S.A."

    response = api.post(
        "/harvest/sources",
        {"name": "x", "url": "http://10.1.1.1/c", "publisher": str(publisher["org"].pk)},
    )
    assert response.status_code == 422 and "url" in response.json()["errors"]
    response = api.post("/harvest/sources", {"name": "x", "nonsense": 1})
    assert response.status_code == 422

    response = api.patch("/harvest/sources/portal", {"interval_hours": 48})
    assert response.status_code == 200 and response.json()["interval_hours"] == 48
    assert api.get("/harvest/sources").json()[0]["name"] == "portal"
    assert api.post("/harvest/sources/portal/run").status_code == 202
    assert api.get("/harvest/sources/portal/runs").json() == []
    assert api.get("/harvest/sources/nothing").status_code == 404

    source = HarvestSource.objects.get(name="portal")
    services.harvest_source_update(
        actor=operator, source=source, data={"file": SimpleUploadedFile("c.ttl", DOC)}
    )
    services.harvest_run(str(source.pk))
    runs = api.get(f"/harvest/sources/{source.pk}/runs").json()
    assert runs[0]["status"] == "done" and runs[0]["created"] == 1
    assert runs[0]["errors"][0]["identifier"] == "C"

    assert ApiClient(publisher["owner"]).get("/harvest/sources").status_code == 403
    assert ApiClient().get("/harvest/sources").status_code == 401


def test_cli(publisher, operator, tmp_path):
    path = tmp_path / "catalog.ttl"
    path.write_bytes(DOC)
    out = io.StringIO()
    call_command(
        "harvest", "add", "local", "--file", str(path), "--publisher", "Publisher S.A.", stdout=out
    )
    assert "added harvest source local" in out.getvalue()
    out = io.StringIO()
    call_command("harvest", "run", "local", stdout=out)
    assert "1 new, 0 updated, 0 unchanged, 0 gone, 1 errors" in out.getvalue()
    out = io.StringIO()
    call_command("harvest", "list", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows[0]["name"] == "local" and rows[0]["datasets"] == 1

    with pytest.raises(CommandError, match="--publisher"):
        call_command(
            "harvest", "add", "other", "--url", "https://a.example/c", "--publisher", "Nobody"
        )
    with pytest.raises(CommandError, match="no harvest source"):
        call_command("harvest", "run", "missing")
    # a source that cannot be read fails the command with its error
    path.write_bytes(b"not rdf at all {{{")
    source = HarvestSource.objects.get(name="local")
    with path.open("rb") as handle:
        services.harvest_source_update(actor=None, source=source, data={"file": handle})
    with pytest.raises(CommandError, match="Not a readable RDF document"):
        call_command("harvest", "run", "local", stdout=io.StringIO())


def test_an_unknown_source_is_a_404_page_for_operators(operator):
    from django.test import Client

    client = Client()
    client.force_login(operator)
    assert client.get("/harvest/sources/nothing/runs/").status_code == 404


def test_the_operators_pages_show_statuses_and_errors_in_their_language(publisher, operator):
    source = services.harvest_source_create(
        actor=operator,
        data={
            "name": "portal",
            "url": "https://portal.example/catalog.ttl",
            "publisher": publisher["org"],
        },
    )
    HarvestSource.objects.filter(pk=source.pk).update(last_status=HarvestStatus.QUEUED)
    HarvestRun.objects.create(source=source)  # running
    client = Client()
    client.force_login(operator)
    client.cookies["django_language"] = "de"
    listing = client.get(reverse("data_harvest:source_list")).content.decode()
    assert "in der Warteschlange" in listing and ">queued<" not in listing
    runs = client.get(reverse("data_harvest:source_runs", args=["portal"])).content.decode()
    assert "läuft" in runs
    # the address check (data.fetch) and the storage's size limit answer in German too
    form = {"publisher": publisher["org"].pk, "interval_hours": 24}
    response = client.post(
        reverse("data_harvest:source_new"), {**form, "name": "ftp", "url": "ftp://x.example/c"}
    )
    assert response.status_code == 422
    assert "Es werden nur https- (oder s3://-)URLs abgerufen" in response.content.decode()
    with override_settings(DATA_HARVEST_MAX_MB=0):
        response = client.post(
            reverse("data_harvest:source_new"),
            {**form, "name": "big", "file": SimpleUploadedFile("catalog.ttl", DOC)},
        )
    assert response.status_code == 422
    assert "Die Datei ist größer als die Grenze von 0 Bytes." in response.content.decode()
