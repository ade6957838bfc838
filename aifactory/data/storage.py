"""Where dataset files live, behind one small interface: a folder on disk (the embedded default)
or S3-compatible object storage (production), chosen by ``DATA_STORAGE``.

Keys are chosen by the services (``versions/<uuid>/<safe name>``), never typed by a user. Writing
goes to a temporary key first and is moved into place only when complete (``put_stream``), so an
interrupted write leaves nothing under the final key.
"""

import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

CHUNK = 1024 * 1024


class StorageError(Exception):
    pass


class TooLarge(StorageError):
    def __init__(self, limit: int):
        super().__init__(
            _("The file is larger than the limit of %(limit)s bytes.") % {"limit": f"{limit:,}"}
        )
        self.limit = limit


class Stored:
    """What was written: size and SHA-256 of the bytes."""

    def __init__(self, key: str, size: int, sha256: str):
        self.key, self.size, self.sha256 = key, size, sha256


class Storage:
    """The interface; both backends implement every method."""

    def put_stream(self, key: str, chunks: Iterable[bytes], *, max_bytes: int) -> Stored:
        """Write ``chunks`` under ``key``, all or nothing; raises TooLarge past ``max_bytes``."""
        raise NotImplementedError

    def put_file(self, key: str, path: Path) -> Stored:
        """Copy a complete local file under ``key``."""
        with open(path, "rb") as src:
            return self.put_stream(key, iter(lambda: src.read(CHUNK), b""), max_bytes=2**63)

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object, to read from the start."""
        raise NotImplementedError

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A path on local disk holding the object, for readers that need one (DuckDB)."""
        raise NotImplementedError

    def disk_path(self, key: str) -> str | None:
        """The object's path on this host's disk, or None where objects are not files (S3)."""
        return None

    def download_url(self, key: str, seconds: int) -> str | None:
        """A URL that reads the object for ``seconds`` without other credentials (S3), or None."""
        return None

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def keys(self, prefix: str = "") -> list[str]:
        raise NotImplementedError


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"not a storage key: {key!r}")
    return key


class DiskStorage(Storage):
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / _safe_key(key)).resolve()
        if not str(path).startswith(str(self.root.resolve()) + os.sep):
            raise StorageError(f"not a storage key: {key!r}")
        return path

    def put_stream(self, key: str, chunks: Iterable[bytes], *, max_bytes: int) -> Stored:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return Stored(key, size, digest.hexdigest())

    def put_file(self, key: str, path: Path) -> Stored:
        """A hard link to the complete file when it is on the same file system (a staged upload,
        a profile's Parquet copy: no second copy of gigabytes), a copy otherwise. The file must
        not change afterwards; the digest is of what was read."""
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with open(path, "rb") as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        try:
            os.link(path, final)
        except OSError:  # another file system, or links not allowed: copy
            return super().put_file(key, path)
        return Stored(key, size, digest.hexdigest())

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise StorageError(f"no stored object {key!r}") from None

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.exists():
            raise StorageError(f"no stored object {key!r}")
        yield path

    def disk_path(self, key: str) -> str | None:
        return str(self._path(key))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        found = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith(".part-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)


_storage: Storage | None = None


def get_storage() -> Storage:
    """The configured storage (one per process)."""
    global _storage
    if _storage is None:
        kind = settings.DATA_STORAGE
        if kind == "disk":
            _storage = DiskStorage(settings.DATA_FILES_DIR)
        elif kind == "s3":
            from .storage_s3 import S3Storage

            _storage = S3Storage.from_settings()
        else:
            raise StorageError(f"DATA_STORAGE must be 'disk' or 's3', not {kind!r}")
    return _storage


def reset_storage() -> None:
    """Forget the storage so the next call reads the settings again (tests switch backends)."""
    global _storage
    _storage = None


def new_key(name: str) -> str:
    return f"versions/{uuid.uuid4()}/{name}"


__all__ = [
    "CHUNK",
    "DiskStorage",
    "Storage",
    "StorageError",
    "Stored",
    "TooLarge",
    "get_storage",
    "new_key",
    "reset_storage",
]
