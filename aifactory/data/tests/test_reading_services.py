"""Download, preview and job use through the services: the read right, and the access log."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from aifactory.core.errors import NotAllowed, NotFound
from aifactory.data import services
from aifactory.data.models import AccessLogEntry, Grant
from aifactory.data.tests.data_helpers import data_storage, publisher  # noqa: F401
from aifactory.data.tests.requests_helpers import dataset_make, request_make, version_make


@pytest.fixture
def granted(publisher):  # noqa: F811
    """A restricted dataset with one version, and a grant for the outsider's organisation."""
    dataset = dataset_make(publisher["org"])
    version = version_make(dataset, {"data.csv": "SELECT 1 AS id, 'a' AS x", "notes.txt": None})
    req = request_make(dataset, publisher["outsider"], publisher["other_org"])
    grant = services.request_approve(actor=publisher["steward"], request=req)
    csv = version.distributions.get(name="data.csv")
    return dataset, csv, grant


def test_download_with_a_grant_is_logged(publisher, granted):  # noqa: F811
    dataset, csv, grant = granted
    stream, name, media = services.distribution_download(
        actor=publisher["outsider"], distribution=csv
    )
    with stream:
        assert stream.read().decode().splitlines() == ["id,x", "1,a"]
    assert (name, media) == ("data.csv", "text/csv")
    entry = AccessLogEntry.objects.get()
    assert entry.action == "download" and entry.user == publisher["outsider"]
    assert entry.organisation == publisher["other_org"] and entry.grant == grant
    assert entry.version == csv.version and entry.detail == "v1/data.csv"


def test_reading_stops_at_the_expiry(publisher, granted):  # noqa: F811
    _dataset, csv, grant = granted
    services.distribution_preview(actor=publisher["outsider"], distribution=csv)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    for call in (services.distribution_download, services.distribution_preview):
        with pytest.raises(NotAllowed) as exc:
            call(actor=publisher["outsider"], distribution=csv)
        assert "ended" in exc.value.message
    assert list(AccessLogEntry.objects.values_list("action", flat=True)) == ["preview"]


def test_preview_reads_the_parquet_copy(publisher, granted):  # noqa: F811
    _dataset, csv, _grant = granted
    table = services.distribution_preview(actor=publisher["outsider"], distribution=csv)
    assert table["columns"] == ["id", "x"] and table["rows"] == [[1, "a"]]
    entry = AccessLogEntry.objects.get()
    assert entry.action == "preview" and entry.grant is not None


def test_preview_explains_what_it_cannot_show(publisher, granted):  # noqa: F811
    _dataset, csv, _grant = granted
    text = csv.version.distributions.get(name="notes.txt")
    table = services.distribution_preview(actor=publisher["outsider"], distribution=text)
    assert table["rows"] == [] and "not tabular" in table["message"]
    csv.parquet_key = ""
    csv.profile_status = "pending"
    csv.save()
    table = services.distribution_preview(actor=publisher["outsider"], distribution=csv)
    assert table["rows"] == [] and "profiled" in table["message"]


def test_others_cannot_read(publisher, make_user):  # noqa: F811
    org, outsider = publisher["org"], publisher["outsider"]
    restricted = version_make(dataset_make(org)).distributions.get()
    internal = version_make(dataset_make(org, access_rights="internal")).distributions.get()
    draft = version_make(dataset_make(org, status="draft")).distributions.get()
    registered = version_make(dataset_make(org, access_rights="registered")).distributions.get()
    with pytest.raises(NotAllowed) as exc:
        services.distribution_download(actor=outsider, distribution=restricted)
    assert "ask its publisher" in exc.value.message
    for distribution in (internal, draft):
        for call in (services.distribution_download, services.distribution_preview):
            with pytest.raises(NotFound):
                call(actor=outsider, distribution=distribution)
        with pytest.raises(NotFound):
            services.dataset_use_record(
                actor=outsider, dataset=distribution.version.dataset, detail="J-1"
            )
    with pytest.raises(NotAllowed):
        services.distribution_download(actor=AnonymousUser(), distribution=registered)
    services.distribution_download(actor=make_user(), distribution=registered)[0].close()
    # The publisher's members read everything of theirs, logged under the publisher.
    services.distribution_download(actor=publisher["member"], distribution=internal)[0].close()
    entries = list(AccessLogEntry.objects.order_by("id"))
    assert [e.dataset_id for e in entries] == [
        registered.version.dataset_id,
        internal.version.dataset_id,
    ]
    assert entries[0].organisation is None and entries[1].organisation == org


def test_public_data_for_anyone(publisher):  # noqa: F811
    csv = version_make(dataset_make(publisher["org"], access_rights="public")).distributions.get()
    stream, _name, _media = services.distribution_download(actor=AnonymousUser(), distribution=csv)
    stream.close()
    entry = AccessLogEntry.objects.get()
    assert entry.user is None and entry.user_repr == "anonymous"


def test_job_use_is_checked_and_logged(publisher, granted):  # noqa: F811
    dataset, _csv, grant = granted
    entry = services.dataset_use_record(
        actor=publisher["outsider"], dataset=dataset, detail="J-2026-00001"
    )
    assert (entry.action, entry.detail, entry.grant) == ("job", "J-2026-00001", grant)
    services.grant_revoke(actor=publisher["steward"], grant=grant, reason="ended")
    with pytest.raises(NotAllowed):
        services.dataset_use_record(actor=publisher["outsider"], dataset=dataset, detail="J-2")
    assert AccessLogEntry.objects.count() == 1
