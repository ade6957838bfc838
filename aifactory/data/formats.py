"""What kind of file a distribution is, from its name and first bytes, and the checks that need
the whole file (an Excel workbook that would unpack to an absurd size).

Archives (.zip, .gz, ...) are stored as ``other`` and never unpacked: a zip bomb uploaded as an
archive is just bytes. An .xlsx is a zip too, and readers do unpack it, so its members are measured
from the zip's directory (no decompression) before anybody reads it."""

import zipfile
from pathlib import Path

# How many bytes of the head ``detect`` looks at.
HEAD_BYTES = 8192
# An .xlsx is not read when it would unpack to more than this, at more than RATIO times its size.
XLSX_MAX_UNCOMPRESSED = 200 * 1024 * 1024
XLSX_MAX_RATIO = 100

MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/jsonl",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "other": "application/octet-stream",
}
# Well-known media types of files stored as "other" (for a correct Content-Type on download).
OTHER_MEDIA_TYPES = {
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
    ".7z": "application/x-7z-compressed",
    ".tar": "application/x-tar",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".rdf": "application/rdf+xml",
    ".ttl": "text/turtle",
    ".geojson": "application/geo+json",
    ".xls": "application/vnd.ms-excel",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xlsx": "xlsx",
}

PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
# Magic bytes of binary files that are never text, whatever their name says.
BINARY_MAGICS = (
    ZIP_MAGIC,
    b"PK\x05\x06",  # an empty zip
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"\xd0\xcf\x11\xe0",  # old Office (.xls, .doc)
)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return True
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True  # a BOM: UTF-8 or UTF-16 text
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13, 12))
    return controls <= len(head) // 100


def detect(name: str, head: bytes) -> tuple[str, str]:
    """(format, media type) of a file: csv, tsv, parquet, jsonl, json, xlsx or other.

    The extension proposes, the first bytes decide: a "data.csv" that is really a zip is "other";
    a Parquet file is recognised by its magic "PAR1" whatever its name."""
    suffix = _suffix(name)
    if head.startswith(PARQUET_MAGIC):
        return "parquet", MEDIA_TYPES["parquet"]
    proposed = EXTENSIONS.get(suffix)
    if proposed == "xlsx":
        if head.startswith(ZIP_MAGIC):
            return "xlsx", MEDIA_TYPES["xlsx"]
        return "other", OTHER_MEDIA_TYPES.get(suffix, MEDIA_TYPES["other"])
    if proposed == "parquet" or head.startswith(BINARY_MAGICS) or not _looks_like_text(head):
        return "other", OTHER_MEDIA_TYPES.get(suffix, MEDIA_TYPES["other"])
    if proposed is not None:
        return proposed, MEDIA_TYPES[proposed]
    # A text file without a telling name: JSON by its first character, otherwise not guessed.
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"[") or (text.startswith(b"{") and b"\n{" not in text):
        return "json", MEDIA_TYPES["json"]
    if text.startswith(b"{"):
        return "jsonl", MEDIA_TYPES["jsonl"]
    return "other", OTHER_MEDIA_TYPES.get(suffix, MEDIA_TYPES["other"])


def xlsx_warnings(path: Path) -> list[dict]:
    """Warnings about an .xlsx before anybody unpacks it: not a workbook at all, or a zip bomb (the
    sizes its directory announces, summed, are absurd). Reads only the zip's directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [{"code": "not_xlsx", "message": f"not an Excel workbook: {exc}"}]
    if not any(m.filename.startswith("xl/") for m in members):
        return [{"code": "not_xlsx", "message": "not an Excel workbook: no xl/ part"}]
    unpacked = sum(m.file_size for m in members)
    packed = max(sum(m.compress_size for m in members), 1)
    if unpacked > XLSX_MAX_UNCOMPRESSED and unpacked / packed > XLSX_MAX_RATIO:
        return [
            {
                "code": "zip_bomb",
                "message": (
                    f"the workbook would unpack to {unpacked:,} bytes "
                    f"({unpacked // packed}× its size): stored, not read"
                ),
            }
        ]
    return []


__all__ = ["HEAD_BYTES", "MEDIA_TYPES", "detect", "xlsx_warnings"]
