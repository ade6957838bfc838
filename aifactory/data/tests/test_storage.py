"""The disk storage (the embedded default): all-or-nothing writes, digests, keys that cannot leave
the folder, and the size limit."""

import hashlib

import pytest

from aifactory.data.storage import DiskStorage, StorageError, TooLarge


@pytest.fixture
def disk(tmp_path):
    return DiskStorage(tmp_path / "files")


def test_put_open_local_path_keys_delete(disk):
    stored = disk.put_stream("versions/a/x.csv", [b"a,b\n", b"1,2\n"], max_bytes=100)
    assert (stored.size, stored.sha256) == (8, hashlib.sha256(b"a,b\n1,2\n").hexdigest())
    with disk.open("versions/a/x.csv") as f:
        assert f.read() == b"a,b\n1,2\n"
    with disk.local_path("versions/a/x.csv") as path:
        assert path.read_bytes() == b"a,b\n1,2\n"
    assert disk.keys() == ["versions/a/x.csv"] and disk.size("versions/a/x.csv") == 8
    disk.delete("versions/a/x.csv")
    assert disk.keys() == [] and not disk.exists("versions/a/x.csv")
    with pytest.raises(StorageError):
        disk.open("versions/a/x.csv")


def test_interrupted_and_too_large_writes_leave_nothing(disk):
    def broken():
        yield b"x" * 1000
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        disk.put_stream("versions/b/y.csv", broken(), max_bytes=10_000)
    with pytest.raises(TooLarge):
        disk.put_stream("versions/b/z.csv", [b"x" * 600, b"x" * 600], max_bytes=1000)
    assert disk.keys() == []
    assert [p.name for p in (disk.root / "versions" / "b").iterdir()] == []


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "versions/../../x", "", "a//b", "./a"])
def test_keys_cannot_leave_the_folder(disk, key):
    with pytest.raises(StorageError):
        disk.put_stream(key, [b"x"], max_bytes=10)


def test_put_file_links_a_file_on_the_same_disk_and_copies_otherwise(disk, tmp_path, monkeypatch):
    """A staged upload of gigabytes becomes a stored object without a second copy."""
    import os

    staged = tmp_path / "staged"
    staged.write_bytes(b"a,b\n1,2\n")
    stored = disk.put_file("versions/l/x.csv", staged)
    assert (stored.size, stored.sha256) == (8, hashlib.sha256(b"a,b\n1,2\n").hexdigest())
    with disk.local_path("versions/l/x.csv") as path:
        assert path.stat().st_ino == staged.stat().st_ino  # linked, not copied
    staged.unlink()  # the staging folder lets go of it: the stored object stays
    with disk.open("versions/l/x.csv") as f:
        assert f.read() == b"a,b\n1,2\n"

    def no_links(src, dst):
        raise OSError(18, "Invalid cross-device link")

    staged.write_bytes(b"c\n3\n")
    monkeypatch.setattr(os, "link", no_links)
    stored = disk.put_file("versions/c/x.csv", staged)
    assert stored.sha256 == hashlib.sha256(b"c\n3\n").hexdigest()
    with disk.local_path("versions/c/x.csv") as path:
        assert path.stat().st_ino != staged.stat().st_ino and path.read_bytes() == b"c\n3\n"
