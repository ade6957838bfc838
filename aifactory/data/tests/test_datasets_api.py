"""The datasets API: list with filters, read, create, patch, publish, archive, versions by
multipart upload, by resumable upload and by reference; errors as problem+json naming the field;
what another organisation may not see answers 404."""

import hashlib

import pytest
from django.test import Client

from aifactory.accounts import services as account_services
from aifactory.data.models import Dataset, DatasetVersion
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import CSV, add_csv_version, make_dataset, stored_keys

pytestmark = pytest.mark.django_db


class Raw:
    """Bearer-token client for bodies the JSON ApiClient does not send (multipart, raw bytes)."""

    def __init__(self, user):
        _token, secret = account_services.token_create(user=user, name="tests")
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {secret}"}

    def post_files(self, path, files: dict, note=""):
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {"note": note}
        data["files"] = [SimpleUploadedFile(name, body) for name, body in files.items()]
        return self.client.post(f"/api/v1{path}", data=data, headers=self.headers)

    def patch_bytes(self, path, body: bytes, offset):
        headers = dict(self.headers)
        if offset is not None:
            headers["Upload-Offset"] = str(offset)
        return self.client.patch(
            f"/api/v1{path}",
            data=body,
            content_type="application/offset+octet-stream",
            headers=headers,
        )

    def head(self, path):
        return self.client.head(f"/api/v1{path}", headers=self.headers)


def test_create_read_patch_publish_archive(api, publisher):
    member, steward = api(publisher["member"]), api(publisher["steward"])
    answer = member.post(
        "/datasets",
        {
            "organisation": str(publisher["org"].pk),
            "title": {"en": "Grid load", "fr": "Charge du réseau"},
            "themes": ["ENER"],
            "access_rights": "restricted",
        },
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["slug"] == "grid-load" and body["status"] == "draft"
    assert body["publisher"]["name"] == publisher["org"].legal_name
    assert member.get(f"/datasets/{body['id']}").json()["slug"] == "grid-load"
    answer = member.patch("/datasets/grid-load", {"keywords": ["grid"], "licence": "CC_BY_4_0"})
    assert answer.status_code == 200 and answer.json()["keywords"] == ["grid"]
    assert answer.json()["title"]["fr"] == "Charge du réseau"  # untouched
    assert member.post("/datasets/grid-load/publish").status_code == 403
    assert steward.post("/datasets/grid-load/publish").json()["status"] == "published"
    assert steward.post("/datasets/grid-load/publish").status_code == 409
    assert steward.post("/datasets/grid-load/archive").json()["status"] == "archived"


def test_bad_input_is_problem_json_naming_the_field(api, publisher):
    member = api(publisher["member"])
    answer = member.post(
        "/datasets",
        {
            "organisation": str(publisher["org"].pk),
            "title": {"en": "People"},
            "personal_data": True,
            "access_rights": "public",
        },
    )
    assert answer.status_code == 422
    assert answer["Content-Type"].startswith("application/problem+json")
    assert "access_rights" in answer.json()["errors"]
    answer = member.post(
        "/datasets", {"organisation": str(publisher["org"].pk), "title": {}, "colour": "red"}
    )
    assert answer.status_code == 422 and "colour" in answer.json()["errors"]
    answer = member.post(
        "/datasets", {"organisation": str(publisher["other_org"].pk), "title": {"en": "x"}}
    )
    assert answer.status_code == 403
    assert not Dataset.objects.exists()


def test_list_filters_and_visibility(api, publisher):
    org = publisher["org"]
    energy = make_dataset(org, title={"en": "Energy use"}, themes=["ENER"], publish=True)
    add_csv_version(energy)
    make_dataset(org, title={"en": "Bus lines"}, themes=["TRAN"], keywords=["bus"], publish=True)
    make_dataset(org, title={"en": "Draft thing"})
    make_dataset(org, title={"en": "Staff list"}, access_rights="internal", publish=True)
    outsider, member = api(publisher["outsider"]), api(publisher["member"])

    def slugs(client, query=""):
        answer = client.get(f"/datasets{query}")
        assert answer.status_code == 200
        return sorted(d["slug"] for d in answer.json()["items"])

    assert slugs(outsider) == ["bus-lines", "energy-use"]
    assert slugs(member) == ["bus-lines", "draft-thing", "energy-use", "staff-list"]
    assert slugs(outsider, "?theme=tran") == ["bus-lines"]
    assert slugs(outsider, "?format=csv") == ["energy-use"]
    assert slugs(outsider, "?q=energy") == ["energy-use"]
    assert slugs(member, "?access_rights=internal") == ["staff-list"]
    assert slugs(outsider, f"?publisher={org.pk}") == ["bus-lines", "energy-use"]
    assert outsider.get("/datasets/draft-thing").status_code == 404
    assert outsider.get("/datasets/staff-list").status_code == 404
    assert api().get("/datasets").status_code == 401


def test_multipart_version_and_reading_it_back(publisher):
    dataset = make_dataset(publisher["org"], publish=True)
    client = Raw(publisher["member"])
    answer = client.post_files(
        f"/datasets/{dataset.slug}/versions",
        {"data.csv": CSV.encode(), "rows.jsonl": b'{"a": 1}\n'},
        note="first",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["number"] == 1 and body["note"] == "first"
    files = {d["name"]: d for d in body["distributions"]}
    assert files["data.csv"]["sha256"] == hashlib.sha256(CSV.encode()).hexdigest()
    assert files["rows.jsonl"]["format"] == "jsonl"
    listed = client.client.get(f"/api/v1/datasets/{dataset.pk}/versions", headers=client.headers)
    assert [v["number"] for v in listed.json()] == [1]
    one = client.client.get(f"/api/v1/datasets/{dataset.slug}/versions/1", headers=client.headers)
    assert one.json()["id"] == body["id"]
    missing = client.client.get(
        f"/api/v1/datasets/{dataset.slug}/versions/9", headers=client.headers
    )
    assert missing.status_code == 404


def test_multipart_bad_files_leave_nothing(publisher):
    dataset = make_dataset(publisher["org"])
    client = Raw(publisher["member"])
    answer = client.post_files(
        f"/datasets/{dataset.slug}/versions", {"good.csv": CSV.encode(), "empty.csv": b""}
    )
    assert answer.status_code == 422
    assert "empty.csv" in answer.json()["errors"]["files"][0]
    assert not DatasetVersion.objects.exists() and stored_keys() == []
    outsider = Raw(publisher["outsider"])
    answer = outsider.post_files(f"/datasets/{dataset.slug}/versions", {"a.csv": CSV.encode()})
    assert answer.status_code == 404


def test_resumable_upload_over_http(publisher, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # a raw body is streamed, not limited by this
    body = (CSV * 2000).encode()  # about 200 kB
    digest = hashlib.sha256(body).hexdigest()
    dataset = make_dataset(publisher["org"])
    client = Raw(publisher["member"])
    json_client = Client()
    answer = json_client.post(
        f"/api/v1/datasets/{dataset.slug}/uploads",
        data={"name": "big.csv", "size": len(body), "sha256": digest},
        content_type="application/json",
        headers=client.headers,
    )
    assert answer.status_code == 201, answer.content
    upload = answer.json()
    assert upload["offset"] == 0
    path = f"/datasets/{dataset.slug}/uploads/{upload['id']}"
    answer = client.patch_bytes(path, body[:100_000], 0)
    assert answer.status_code == 200 and answer["Upload-Offset"] == "100000"
    # A retry of the same part: 409 naming the offset to send from.
    answer = client.patch_bytes(path, body[:100_000], 0)
    assert answer.status_code == 409
    assert answer["Upload-Offset"] == "100000"
    assert "100000" in answer.json()["errors"]["offset"][0]
    assert client.head(path)["Upload-Offset"] == "100000"
    assert client.client.get(f"/api/v1{path}", headers=client.headers).json()["offset"] == 100_000
    assert client.patch_bytes(path, body[100_000:], None).status_code == 422  # no offset header
    answer = client.patch_bytes(path, body[100_000:], 100_000)
    assert answer.json()["status"] == "complete"
    answer = json_client.post(
        f"/api/v1/datasets/{dataset.slug}/versions",
        data={"uploads": [upload["id"]], "note": "resumed"},
        content_type="application/json",
        headers=client.headers,
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["distributions"][0]["sha256"] == digest
    # Somebody else's upload is not found.
    other = Raw(publisher["owner"])
    assert other.head(path).status_code == 404


def test_upload_delete_aborts(publisher):
    dataset = make_dataset(publisher["org"])
    client = Raw(publisher["member"])
    answer = Client().post(
        f"/api/v1/datasets/{dataset.slug}/uploads",
        data={"name": "x.csv", "size": 10},
        content_type="application/json",
        headers=client.headers,
    )
    path = f"/api/v1/datasets/{dataset.slug}/uploads/{answer.json()['id']}"
    assert client.client.delete(path, headers=client.headers).status_code == 204
    assert client.patch_bytes(path[len("/api/v1") :], b"0123456789", 0).status_code == 409


def test_references_version_is_accepted_and_bad_urls_refused(publisher, settings):
    settings.DATA_FETCH_ALLOW_HOSTS = []
    dataset = make_dataset(publisher["org"])
    client = Raw(publisher["member"])
    post = lambda data: Client().post(  # noqa: E731
        f"/api/v1/datasets/{dataset.slug}/versions",
        data=data,
        content_type="application/json",
        headers=client.headers,
    )
    answer = post({"references": ["https://data.example.org/energy.csv"]})
    assert answer.status_code == 202 and answer.json()["status"] == "fetching"
    answer = post({"references": ["https://169.254.169.254/latest/meta-data"]})
    assert answer.status_code == 422 and "references" in answer.json()["errors"]
    assert post({}).status_code == 422
    assert post({"uploads": [], "references": [], "extra": 1}).status_code == 422
    answer = post({"uploads": ["00000000-0000-0000-0000-000000000000"]})
    assert answer.status_code == 422 and "uploads" in answer.json()["errors"]


def test_reference_urls_only_for_the_publishers_members(api, publisher):
    from aifactory.data.models import Distribution

    dataset = make_dataset(publisher["org"], publish=True)
    version = add_csv_version(dataset)
    secret = "https://data.example.org/data.csv?token=s3cr3t"
    # The storage key a fetch records as it goes (for the sweeper) is never shown, even to members.
    DatasetVersion.objects.filter(pk=version.pk).update(
        references=[{"url": secret, "key": "versions/internal-storage-key"}]
    )
    Distribution.objects.filter(version=version).update(source_url=secret)
    path = f"/datasets/{dataset.slug}/versions/1"
    body = api(publisher["member"]).get(path).json()
    assert body["references"] == [{"url": secret}]
    assert "internal-storage-key" not in str(body)
    assert body["distributions"][0]["source_url"] == secret
    for viewer in (publisher["outsider"],):
        answer = api(viewer).get(path)
        assert answer.status_code == 200 and secret not in answer.content.decode()
        assert answer.json()["references"] == []
        assert answer.json()["distributions"][0]["source_url"] == ""
    listed = api(publisher["outsider"]).get(f"/datasets/{dataset.slug}/versions")
    assert listed.status_code == 200 and secret not in listed.content.decode()
