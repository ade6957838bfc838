"""Versions: new data for a dataset, from files streamed in, completed resumable uploads, or URLs
fetched in the background.

A version is all or nothing. Every file is first written to the storage under a new key
(``put_stream``: a temporary object moved into place only when complete); then the version and its
distributions are written in one transaction, numbered 1, 2, 3... under a lock on the dataset. If
any file is refused (empty, too large, a bad or repeated name) or anything fails, what was stored
is deleted and the error raised: no half-written version, no orphaned file. After the commit the
version's tabular files are profiled in the background (``tasks.version_profile``).

Resumable uploads (``upload_start`` / ``upload_append``) are staged on local disk in
``DATA_UPLOAD_DIR/<upload id>``; an append must start at the offset received so far, so a client
whose connection broke asks for the offset and sends the rest. A complete upload whose announced
SHA-256 does not match is discarded.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import unicodedata
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.core.errors import InvalidTransition, NotFound, ServiceError
from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record

from .. import fetch, formats
from ..models import (
    Dataset,
    DatasetStatus,
    DatasetVersion,
    Distribution,
    ProfileStatus,
    Upload,
    UploadStatus,
    VersionStatus,
)
from ..storage import CHUNK, Storage, TooLarge, get_storage, new_key
from .datasets import dataset_assess

logger = logging.getLogger(__name__)

__all__ = [
    "NAME_MAX",
    "is_zip_bomb",
    "max_file_bytes",
    "safe_name",
    "upload_abort",
    "upload_append",
    "upload_path",
    "upload_start",
    "uploads_expire",
    "version_add_references",
    "version_create",
    "version_fetch",
]

NAME_MAX = 200
MAX_REFERENCES = 50


class OffsetMismatch(ServiceError):
    """An append that does not start where the upload stands (HTTP 409); ``expected`` is where."""

    def __init__(self, message: str, *, expected: int):
        super().__init__(message, field="offset")
        self.expected = expected


def max_file_bytes() -> int:
    return settings.DATA_MAX_FILE_MB * 1024 * 1024


def safe_name(name: str) -> str:
    """The file name to keep: the last part of any path, without control characters or leading
    dots, at most NAME_MAX UTF-8 bytes (the extension kept). ValidationError when nothing is left."""
    original = name
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] not in ("C", "Z") or c == " ")
    name = name.strip().lstrip(".").strip()
    if not name:
        raise ValidationError(
            {"files": _("Not a usable file name: %(name)r") % {"name": str(original)[:100]}}
        )
    if len(name.encode()) > NAME_MAX:  # file systems count bytes, not characters
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = _utf8_head(stem, NAME_MAX - len(suffix.encode()) - 1) + "." + suffix
        else:
            name = _utf8_head(name, NAME_MAX)
    return name


def _utf8_head(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` UTF-8 bytes, no character split."""
    return text.encode()[:limit].decode(errors="ignore")


def _unique_names(names: list[str]) -> None:
    seen = set()
    for name in names:
        if name.lower() in seen:
            raise ValidationError(
                {"files": _("Two files are named %(name)s: rename one.") % {"name": name}}
            )
        seen.add(name.lower())


class _Head:
    """Passes chunks through, keeping the first bytes for format detection."""

    def __init__(self, chunks: Iterable[bytes], size: int = formats.HEAD_BYTES):
        self.chunks, self.size, self.head = chunks, size, b""

    def __iter__(self):
        for chunk in self.chunks:
            if not isinstance(chunk, bytes):
                chunk = bytes(chunk)
            if not chunk:
                continue
            if len(self.head) < self.size:
                self.head += chunk[: self.size - len(self.head)]
            yield chunk


def _store(
    storage: Storage,
    name: str,
    chunks: Iterable[bytes],
    stored_keys: list[str],
    *,
    path: Path | None = None,
) -> dict:
    """Write one file to the storage, from ``chunks`` or from the complete local file at ``path``
    (a staged upload, which disk storage links instead of copying); the key is added to
    ``stored_keys`` for the clean-up."""
    key = new_key(name)
    limit = max_file_bytes()
    too_large = ValidationError(
        {
            "files": _("%(name)s is larger than the limit of %(mb)d MB.")
            % {"name": name, "mb": settings.DATA_MAX_FILE_MB}
        }
    )
    if path is not None:
        if path.stat().st_size > limit:
            raise too_large
        with open(path, "rb") as src:
            head = src.read(formats.HEAD_BYTES)
        stored = storage.put_file(key, path)
    else:
        stream = _Head(chunks)
        try:
            stored = storage.put_stream(key, stream, max_bytes=limit)
        except TooLarge:
            raise too_large from None
        head = stream.head
    stored_keys.append(key)
    if stored.size == 0:
        raise ValidationError({"files": _("%(name)s is empty.") % {"name": name}})
    file_format, media_type = formats.detect(name, head)
    warnings: list[dict] = []
    if file_format == "xlsx":
        with storage.local_path(key) as path:
            warnings = formats.xlsx_warnings(path)
        if any(w["code"] == "not_xlsx" for w in warnings):
            file_format, media_type = "other", formats.MEDIA_TYPES["other"]
    bomb = is_zip_bomb(warnings)
    tabular = file_format in ("csv", "tsv", "parquet", "jsonl", "json", "xlsx")
    return {
        "name": name,
        "format": file_format,
        "media_type": media_type,
        "size": stored.size,
        "sha256": stored.sha256,
        "storage_key": key,
        "warnings": warnings,
        "profile_status": ProfileStatus.PENDING if tabular and not bomb else ProfileStatus.NONE,
    }


def is_zip_bomb(warnings: list[dict]) -> bool:
    """Whether a stored file was flagged as a zip bomb (``formats.xlsx_warnings`` measured it
    when it was stored): such a file is never unpacked, the profiler reads this flag too."""
    return any(w.get("code") == "zip_bomb" for w in warnings or [])


def _forget(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # the clean-up must not hide the original error
            logger.exception("could not delete %s after a failed version", key)


def _check_open(dataset: Dataset) -> None:
    if dataset.status == DatasetStatus.ARCHIVED:
        raise InvalidTransition(_("An archived dataset gets no new versions."))


def _next_number(dataset: Dataset) -> int:
    """Called inside the transaction, with the dataset locked."""
    last = dataset.versions.aggregate(n=Max("number"))["n"] or 0
    return last + 1


def _enqueue_profile(version: DatasetVersion) -> None:
    from .. import tasks

    version_id = str(version.pk)
    transaction.on_commit(lambda: tasks.version_profile.enqueue(version_id))


def upload_path(upload: Upload) -> Path:
    """Where the bytes of a resumable upload are staged."""
    return Path(settings.DATA_UPLOAD_DIR) / str(upload.pk)


def _file_chunks(path: Path):
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            yield chunk


def version_create(
    *,
    actor,
    dataset: Dataset,
    files: Iterable[tuple[str, Iterable[bytes]]] = (),
    uploads: Iterable[Upload] = (),
    note: str = "",
) -> DatasetVersion:
    """A new READY version of ``dataset`` with ``files`` ([(name, chunks)]) and the files of
    completed ``uploads``; all or nothing. Profiling is enqueued after the commit."""
    require_actor(actor, "dataset.edit", dataset)
    _check_open(dataset)
    files, uploads = list(files), list(uploads)
    if not files and not uploads:
        raise ValidationError({"files": _("Add at least one file.")})
    note = (note or "").strip()
    if len(note) > 5000:
        raise ValidationError({"note": _("At most %(n)d characters.") % {"n": 5000}})
    names = [safe_name(name) for name, _chunks in files]
    for upload in uploads:
        if upload.dataset_id != dataset.pk:
            raise ValidationError({"uploads": _("This upload belongs to another dataset.")})
        if upload.status != UploadStatus.COMPLETE:
            raise ValidationError(
                {
                    "uploads": _(
                        "The upload of %(name)s is not complete (%(got)d of %(size)d bytes)."
                    )
                    % {"name": upload.name, "got": upload.received, "size": upload.size}
                }
            )
    names += [safe_name(upload.name) for upload in uploads]
    _unique_names(names)

    storage = get_storage()
    stored_keys: list[str] = []
    try:
        items = []
        for name, (_given, chunks) in zip(names, files, strict=False):
            items.append(_store(storage, name, chunks, stored_keys))
        for name, upload in zip(names[len(files) :], uploads, strict=True):
            item = _store(storage, name, (), stored_keys, path=upload_path(upload))
            if item["size"] != upload.size or (upload.sha256 and item["sha256"] != upload.sha256):
                raise ValidationError(
                    {
                        "uploads": _("The staged file of %(name)s changed: upload it again.")
                        % {"name": upload.name}
                    }
                )
            items.append(item)
        with transaction.atomic():
            locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
            _check_open(locked)
            if uploads:
                fresh = Upload.objects.select_for_update().filter(
                    pk__in=[u.pk for u in uploads], status=UploadStatus.COMPLETE
                )
                if fresh.count() != len(uploads):
                    raise ValidationError(
                        {"uploads": _("An upload was used or discarded meanwhile.")}
                    )
                fresh.update(status=UploadStatus.USED)
            version = DatasetVersion.objects.create(
                dataset=locked,
                number=_next_number(locked),
                note=note,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
                status=VersionStatus.READY,
            )
            for item in items:
                Distribution.objects.create(version=version, **item)
            dataset_assess(dataset_id=locked.pk)
            audit_record(
                actor=actor,
                action="dataset.version_create",
                obj=version,
                organisation_id=locked.publisher_id,
                changes={
                    "dataset": locked.slug,
                    "number": version.number,
                    "files": [
                        {"name": i["name"], "size": i["size"], "sha256": i["sha256"]} for i in items
                    ],
                },
            )
            _enqueue_profile(version)
            paths = [upload_path(u) for u in uploads]
            transaction.on_commit(lambda: [p.unlink(missing_ok=True) for p in paths])
    except BaseException:
        _forget(storage, stored_keys)
        raise
    return version


def version_add_references(
    *, actor, dataset: Dataset, urls: list[str], note: str = ""
) -> DatasetVersion:
    """A new version whose files are fetched from ``urls`` (https, or s3://bucket/key of public
    objects) in the background: status FETCHING until ``version_fetch`` has them all (READY) or
    one fails (FAILED, nothing kept)."""
    require_actor(actor, "dataset.edit", dataset)
    _check_open(dataset)
    urls = [u.strip() for u in urls or [] if u and u.strip()]
    if not urls:
        raise ValidationError({"references": _("Give at least one URL.")})
    if len(urls) > MAX_REFERENCES:
        raise ValidationError(
            {"references": _("At most %(n)d URLs per version.") % {"n": MAX_REFERENCES}}
        )
    references = []
    for url in urls:
        if len(url) > 1000:
            raise ValidationError({"references": _("A URL is longer than 1000 characters.")})
        try:
            fetch.check_reference(url)
        except fetch.FetchError as exc:
            raise ValidationError({"references": str(exc)}) from None
        references.append({"url": url, "name": safe_name(fetch.reference_name(url))})
    _unique_names([r["name"] for r in references])
    note = (note or "").strip()[:5000]
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        _check_open(locked)
        version = DatasetVersion.objects.create(
            dataset=locked,
            number=_next_number(locked),
            note=note,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            status=VersionStatus.FETCHING,
            references=references,
        )
        audit_record(
            actor=actor,
            action="dataset.version_reference",
            obj=version,
            organisation_id=locked.publisher_id,
            changes={"dataset": locked.slug, "number": version.number, "urls": urls},
        )
        from .. import tasks

        version_id = str(version.pk)
        transaction.on_commit(lambda: tasks.version_fetch.enqueue(version_id))
    return version


def version_fetch(version_id: str) -> str:
    """Fetch the files of a version by reference (the task calls this); returns its status. Any
    failure fails the version with the URL and the reason, and keeps none of its files."""
    try:
        version = DatasetVersion.objects.select_related("dataset").get(pk=version_id)
    except DatasetVersion.DoesNotExist:
        return "missing"
    if version.status != VersionStatus.FETCHING:
        return version.status
    storage = get_storage()
    stored_keys: list[str] = []
    items = []
    try:
        for reference in version.references:
            url = reference["url"]
            try:
                chunks = fetch.fetch_chunks(url, max_bytes=max_file_bytes())
                item = _store(storage, reference["name"], chunks, stored_keys)
            except ValidationError as exc:
                raise fetch.FetchError(f"{url}: {' '.join(exc.messages)}") from None
            except fetch.FetchError as exc:
                message = str(exc)
                raise fetch.FetchError(message if url in message else f"{url}: {message}") from None
            except Exception as exc:
                raise fetch.FetchError(f"{url}: {exc.__class__.__name__}: {exc}") from None
            item["source_url"] = url
            items.append(item)
            # Recorded as it goes: what a killed fetch stored, the sweeper deletes (services/sweep.py).
            reference["key"] = item["storage_key"]
            DatasetVersion.objects.filter(pk=version.pk).update(references=version.references)
        with transaction.atomic():
            locked = DatasetVersion.objects.select_for_update().get(pk=version.pk)
            if locked.status != VersionStatus.FETCHING:
                _forget(storage, stored_keys)
                return locked.status
            for item in items:
                Distribution.objects.create(version=locked, **item)
            locked.status = VersionStatus.READY
            locked.error = ""
            locked.save(update_fields=["status", "error", "updated_at"])
            dataset_assess(dataset_id=locked.dataset_id)
            audit_record(
                actor=None,
                action="dataset.version_fetched",
                obj=locked,
                organisation_id=version.dataset.publisher_id,
                changes={"number": locked.number, "files": [i["name"] for i in items]},
            )
            _enqueue_profile(locked)
        return VersionStatus.READY
    except fetch.FetchError as exc:
        _forget(storage, stored_keys)
        with transaction.atomic():
            DatasetVersion.objects.filter(pk=version.pk, status=VersionStatus.FETCHING).update(
                status=VersionStatus.FAILED, error=str(exc)[:2000], updated_at=timezone.now()
            )
            audit_record(
                actor=None,
                action="dataset.version_fetch_failed",
                obj=version,
                organisation_id=version.dataset.publisher_id,
                changes={"error": str(exc)[:500]},
            )
        return VersionStatus.FAILED
    except BaseException:
        _forget(storage, stored_keys)
        raise


# --- resumable uploads --------------------------------------------------------------------------


def _own_upload(actor, upload: Upload) -> None:
    if actor is not None and upload.created_by_id != actor.pk:
        raise NotFound(_("No such upload."))


def upload_start(*, actor, dataset: Dataset, name: str, size: int, sha256: str = "") -> Upload:
    """Announce a file of ``size`` bytes (and optionally its SHA-256) to send in chunks."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise ServiceError(_("A resumable upload is made by a signed-in person."))
    require_actor(actor, "dataset.edit", dataset)
    _check_open(dataset)
    name = safe_name(name)
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise ValidationError({"size": _("Give the size in bytes.")}) from None
    if size <= 0:
        raise ValidationError({"size": _("%(name)s is empty.") % {"name": name}})
    if size > max_file_bytes():
        raise ValidationError(
            {
                "size": _("%(name)s is larger than the limit of %(mb)d MB.")
                % {"name": name, "mb": settings.DATA_MAX_FILE_MB}
            }
        )
    sha256 = (sha256 or "").strip().lower()
    if sha256 and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        raise ValidationError({"sha256": _("Give the SHA-256 as 64 hexadecimal digits.")})
    with transaction.atomic():
        upload = Upload(
            dataset=dataset,
            created_by=actor,
            name=name,
            size=size,
            sha256=sha256,
            expires_at=timezone.now() + timedelta(hours=settings.DATA_UPLOAD_HOURS),
        )
        path = upload_path(upload)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=False)
        try:
            upload.save()
            audit_record(
                actor=actor,
                action="dataset.upload_start",
                obj=upload,
                organisation_id=dataset.publisher_id,
                changes={"name": name, "size": size},
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return upload


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def upload_append(*, actor, upload: Upload, offset: int, chunks: Iterable[bytes]) -> Upload:
    """Write ``chunks`` at ``offset``, which must be what was received so far (OffsetMismatch,
    409, names the expected offset). Bytes past the announced size are refused and nothing of this
    append is kept; a connection that breaks keeps what arrived. When the last byte is in, the
    upload is complete, or discarded if its SHA-256 is not the announced one."""
    _own_upload(actor, upload)
    upload.refresh_from_db()
    # Checked on every part: who left the organisation since the start may not go on.
    require_actor(actor, "dataset.edit", upload.dataset)
    if upload.status != UploadStatus.OPEN:
        raise InvalidTransition(
            _("The upload is %(status)s: nothing more can be sent.")
            % {"status": upload.get_status_display()}
        )
    if upload.expires_at <= timezone.now():
        raise InvalidTransition(_("The upload expired: start again."))
    path = upload_path(upload)
    if not path.exists():
        raise InvalidTransition(_("The upload's staged file is gone: start again."))
    with open(path, "r+b") as out:
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(
                _("Another part of this upload is being written: wait for it."), field="offset"
            ) from None
        received = os.fstat(out.fileno()).st_size
        if offset != received:
            raise OffsetMismatch(
                _("The upload is at offset %(expected)d, not %(offset)d: send from there.")
                % {"expected": received, "offset": offset},
                expected=received,
            )
        out.seek(received)
        written = received
        try:
            for chunk in chunks:
                if written + len(chunk) > upload.size:
                    out.truncate(received)
                    written = received
                    raise ValidationError(
                        {
                            "offset": _(
                                "This would pass the announced size of %(size)d bytes: nothing "
                                "of it was kept."
                            )
                            % {"size": upload.size}
                        }
                    )
                out.write(chunk)
                written += len(chunk)
        finally:
            out.flush()
            os.fsync(out.fileno())
            Upload.objects.filter(pk=upload.pk).update(received=written, updated_at=timezone.now())
            upload.received = written
    if upload.received == upload.size:
        if upload.sha256 and _sha256_of(path) != upload.sha256:
            path.unlink(missing_ok=True)
            Upload.objects.filter(pk=upload.pk).update(
                status=UploadStatus.ABORTED, updated_at=timezone.now()
            )
            upload.status = UploadStatus.ABORTED
            raise ValidationError(
                {
                    "sha256": _(
                        "The SHA-256 of what arrived is not the announced one: the upload of "
                        "%(name)s was discarded, start again."
                    )
                    % {"name": upload.name}
                }
            )
        Upload.objects.filter(pk=upload.pk).update(
            status=UploadStatus.COMPLETE, updated_at=timezone.now()
        )
        upload.status = UploadStatus.COMPLETE
    return upload


def upload_abort(*, actor, upload: Upload) -> Upload:
    """Give up an upload: its staged bytes are deleted."""
    _own_upload(actor, upload)
    if upload.status == UploadStatus.USED:
        raise InvalidTransition(_("The upload is part of a version already."))
    upload_path(upload).unlink(missing_ok=True)
    with transaction.atomic():
        Upload.objects.filter(pk=upload.pk).update(
            status=UploadStatus.ABORTED, updated_at=timezone.now()
        )
        upload.status = UploadStatus.ABORTED
        audit_record(
            actor=actor,
            action="dataset.upload_abort",
            obj=upload,
            organisation_id=upload.dataset.publisher_id,
            changes={"name": upload.name, "received": upload.received},
        )
    return upload


def uploads_expire() -> int:
    """Drop the uploads that expired unused (the staged bytes and the record); returns how many."""
    expired = list(
        Upload.objects.filter(expires_at__lte=timezone.now()).exclude(status=UploadStatus.USED)
    )
    for upload in expired:
        with contextlib.suppress(OSError):
            upload_path(upload).unlink(missing_ok=True)
    Upload.objects.filter(pk__in=[u.pk for u in expired]).delete()
    return len(expired)
