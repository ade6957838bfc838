"""The S3 storage against a real S3 endpoint (moto's stand-alone server over HTTP): writing, reading,
a local copy, deleting and listing, multipart writes, and that an interrupted write leaves nothing."""

import hashlib

import pytest

from aifactory.data.storage import StorageError, TooLarge
from aifactory.data.storage_s3 import S3Storage
from aifactory.data.tests.data_helpers import *  # noqa: F403

MB = 1024 * 1024


def test_put_open_local_path_delete_keys(s3_storage):
    assert isinstance(s3_storage, S3Storage)
    stored = s3_storage.put_stream("versions/a/data.csv", [b"id,x\n", b"1,2\n"], max_bytes=100)
    assert (stored.size, stored.sha256) == (9, hashlib.sha256(b"id,x\n1,2\n").hexdigest())
    assert s3_storage.exists("versions/a/data.csv")
    assert s3_storage.size("versions/a/data.csv") == 9
    with s3_storage.open("versions/a/data.csv") as body:
        assert body.read() == b"id,x\n1,2\n"
    with s3_storage.local_path("versions/a/data.csv") as path:
        assert path.read_bytes() == b"id,x\n1,2\n"
        assert path.suffix == ".csv"
    assert not path.exists()
    s3_storage.put_stream("versions/b/other.bin", [b"x"], max_bytes=10)
    assert s3_storage.keys() == ["versions/a/data.csv", "versions/b/other.bin"]
    assert s3_storage.keys("versions/b/") == ["versions/b/other.bin"]
    s3_storage.delete("versions/a/data.csv")
    assert not s3_storage.exists("versions/a/data.csv")
    assert s3_storage.keys() == ["versions/b/other.bin"]
    with pytest.raises(StorageError):
        s3_storage.open("versions/a/data.csv")
    with pytest.raises(StorageError), s3_storage.local_path("versions/a/data.csv"):
        pass
    with pytest.raises(StorageError):
        s3_storage.put_stream("../escape", [b"x"], max_bytes=10)


def test_multipart_write_of_several_parts(s3_storage):
    block = bytes(range(256)) * 4096  # 1 MiB
    chunks = [block] * 13  # 13 MiB: parts of 8 + 5
    stored = s3_storage.put_stream("versions/c/big.bin", iter(chunks), max_bytes=20 * MB)
    assert stored.size == 13 * MB
    assert stored.sha256 == hashlib.sha256(block * 13).hexdigest()
    with s3_storage.local_path("versions/c/big.bin") as path:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == stored.sha256
    assert s3_storage.pending_uploads() == []


def test_interrupted_write_leaves_no_object_and_no_pending_upload(s3_storage):
    def broken():
        for _ in range(10):
            yield b"\0" * MB
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        s3_storage.put_stream("versions/d/broken.bin", broken(), max_bytes=100 * MB)
    assert not s3_storage.exists("versions/d/broken.bin")
    assert s3_storage.keys() == []
    assert s3_storage.pending_uploads() == []


def test_too_large_leaves_nothing(s3_storage):
    with pytest.raises(TooLarge):
        s3_storage.put_stream("versions/e/x.bin", iter([b"\0" * MB] * 12), max_bytes=10 * MB)
    assert s3_storage.keys() == []
    assert s3_storage.pending_uploads() == []


def test_a_download_url_reads_the_object_without_credentials(s3_storage):
    from urllib.parse import parse_qs, urlsplit

    import httpx

    s3_storage.put_stream("versions/u/data.csv", [b"a,b\n1,2\n"], max_bytes=100)
    url = s3_storage.download_url("versions/u/data.csv", 3600)
    assert httpx.get(url).content == b"a,b\n1,2\n"
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["3600"] and "X-Amz-Signature" in query
    # Capped at the seven days S3 allows.
    week = parse_qs(urlsplit(s3_storage.download_url("versions/u/data.csv", 10**9)).query)
    assert week["X-Amz-Expires"] == [str(7 * 24 * 3600)]
    assert s3_storage.disk_path("versions/u/data.csv") is None


@pytest.mark.django_db
def test_local_copies_go_to_the_upload_folder(s3_storage, settings, tmp_path):
    settings.DATA_UPLOAD_DIR = tmp_path / "staging" / "uploads"  # made when missing
    s3_storage.put_stream("versions/a/data.csv", [b"id\n1\n"], max_bytes=100)
    with s3_storage.local_path("versions/a/data.csv") as path:
        assert path.parent == settings.DATA_UPLOAD_DIR and path.read_bytes() == b"id\n1\n"
    assert not path.exists()
