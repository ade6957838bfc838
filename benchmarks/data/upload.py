"""Upload throughput of one large file (issue 6: "upload throughput of a 5 GB file, streamed").

Two paths, same data, in one run:

1. the resumable upload of the API over real HTTP (the Django WSGI application served by
   ``wsgiref`` on 127.0.0.1 in a thread of this process; the client streams each body with
   ``http.client`` in 1 MiB chunks): bearer token, ninja, the handler reading the raw body in
   chunks from the request stream, ``upload_append``. ``POST /api/v1/datasets/{id}/uploads``,
   then ``PATCH`` requests of ``--part-mb`` each with ``Upload-Offset``; the last one checks the
   announced SHA-256; then ``POST /datasets/{id}/versions {"uploads": [...]}`` moves the file
   into the storage (its digest read, then a hard link on disk storage: no second copy);
2. ``services.version_create`` with the file as a generator of 1 MiB chunks (what a portal upload
   or ``aifactory datasets add`` does once the bytes are on the server).

The file is CSV text generated on the fly (a 1 MiB block of rows repeated), never held in memory
whole. Storage is the disk backend in a temporary folder (``--dir``, default /tmp). Figures: MiB/s
per phase and the peak memory (VmHWM) of each phase; the network is not part of it.

    .venv/bin/python benchmarks/data/upload.py [SIZE_GB (default 5)] [--part-mb 64] [--dir /tmp]
"""

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "compute"))

from common import machine, reset_peak_rss, rss_mb, setup_django  # noqa: E402

MB = 1024 * 1024


def block() -> bytes:
    rows, n = [], 0
    size = 0
    while size < MB:
        row = f"{n},commune-{n % 97},{n * 0.37:.2f},2024-{1 + n % 12:02d}-{1 + n % 28:02d}\n"
        rows.append(row)
        size += len(row)
        n += 1
    return "".join(rows).encode()[:MB]


def chunks(total: int, unit: bytes):
    sent = 0
    while sent < total:
        piece = unit[: min(len(unit), total - sent)]
        sent += len(piece)
        yield piece


class Http:
    """The hub's WSGI application on 127.0.0.1 (a thread), and JSON/streamed requests to it."""

    def __init__(self, headers: dict):
        import threading
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        from django.core.wsgi import get_wsgi_application

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        self.server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=Quiet)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.headers = headers

    def call(self, method: str, path: str, *, json_body=None, body=None, length=0, headers=None):
        import http.client
        import json

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        sent = {**self.headers, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
            length = len(body)
        if body is not None:
            sent["Content-Length"] = str(length)
        connection.request(method, "/api/v1" + path, body=body, headers=sent)
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        return answer.status, json.loads(data) if data else None


def phase(name: str, size: int, fn, results: list) -> None:
    reset_peak_rss()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    results.append((name, seconds, size / MB / seconds, rss_mb("VmHWM")))
    print(f"  {name}: {seconds:.1f} s, {size / MB / seconds:.0f} MiB/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("size_gb", nargs="?", type=float, default=5.0)
    parser.add_argument("--part-mb", type=int, default=64, help="bytes per PATCH request")
    parser.add_argument("--dir", default="/tmp", help="where the temporary folder goes")
    args = parser.parse_args()
    size = int(args.size_gb * 1024 * MB)
    folder = tempfile.mkdtemp(prefix="aifactory-bench-upload-", dir=args.dir)
    try:
        vendor = setup_django(folder, None)
        run(size, args.part_mb * MB, vendor)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(size: int, part: int, vendor: str) -> None:
    from django.conf import settings

    from aifactory.accounts import services as account_services
    from aifactory.data import services
    from aifactory.data.models import Upload
    from aifactory.data.storage import reset_storage

    settings.DATA_MAX_FILE_MB = max(settings.DATA_MAX_FILE_MB, size // MB + 1)
    settings.ALLOWED_HOSTS = ["*"]
    reset_storage()
    owner = account_services.user_create(
        email="bench@upload.example", password="correct-Horse-battery-9", email_verified=True
    )
    account_services.terms_accept(user=owner)
    org = account_services.organisation_create(
        actor=owner, data={"legal_name": "Bench publisher", "country": "LU", "kind": "public"}
    )
    dataset = services.dataset_create(
        actor=owner, organisation=org, data={"title": {"en": "Upload bench"}}
    )
    _token, secret = account_services.token_create(user=owner, name="bench")
    http = Http({"Authorization": f"Bearer {secret}"})
    unit = block()
    print(machine(vendor))
    print(f"file: {size / MB:,.0f} MiB of CSV text; PATCH parts of {part // MB} MiB", flush=True)
    assert part % MB == 0

    # Warm up: the first request imports the URLconf, the API and its schemas.
    assert http.call("GET", "/datasets")[0] == 200
    digest = hashlib.sha256()
    for piece in chunks(size, unit):
        digest.update(piece)
    sha256 = digest.hexdigest()
    results: list = []
    state = {}

    def api_upload():
        status, upload = http.call(
            "POST",
            f"/datasets/{dataset.slug}/uploads",
            json_body={"name": "big.csv", "size": size, "sha256": sha256},
        )
        assert status == 201, upload
        offset = 0
        while offset < size:
            length = min(part, size - offset)
            status, answer = http.call(
                "PATCH",
                f"/datasets/{dataset.slug}/uploads/{upload['id']}",
                body=chunks(length, unit),
                length=length,
                headers={
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            assert status == 200, answer
            offset += length
        assert Upload.objects.get(pk=upload["id"]).status == "complete"
        state["upload"] = upload["id"]

    def api_version():
        status, answer = http.call(
            "POST", f"/datasets/{dataset.slug}/versions", json_body={"uploads": [state["upload"]]}
        )
        assert status == 201, answer
        assert answer["distributions"][0]["sha256"] == sha256

    def direct():
        version = services.version_create(
            actor=owner, dataset=dataset, files=[("direct.csv", chunks(size, unit))]
        )
        assert version.distributions.get().sha256 == sha256

    phase("resumable upload over the API (PATCH parts + SHA-256 check)", size, api_upload, results)
    phase("version from the upload (linked into the storage)", size, api_version, results)
    phase("version_create streamed (1 MiB chunks)", size, direct, results)
    print()
    print("| phase | seconds | MiB/s | peak RSS (MB) |")
    print("|---|---:|---:|---:|")
    for name, seconds, rate, peak in results:
        print(f"| {name} | {seconds:.1f} | {rate:.0f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
