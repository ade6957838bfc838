"""Shared fixtures and factories of the data tests: a publisher organisation with its people, a
storage folder of the test's own, datasets made through the services, and versions from small
generated files.

Use the fixtures with ``from aifactory.data.tests.data_helpers import *`` (pytest collects them from
the test module), or call the plain functions ``make_dataset`` / ``add_csv_version`` /
``add_version`` directly."""

import itertools
import uuid
from collections.abc import Iterable

import pytest

from aifactory.core.roles import OrgRole
from aifactory.data import services
from aifactory.data.models import Dataset, DatasetVersion
from aifactory.data.storage import get_storage, reset_storage

__all__ = [
    "CSV",
    "add_csv_version",
    "add_version",
    "data_storage",
    "make_dataset",
    "moto_server",
    "operator",
    "publisher",
    "s3_storage",
    "stored_keys",
]

# A small, clean CSV: an id key, a text, a number and a date.
CSV = (
    "id,name,kwh,day\n"
    "1,Esch,120.5,2024-01-01\n"
    "2,Diekirch,98.0,2024-01-02\n"
    "3,Luxembourg,310.25,2024-01-03\n"
)

_counter = itertools.count(1)


def make_dataset(organisation, *, actor=None, publish: bool = False, **data) -> Dataset:
    """A dataset of ``organisation`` made by ``dataset_create`` (actor None: the system). ``data``
    overrides the defaults (Dataset field names; title/description as {lang: text}); access rights
    default to public, so give ``access_rights`` for others."""
    n = next(_counter)
    values = {
        "title": {"en": f"Energy use {n}"},
        "description": {"en": "Electricity consumption per commune, by day."},
        "keywords": ["energy"],
        "themes": ["ENER"],
        "licence": "CC_BY_4_0",
        "access_rights": "public",
        "frequency": "DAILY",
        "spatial": "LUX",
        "contact_name": "Data desk",
        "contact_email": "data@example.org",
    }
    values.update(data)
    dataset = services.dataset_create(actor=actor, organisation=organisation, data=values)
    if publish:
        services.dataset_publish(actor=actor, dataset=dataset)
        dataset.refresh_from_db()
    return dataset


def add_version(
    dataset, files: list[tuple[str, bytes | Iterable[bytes]]], *, actor=None, note: str = ""
) -> DatasetVersion:
    """A new version of ``dataset`` holding ``files`` ([(name, bytes or chunks)]), by
    ``version_create``."""
    prepared = [(name, [body] if isinstance(body, bytes) else body) for name, body in files]
    return services.version_create(actor=actor, dataset=dataset, files=prepared, note=note)


def add_csv_version(
    dataset, text: str = CSV, *, name: str = "data.csv", actor=None, note: str = ""
) -> DatasetVersion:
    """A new version of ``dataset`` with one CSV file (UTF-8)."""
    return add_version(dataset, [(name, text.encode("utf-8"))], actor=actor, note=note)


def stored_keys() -> list[str]:
    """Every key in the configured storage (to check that nothing was left behind)."""
    return get_storage().keys()


@pytest.fixture
def data_storage(settings, tmp_path):
    """A disk storage and an upload folder of this test's own (the storage is re-read)."""
    settings.DATA_STORAGE = "disk"
    settings.DATA_FILES_DIR = tmp_path / "datasets"
    settings.DATA_UPLOAD_DIR = tmp_path / "uploads"
    reset_storage()
    yield get_storage()
    reset_storage()


@pytest.fixture
def publisher(data_storage, make_user, make_org, add_member):
    """A publisher organisation: its owner and a manager (data stewards), a plain member, and an
    outsider with an organisation of their own."""
    owner = make_user("owner@publisher.example")
    org = make_org(owner=owner, legal_name="Publisher S.A.")
    steward = make_user("steward@publisher.example")
    member = make_user("member@publisher.example")
    add_member(org, steward, OrgRole.MANAGER)
    add_member(org, member, OrgRole.MEMBER)
    outsider = make_user("outsider@other.example")
    other_org = make_org(owner=outsider, legal_name="Other S.à r.l.")
    return {
        "org": org,
        "owner": owner,
        "steward": steward,
        "member": member,
        "outsider": outsider,
        "other_org": other_org,
    }


@pytest.fixture
def operator(make_user):
    return make_user("operator@hub.example", staff_role="operator")


@pytest.fixture(scope="session")
def moto_server():
    """A real S3 endpoint on 127.0.0.1 (moto's stand-alone server, HTTP): its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, monkeypatch, moto_server, tmp_path):
    """The configured storage is S3 (a bucket of this test's own on the moto server)."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    settings.DATA_STORAGE = "s3"
    settings.DATA_S3_BUCKET = bucket
    settings.DATA_S3_ENDPOINT_URL = moto_server
    settings.DATA_S3_REGION = "us-east-1"
    settings.DATA_S3_PREFIX = "datasets/"
    settings.DATA_UPLOAD_DIR = tmp_path / "uploads"
    reset_storage()
    yield get_storage()
    reset_storage()
