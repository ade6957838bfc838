"""Resumable uploads through the services: chunks at the right offset, a broken connection resumed,
the digest checked, bytes past the size refused, abort and expiry, and a version from uploads."""

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from aifactory.core.errors import InvalidTransition, NotFound, ServiceError
from aifactory.data import services
from aifactory.data.models import DatasetVersion, Upload
from aifactory.data.services.versions import OffsetMismatch, upload_path
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import CSV, make_dataset, stored_keys

pytestmark = pytest.mark.django_db
BODY = CSV.encode() * 50


def start(publisher, body=BODY, sha=True, name="big.csv"):
    dataset = make_dataset(publisher["org"])
    upload = services.upload_start(
        actor=publisher["member"],
        dataset=dataset,
        name=name,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest() if sha else "",
    )
    return dataset, upload


def test_upload_in_parts_then_a_version(
    publisher, data_storage, django_capture_on_commit_callbacks
):
    dataset, upload = start(publisher)
    assert upload_path(upload).exists() and upload.received == 0
    member = publisher["member"]
    upload = services.upload_append(actor=member, upload=upload, offset=0, chunks=[BODY[:100]])
    assert (upload.received, upload.status) == (100, "open")
    upload = services.upload_append(
        actor=member, upload=upload, offset=100, chunks=[BODY[100:500], BODY[500:]]
    )
    assert (upload.received, upload.status) == (len(BODY), "complete")
    with django_capture_on_commit_callbacks(execute=True):
        version = services.version_create(
            actor=member, dataset=dataset, uploads=[upload], note="big"
        )
    dist = version.distributions.get()
    assert (dist.name, dist.size, dist.sha256) == (
        "big.csv",
        len(BODY),
        hashlib.sha256(BODY).hexdigest(),
    )
    upload.refresh_from_db()
    assert upload.status == "used"
    assert not upload_path(upload).exists()
    with pytest.raises(ValidationError):  # an upload serves one version
        services.version_create(actor=member, dataset=dataset, uploads=[upload])


def test_wrong_offset_is_a_conflict_naming_the_expected_offset(publisher, data_storage):
    _dataset, upload = start(publisher)
    services.upload_append(actor=publisher["member"], upload=upload, offset=0, chunks=[BODY[:10]])
    with pytest.raises(OffsetMismatch) as caught:
        services.upload_append(
            actor=publisher["member"], upload=upload, offset=0, chunks=[BODY[:10]]
        )
    assert caught.value.status == 409 and caught.value.expected == 10
    assert "offset 10" in caught.value.message
    assert upload_path(upload).stat().st_size == 10


def test_a_broken_connection_keeps_what_arrived_and_resumes(publisher, data_storage):
    _dataset, upload = start(publisher)

    def broken():
        yield BODY[:300]
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        services.upload_append(actor=publisher["member"], upload=upload, offset=0, chunks=broken())
    upload.refresh_from_db()
    assert upload.received == 300
    upload = services.upload_append(
        actor=publisher["member"], upload=upload, offset=300, chunks=[BODY[300:]]
    )
    assert upload.status == "complete"


def test_bytes_past_the_size_are_refused_and_not_kept(publisher, data_storage):
    _dataset, upload = start(publisher)
    with pytest.raises(ValidationError) as caught:
        services.upload_append(
            actor=publisher["member"], upload=upload, offset=0, chunks=[BODY, b"extra"]
        )
    assert "offset" in caught.value.message_dict
    upload.refresh_from_db()
    assert upload.received == 0 and upload.status == "open"


def test_a_wrong_digest_discards_the_upload(publisher, data_storage):
    dataset = make_dataset(publisher["org"])
    upload = services.upload_start(
        actor=publisher["member"], dataset=dataset, name="x.csv", size=len(BODY), sha256="0" * 64
    )
    with pytest.raises(ValidationError) as caught:
        services.upload_append(actor=publisher["member"], upload=upload, offset=0, chunks=[BODY])
    assert "sha256" in caught.value.message_dict
    upload.refresh_from_db()
    assert upload.status == "aborted" and not upload_path(upload).exists()
    with pytest.raises(InvalidTransition):
        services.upload_append(actor=publisher["member"], upload=upload, offset=0, chunks=[BODY])


def test_without_an_announced_digest_it_completes(publisher, data_storage):
    _dataset, upload = start(publisher, sha=False)
    upload = services.upload_append(
        actor=publisher["member"], upload=upload, offset=0, chunks=[BODY]
    )
    assert upload.status == "complete"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"size": 0}, "size"),
        ({"size": -5}, "size"),
        ({"size": 10**15}, "size"),
        ({"sha256": "xyz"}, "sha256"),
        ({"name": "../.."}, "files"),
    ],
)
def test_bad_starts_are_refused(publisher, data_storage, kwargs, field):
    dataset = make_dataset(publisher["org"])
    values = {"name": "a.csv", "size": 10, "sha256": ""} | kwargs
    with pytest.raises(ValidationError) as caught:
        services.upload_start(actor=publisher["member"], dataset=dataset, **values)
    assert field in caught.value.message_dict
    assert not Upload.objects.exists()


def test_only_its_author_appends(publisher, data_storage):
    _dataset, upload = start(publisher)
    with pytest.raises(NotFound):
        services.upload_append(actor=publisher["owner"], upload=upload, offset=0, chunks=[b"x"])
    with pytest.raises(ServiceError):
        services.upload_start(actor=None, dataset=_dataset, name="a.csv", size=3)


def test_a_version_refuses_an_incomplete_upload(publisher, data_storage):
    dataset, upload = start(publisher)
    services.upload_append(actor=publisher["member"], upload=upload, offset=0, chunks=[BODY[:5]])
    upload.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        services.version_create(actor=publisher["member"], dataset=dataset, uploads=[upload])
    assert "not complete" in caught.value.message_dict["uploads"][0]
    assert not DatasetVersion.objects.exists() and stored_keys() == []


def test_abort_and_expire(publisher, data_storage):
    _dataset, upload = start(publisher)
    services.upload_abort(actor=publisher["member"], upload=upload)
    assert not upload_path(upload).exists()
    upload.refresh_from_db()
    assert upload.status == "aborted"
    _dataset2, stale = start(publisher)
    Upload.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(InvalidTransition):
        services.upload_append(actor=publisher["member"], upload=stale, offset=0, chunks=[b"x"])
    _dataset3, fresh = start(publisher)
    Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert services.uploads_expire() == 2
    assert list(Upload.objects.all()) == [fresh]
    assert not upload_path(stale).exists() and upload_path(fresh).exists()


def test_a_failure_inside_the_transaction_removes_the_stored_files(publisher, data_storage):
    dataset, upload = start(publisher)
    upload = services.upload_append(
        actor=publisher["member"], upload=upload, offset=0, chunks=[BODY]
    )
    # Another request used the upload after this one read it: found inside the transaction,
    # after the files were stored.
    Upload.objects.filter(pk=upload.pk).update(status="used")
    with pytest.raises(ValidationError) as caught:
        services.version_create(actor=publisher["member"], dataset=dataset, uploads=[upload])
    assert "meanwhile" in caught.value.message_dict["uploads"][0]
    assert not DatasetVersion.objects.exists() and stored_keys() == []


def test_who_left_the_organisation_cannot_go_on_appending(publisher, data_storage):
    from django.core.exceptions import PermissionDenied

    from aifactory.accounts.models import Membership

    _dataset, upload = start(publisher)
    services.upload_append(actor=publisher["member"], upload=upload, offset=0, chunks=[b"id"])
    Membership.objects.filter(user=publisher["member"]).delete()
    gone = type(publisher["member"]).objects.get(pk=publisher["member"].pk)  # a later request
    with pytest.raises(PermissionDenied):
        services.upload_append(actor=gone, upload=upload, offset=2, chunks=[b",x"])
    upload.refresh_from_db()
    assert upload.received == 2 and upload_path(upload).stat().st_size == 2
