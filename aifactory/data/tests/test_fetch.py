"""Fetching by reference against a real HTTP server on 127.0.0.1: the SSRF protection (private,
loopback, link-local and reserved addresses refused unless allow-listed, redirects checked hop by
hop, plain http refused), the size limit, and versions by reference end to end (READY, or FAILED
naming the URL with nothing kept). s3:// URLs against moto's S3 server."""

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from aifactory.data import fetch, services
from aifactory.data.models import DatasetVersion
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import CSV, make_dataset, stored_keys

BIG = b"x" * (3 * 1024 * 1024)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        routes = {
            "/data.csv": (200, {}, CSV.encode()),
            "/rows.jsonl": (200, {}, b'{"a": 1}\n{"a": 2}\n'),
            "/big.bin": (200, {}, BIG),
            "/missing.csv": (404, {}, b"no"),
            "/to-data": (302, {"Location": "/data.csv"}, b""),
            "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data"}, b""),
            "/to-localhost": (
                301,
                {"Location": f"http://localhost:{self.server.server_port}/"},
                b"",
            ),
            "/loop": (302, {"Location": "/loop"}, b""),
        }
        status, headers, body = routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def allowed(settings):
    settings.DATA_FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    settings.DATA_FETCH_S3_ENDPOINT_URL = ""


def fetched(url, max_bytes=10 * 1024 * 1024) -> bytes:
    return b"".join(fetch.fetch_chunks(url, max_bytes=max_bytes, timeout=5))


@pytest.mark.parametrize(
    "address, refused",
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a00:1", True),  # local-use NAT64 of 10.0.0.1
        ("2002:a9fe:a9fe::1", True),  # 6to4 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", True),  # Teredo of 10.0.0.1
        ("64:ff9b::5db8:d70e", False),  # NAT64 of a public address
        ("93.184.215.14", False),
        ("2a00:1450:4001:80b::200e", False),
    ],
)
def test_address_refused(address, refused):
    assert fetch.address_refused(address) is refused


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/data.csv",
        "https://10.0.0.1/data.csv",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/data.csv",
        "https://localhost/data.csv",
        "http://example.org/data.csv",
        "ftp://example.org/data.csv",
        "file:///etc/passwd",
        "https://user:secret@example.org/data.csv",
        "gopher://127.0.0.1:25/",
    ],
)
def test_private_addresses_and_bad_schemes_are_refused_without_allow_list(settings, url):
    settings.DATA_FETCH_ALLOW_HOSTS = []
    with pytest.raises(fetch.FetchError):
        fetched(url)


def test_the_local_server_is_refused_unless_allow_listed(settings, server):
    settings.DATA_FETCH_ALLOW_HOSTS = []
    with pytest.raises(fetch.FetchError, match="http"):
        fetched(f"{server}/data.csv")
    settings.DATA_FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    assert fetched(f"{server}/data.csv") == CSV.encode()


def test_redirects_are_followed_and_each_hop_checked(allowed, server):
    assert fetched(f"{server}/to-data") == CSV.encode()
    with pytest.raises(fetch.FetchError, match="169.254.169.254"):
        fetched(f"{server}/to-metadata")
    with pytest.raises(fetch.FetchError, match="localhost"):
        fetched(f"{server}/to-localhost")
    with pytest.raises(fetch.FetchError, match="redirects"):
        fetched(f"{server}/loop")


def test_http_errors_and_size_limit(allowed, server):
    with pytest.raises(fetch.FetchError, match="404"):
        fetched(f"{server}/missing.csv")
    with pytest.raises(fetch.FetchError, match="larger than the limit"):
        fetched(f"{server}/big.bin", max_bytes=1024 * 1024)
    assert len(fetched(f"{server}/big.bin")) == len(BIG)


@pytest.mark.django_db
def test_version_by_reference_is_fetched(
    allowed, server, publisher, django_capture_on_commit_callbacks
):
    dataset = make_dataset(publisher["org"])
    with django_capture_on_commit_callbacks(execute=True):
        version = services.version_add_references(
            actor=publisher["member"],
            dataset=dataset,
            urls=[f"{server}/data.csv", f"{server}/rows.jsonl"],
            note="from the server",
        )
    assert version.status == "fetching" and version.number == 1
    assert services.version_fetch(str(version.pk)) == "ready"
    version.refresh_from_db()
    assert version.status == "ready"
    by_name = {d.name: d for d in version.distributions.all()}
    assert set(by_name) == {"data.csv", "rows.jsonl"}
    assert by_name["data.csv"].sha256 == hashlib.sha256(CSV.encode()).hexdigest()
    assert by_name["data.csv"].source_url == f"{server}/data.csv"
    assert by_name["rows.jsonl"].format == "jsonl"
    # A second run does nothing.
    assert services.version_fetch(str(version.pk)) == "ready"
    assert version.distributions.count() == 2


@pytest.mark.django_db
def test_a_failing_reference_fails_the_version_and_keeps_nothing(allowed, server, publisher):
    dataset = make_dataset(publisher["org"])
    version = services.version_add_references(
        actor=None, dataset=dataset, urls=[f"{server}/data.csv", f"{server}/missing.csv"]
    )
    assert services.version_fetch(str(version.pk)) == "failed"
    version.refresh_from_db()
    assert version.status == "failed"
    assert f"{server}/missing.csv" in version.error and "404" in version.error
    assert version.distributions.count() == 0
    assert stored_keys() == []


@pytest.mark.django_db
def test_a_redirect_to_a_private_address_fails_the_version(allowed, server, publisher):
    dataset = make_dataset(publisher["org"])
    version = services.version_add_references(
        actor=None, dataset=dataset, urls=[f"{server}/to-metadata"]
    )
    assert services.version_fetch(str(version.pk)) == "failed"
    version.refresh_from_db()
    assert "169.254.169.254" in version.error and stored_keys() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "urls",
    [
        [],
        ["https://169.254.169.254/latest/meta-data"],
        ["https://[::1]/x.csv"],
        ["http://example.org/x.csv"],
        ["s3://bucket-only"],
        ["https://example.org/a/data.csv", "https://example.org/b/data.csv"],
    ],
)
def test_bad_references_are_refused_at_once(settings, publisher, urls):
    settings.DATA_FETCH_ALLOW_HOSTS = []
    dataset = make_dataset(publisher["org"])
    with pytest.raises(ValidationError) as caught:
        services.version_add_references(actor=None, dataset=dataset, urls=urls)
    assert "references" in caught.value.message_dict or "files" in caught.value.message_dict
    assert not DatasetVersion.objects.exists()


@pytest.mark.django_db
def test_s3_reference_is_read_anonymously_from_the_endpoint(settings, moto_server, publisher):
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="open-data")
    client.put_object(
        Bucket="open-data", Key="energy/2024 data.csv", Body=CSV.encode(), ACL="public-read"
    )
    client.put_object(Bucket="open-data", Key="private.csv", Body=CSV.encode())
    settings.DATA_FETCH_ALLOW_HOSTS = []
    settings.DATA_FETCH_S3_ENDPOINT_URL = moto_server
    dataset = make_dataset(publisher["org"])
    version = services.version_add_references(
        actor=None, dataset=dataset, urls=["s3://open-data/energy/2024 data.csv"]
    )
    assert services.version_fetch(str(version.pk)) == "ready", version.error
    dist = version.distributions.get()
    assert dist.name == "2024 data.csv" and dist.size == len(CSV.encode())
    # A private object is not read: the hub's credentials are never used for a typed URL.
    version = services.version_add_references(
        actor=None, dataset=dataset, urls=["s3://open-data/private.csv"]
    )
    assert services.version_fetch(str(version.pk)) == "failed"
    version.refresh_from_db()
    assert "403" in version.error


class Trickle(BaseHTTPRequestHandler):
    """Sends one byte at a time, each in time for the socket timeout, never finishing soon."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass


def test_a_trickling_server_meets_the_overall_deadline(allowed, monkeypatch):
    monkeypatch.setattr(fetch, "DEADLINE_SECONDS", 0.5)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/slow.csv"
    started = time.monotonic()
    try:
        with pytest.raises(fetch.FetchError, match="took longer than 0.5 seconds") as error:
            fetched(url)
    finally:
        httpd.shutdown()
    assert url in str(error.value) and time.monotonic() - started < 5
