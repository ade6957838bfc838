"""S3-compatible object storage (production): AWS S3, MinIO, Ceph RGW, Garage...

``put_stream`` writes a multipart upload that is completed only when every part is in and the
size limit held; any failure aborts it, so an interrupted write leaves no object (S3 shows a
multipart upload's object only once it is completed). Small files (under one part) are written
with one PUT of the buffered bytes. Configured by ``DATA_S3_BUCKET``, ``DATA_S3_ENDPOINT_URL``,
``DATA_S3_REGION`` and ``DATA_S3_PREFIX``; credentials come from the usual AWS environment
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``) or the instance's role.
"""

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from .storage import Storage, StorageError, Stored, TooLarge, _safe_key

logger = logging.getLogger(__name__)

# S3 wants parts of at least 5 MiB (all but the last); 8 MiB keeps the part count of a 5 GB file
# at 640, far below the limit of 10,000, with little memory.
PART_SIZE = 8 * 1024 * 1024


class S3Storage(Storage):
    def __init__(self, client, bucket: str, prefix: str = "", part_size: int = PART_SIZE):
        if not bucket:
            raise StorageError("DATA_S3_BUCKET is not set")
        if part_size < 5 * 1024 * 1024:
            raise StorageError("S3 parts must be at least 5 MiB")
        self.client, self.bucket, self.prefix, self.part_size = client, bucket, prefix, part_size

    @classmethod
    def from_settings(cls) -> "S3Storage":
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.DATA_S3_ENDPOINT_URL or None,
            region_name=settings.DATA_S3_REGION or None,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                # Presigned URLs (jobs' datasets) in signature v4, which every S3 accepts.
                signature_version="s3v4",
            ),
        )
        return cls(client, settings.DATA_S3_BUCKET, settings.DATA_S3_PREFIX)

    def _key(self, key: str) -> str:
        return self.prefix + _safe_key(key)

    def put_stream(self, key: str, chunks: Iterable[bytes], *, max_bytes: int) -> Stored:
        name = self._key(key)
        digest, size = hashlib.sha256(), 0
        buffer = bytearray()
        upload_id = None
        parts: list[dict] = []
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                digest.update(chunk)
                buffer += chunk
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=name
                        )["UploadId"]
                    part, buffer = bytes(buffer[: self.part_size]), buffer[self.part_size :]
                    number = len(parts) + 1
                    answer = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=part,
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            if upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer))
            else:
                if buffer:
                    number = len(parts) + 1
                    answer = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=bytes(buffer),
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
                upload_id = None
        except BaseException:
            if upload_id is not None:
                try:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=upload_id
                    )
                except Exception:
                    logger.exception("could not abort the multipart upload of %s", name)
            raise
        return Stored(key, size, digest.hexdigest())

    def _missing(self, exc) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if self._missing(exc):
                raise StorageError(f"no stored object {key!r}") from None
            raise

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        from botocore.exceptions import ClientError

        suffix = Path(key).suffix
        # In the upload folder, not the system /tmp: operators size one folder for staged data.
        folder = Path(settings.DATA_UPLOAD_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="aifactory-s3-", suffix=suffix, dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    self.client.download_fileobj(self.bucket, self._key(key), out)
                except ClientError as exc:
                    if self._missing(exc):
                        raise StorageError(f"no stored object {key!r}") from None
                    raise
            yield Path(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def download_url(self, key: str, seconds: int) -> str | None:
        # S3 caps presigned URLs (signature v4) at seven days.
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=max(1, min(int(seconds), 7 * 24 * 3600)),
        )

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise StorageError(f"no stored object {key!r}")
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str = "") -> list[str]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                found.append(item["Key"][len(self.prefix) :])
        return sorted(found)

    def pending_uploads(self) -> list[str]:
        """Keys of multipart uploads begun and neither completed nor aborted (for tests and ops)."""
        answer = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
        return [u["Key"][len(self.prefix) :] for u in answer.get("Uploads", [])]


__all__ = ["PART_SIZE", "S3Storage"]
