"""The dataset pages: the list with its search and filters, a new dataset, a dataset's page with
its versions and the included quality, access and standards parts, editing, a new version with
files or addresses, publishing and archiving; what one may not see answers 404."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from aifactory.data.models import Dataset, DatasetVersion
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import CSV, add_csv_version, make_dataset, stored_keys

pytestmark = pytest.mark.django_db


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_list_search_and_filters(publisher):
    org = publisher["org"]
    energy = make_dataset(org, title={"en": "Energy use", "de": "Energieverbrauch"}, publish=True)
    add_csv_version(energy)
    make_dataset(org, title={"en": "Bus lines"}, themes=["TRAN"], keywords=["bus"], publish=True)
    make_dataset(org, title={"en": "Secret draft"})
    anonymous = client_for()
    page = anonymous.get("/datasets/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Energy use" in html and "Bus lines" in html and "Secret draft" not in html
    html = anonymous.get("/datasets/?q=bus").content.decode()
    assert "Bus lines" in html and "Energy use" not in html
    html = anonymous.get("/datasets/?theme=TRAN").content.decode()
    assert "Bus lines" in html and "Energy use" not in html
    html = anonymous.get("/datasets/?format=csv").content.decode()
    assert "Energy use" in html and "Bus lines" not in html
    fragment = anonymous.get("/datasets/?access_rights=public", headers={"HX-Request": "true"})
    assert fragment.content.decode().startswith('<div id="dataset-results">')
    html = client_for(publisher["member"]).get("/datasets/").content.decode()
    assert "Secret draft" in html and 'id="dataset-new-link"' in html
    html = client_for(publisher["member"]).get("/datasets/", headers={"Accept-Language": "de"})
    assert 'href="/datasets/"' in client_for(publisher["member"]).get("/").content.decode()


def test_new_dataset_with_organisation_picker(publisher):
    client = client_for(publisher["member"])
    page = client.get("/datasets/new/")
    assert page.status_code == 200 and publisher["org"].legal_name in page.content.decode()
    answer = client.post(
        "/datasets/new/",
        {
            "organisation": str(publisher["other_org"].pk),  # not theirs
            "title_en": "Grid",
            "access_rights": "internal",
        },
    )
    assert answer.status_code == 422 and not Dataset.objects.exists()
    answer = client.post(
        "/datasets/new/",
        {"organisation": str(publisher["org"].pk), "title_fr": "", "access_rights": "internal"},
    )
    assert answer.status_code == 422
    assert "at least one language" in answer.content.decode()
    answer = client.post(
        "/datasets/new/",
        {
            "organisation": str(publisher["org"].pk),
            "title_fr": "Réseau électrique",
            "keywords": "grid, power",
            "themes": ["ENER", "TECH"],
            "access_rights": "public",
            "personal_data": "on",
        },
    )
    assert answer.status_code == 422
    assert "personal data cannot be public" in answer.content.decode()
    answer = client.post(
        "/datasets/new/",
        {
            "organisation": str(publisher["org"].pk),
            "title_fr": "Réseau électrique",
            "keywords": "grid, power",
            "themes": ["ENER", "TECH"],
            "access_rights": "registered",
        },
    )
    dataset = Dataset.objects.get()
    assert (
        answer.status_code == 302
        and answer["Location"] == f"/datasets/{dataset.slug}/versions/new/"
    )
    assert dataset.slug == "reseau-electrique" and dataset.keywords == ["grid", "power"]
    assert dataset.themes == ["ENER", "TECH"] and dataset.access_rights == "registered"
    # People without an organisation cannot create datasets.
    from aifactory.accounts import services as account_services

    loner = account_services.user_create(email="loner@example.org", password="x-Very-long-9")
    account_services.terms_accept(user=loner)
    assert client_for(loner).get("/datasets/new/").status_code == 403


def test_detail_shows_versions_files_and_the_parts(publisher):
    dataset = make_dataset(publisher["org"], title={"en": "Energy use"}, publish=True)
    add_csv_version(dataset, note="first data")
    page = client_for().get(f"/datasets/{dataset.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="version-1"' in html and "data.csv" in html and "first data" in html
    assert dataset.versions.get().distributions.get().sha256 in html
    assert 'id="quality"' in html and 'id="dataset-access"' in html
    assert 'id="dataset-publish"' not in html and 'id="dataset-edit"' not in html
    html = client_for(publisher["steward"]).get(f"/datasets/{dataset.slug}/").content.decode()
    assert 'id="dataset-archive"' in html and 'id="dataset-edit"' in html


def test_drafts_are_404_for_others(publisher):
    dataset = make_dataset(publisher["org"])
    assert client_for().get(f"/datasets/{dataset.slug}/").status_code == 404
    assert client_for(publisher["outsider"]).get(f"/datasets/{dataset.slug}/").status_code == 404
    assert client_for(publisher["member"]).get(f"/datasets/{dataset.slug}/").status_code == 200


def test_edit_keeps_governed_fields_for_members(publisher):
    dataset = make_dataset(publisher["org"], access_rights="restricted")
    client = client_for(publisher["member"])
    page = client.get(f"/datasets/{dataset.slug}/edit/")
    assert page.status_code == 200
    answer = client.post(
        f"/datasets/{dataset.slug}/edit/",
        {"title_en": "Renamed", "access_rights": "public", "frequency": "MONTHLY"},
    )
    assert answer.status_code == 302
    dataset.refresh_from_db()
    assert dataset.title == {"en": "Renamed"} and dataset.frequency == "MONTHLY"
    assert dataset.access_rights == "restricted"  # disabled for members
    answer = client.post(f"/datasets/{dataset.slug}/edit/", {"title_en": "", "access_rights": "x"})
    assert answer.status_code == 422
    assert (
        client_for(publisher["outsider"]).get(f"/datasets/{dataset.slug}/edit/").status_code == 404
    )


def test_new_version_with_files_and_bad_input(publisher, django_capture_on_commit_callbacks):
    dataset = make_dataset(publisher["org"])
    client = client_for(publisher["member"])
    assert client.get(f"/datasets/{dataset.slug}/versions/new/").status_code == 200
    answer = client.post(
        f"/datasets/{dataset.slug}/versions/new/",
        {
            "files": [
                SimpleUploadedFile("good.csv", CSV.encode()),
                SimpleUploadedFile("empty.csv", b""),
            ]
        },
    )
    assert answer.status_code == 422, answer.content.decode()[-6000:-3000]
    assert "empty.csv is empty" in answer.content.decode()
    assert not DatasetVersion.objects.exists() and stored_keys() == []
    assert client.post(f"/datasets/{dataset.slug}/versions/new/", {}).status_code == 422
    with django_capture_on_commit_callbacks(execute=False):
        answer = client.post(
            f"/datasets/{dataset.slug}/versions/new/",
            {
                "files": [
                    SimpleUploadedFile("../../evil.csv", CSV.encode()),
                    SimpleUploadedFile("b.jsonl", b'{"a": 1}\n'),
                ],
                "note": "two files",
            },
        )
    assert answer.status_code == 302
    version = DatasetVersion.objects.get()
    assert sorted(version.distributions.values_list("name", flat=True)) == ["b.jsonl", "evil.csv"]


def test_new_version_by_reference(publisher, settings):
    settings.DATA_FETCH_ALLOW_HOSTS = []
    dataset = make_dataset(publisher["org"])
    client = client_for(publisher["member"])
    answer = client.post(
        f"/datasets/{dataset.slug}/versions/new/",
        {"references": "https://10.0.0.5/data.csv"},
    )
    assert answer.status_code == 422 and "10.0.0.5" in answer.content.decode()
    answer = client.post(
        f"/datasets/{dataset.slug}/versions/new/",
        {"references": "https://data.example.org/a.csv\nhttps://data.example.org/b.csv"},
    )
    assert answer.status_code == 302
    version = DatasetVersion.objects.get()
    assert version.status == "fetching" and len(version.references) == 2
    html = client.get(f"/datasets/{dataset.slug}/").content.decode()
    assert "https://data.example.org/a.csv" in html


def test_publish_and_archive_buttons(publisher):
    dataset = make_dataset(publisher["org"])
    assert (
        client_for(publisher["member"]).post(f"/datasets/{dataset.slug}/publish/").status_code
        == 403
    )
    steward = client_for(publisher["steward"])
    assert steward.post(f"/datasets/{dataset.slug}/publish/").status_code == 302
    dataset.refresh_from_db()
    assert dataset.status == "published"
    answer = steward.post(f"/datasets/{dataset.slug}/publish/", follow=True)
    assert "published already" in answer.content.decode()
    assert steward.post(f"/datasets/{dataset.slug}/archive/").status_code == 302
    dataset.refresh_from_db()
    assert dataset.status == "archived"
    assert steward.get(f"/datasets/{dataset.slug}/publish/").status_code == 405


def test_profile_values_only_for_who_may_read_the_data(publisher):
    from aifactory.data import services

    dataset = make_dataset(publisher["org"], access_rights="restricted", publish=True)
    version = add_csv_version(dataset, "id,email\n1,secret.person@mail.example\n2,x@y.example\n")
    services.version_profile(str(version.pk))
    assert version.distributions.get().profile_status == "done"
    url = f"/datasets/{dataset.slug}/"
    for viewer in (None, publisher["outsider"]):
        html = client_for(viewer).get(url).content.decode()
        assert 'data-column="email"' in html  # columns, types, nulls and distinct stay
        assert "secret.person@mail.example" not in html
        assert 'data-profile="values-hidden"' in html
    html = client_for(publisher["member"]).get(url).content.decode()
    assert "secret.person@mail.example" in html and 'data-profile="values-hidden"' not in html


def test_reference_urls_only_for_the_publishers_members(publisher):
    dataset = make_dataset(publisher["org"], publish=True)
    version = add_csv_version(dataset)
    secret = "https://data.example.org/a.csv?token=s3cr3t"
    DatasetVersion.objects.filter(pk=version.pk).update(
        status="fetching", references=[{"url": secret, "name": "a.csv"}]
    )
    # A version still fetching shows its addresses to the members only.
    assert (
        secret in client_for(publisher["member"]).get(f"/datasets/{dataset.slug}/").content.decode()
    )
    for viewer in (None, publisher["outsider"]):
        assert secret not in client_for(viewer).get(f"/datasets/{dataset.slug}/").content.decode()
