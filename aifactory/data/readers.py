"""Readers: any tabular file (CSV/TSV in any common encoding and delimiter, Parquet, JSON, JSON Lines,
Excel) becomes a Parquet file, written by DuckDB in a streaming pass, so a large file never sits
in Python's memory. Previews, SQL and profiling then read the Parquet copy.

What could not be read as it is (another encoding, ragged rows, a column of mixed types) is read as
well as possible and said in ``warnings``; what cannot be read at all raises ``ReaderError``.
"""

import codecs
import csv
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from django.conf import settings
from django.utils.translation import gettext as _

SAMPLE_BYTES = 1024 * 1024
CHUNK = 1024 * 1024
MAX_RETRIES = 50
# UTF-8 with some bytes in another encoding (read as cp1252).
MIXED = "utf-8+cp1252"
TABULAR_FORMATS = ("csv", "tsv", "parquet", "jsonl", "json", "xlsx")


class ReaderError(Exception):
    """The file cannot be read as a table; the message says why (and where, when known)."""


@dataclass
class Converted:
    path: Path
    dialect: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    schema: list = field(default_factory=list)  # [{"name", "type"}]
    row_count: int = 0


def connect(workdir: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the memory and thread limits of the settings, spilling to
    ``workdir`` when a query needs more."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{_setting_size(settings.DATA_DUCKDB_MEMORY)}'")
    con.execute(f"SET threads = {int(settings.DATA_DUCKDB_THREADS)}")
    con.execute("SET preserve_insertion_order = false")
    if workdir is not None:
        con.execute(f"SET temp_directory = {_lit(str(workdir))}")
    return con


def _setting_size(value: str) -> str:
    value = str(value).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B?", value, re.IGNORECASE):
        raise ReaderError(f"DATA_DUCKDB_MEMORY is not a size: {value!r}")
    return value


def _lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def to_parquet(source: Path | str, fmt: str, out: Path | str) -> Converted:
    """Write the table in ``source`` (of format ``fmt``) to the Parquet file ``out``; intermediate
    files (a transcoded CSV, an Excel sheet as CSV, DuckDB's spill) go beside ``out``."""
    source, out = Path(source), Path(out)
    if fmt not in TABULAR_FORMATS:
        raise ReaderError(_("“%(format)s” is not a tabular format.") % {"format": fmt})
    if not source.exists() or source.stat().st_size == 0:
        raise ReaderError(_("The file is empty."))
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".read-") as work:
        work = Path(work)
        con = connect(work / "spill")
        try:
            if fmt in ("csv", "tsv"):
                result = _csv(con, source, out, work, tab=fmt == "tsv")
            elif fmt == "xlsx":
                result = _excel(con, source, out, work)
            elif fmt == "parquet":
                # Already Parquet: checked by reading its schema and row groups, then copied as
                # it is (no second encoding).
                _describe(con, source, {}, [])
                shutil.copyfile(source, out)
                result = _describe(con, out, {}, [])
            else:
                kind = "newline_delimited" if fmt == "jsonl" else "auto"
                relation = f"read_json({_lit(str(source))}, format={_lit(kind)})"
                result = _copy(con, relation, out, {"format": fmt})
        except duckdb.Error as exc:
            raise ReaderError(_duckdb_message(exc)) from None
        finally:
            con.close()
    return result


def _copy(con, relation: str, out: Path, dialect: dict, warnings=None) -> Converted:
    con.execute(
        f"COPY (SELECT * FROM {relation}) TO {_lit(str(out))} (FORMAT parquet, COMPRESSION snappy)"  # noqa: S608
    )
    return _describe(con, out, dialect, [] if warnings is None else warnings)


def _describe(con, out: Path, dialect: dict, warnings: list) -> Converted:
    parquet = f"read_parquet({_lit(str(out))})"
    schema = [
        {"name": row[0], "type": row[1]}
        for row in con.execute(f"DESCRIBE SELECT * FROM {parquet}").fetchall()  # noqa: S608
    ]
    rows = con.execute(
        f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata({_lit(str(out))})"  # noqa: S608
    ).fetchone()[0]
    return Converted(out, dialect, warnings, schema, int(rows))


def _duckdb_message(exc: Exception) -> str:
    """DuckDB's first lines (they name the line and column); not its long advice."""
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    keep = []
    for line in lines:
        if line.startswith(("Possible solutions", "  file =", "Column ")) or line.startswith("*"):
            break
        keep.append(line.strip())
    return " ".join(keep)[:1000] or text[:1000]


# --- encodings --------------------------------------------------------------------------------

_local = threading.local()


def _fallback_errors(exc: UnicodeDecodeError):
    """Bytes that are not valid in the file's encoding: read them as cp1252 (the usual cause of a
    mixed file is a Windows program appending to a UTF-8 file), counting each."""
    bad = exc.object[exc.start : exc.end]
    _local.replaced = getattr(_local, "replaced", 0) + len(bad)
    return bad.decode("cp1252", errors="replace"), exc.end


codecs.register_error("aifactory-fallback", _fallback_errors)


def _replace_errors(exc: UnicodeDecodeError):
    _local.replaced = getattr(_local, "replaced", 0) + (exc.end - exc.start)
    return "\ufffd", exc.end


codecs.register_error("aifactory-replace", _replace_errors)


def detect_encoding(sample: bytes) -> str:
    """The encoding of a CSV file from its first bytes: a BOM decides; valid UTF-8 is UTF-8;
    else charset-normalizer's guess (cp1252 for Western single-byte text)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    cut = sample
    if len(sample) >= SAMPLE_BYTES:  # the sample may end inside a character
        cut = sample[: sample.rfind(b"\n") + 1] or sample
    try:
        cut.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few bytes that are not: a mixed file.
    text = cut.decode("utf-8", errors="replace")
    wide = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    if wide and text.count("\ufffd") <= wide:
        return MIXED
    from charset_normalizer import from_bytes

    best = from_bytes(cut).best()
    if best is None:
        return MIXED  # mostly binary or broken: UTF-8 with the rest read as cp1252
    if _single_byte(cut, best.encoding):
        undefined = len(cut.decode("cp1252", errors="replace")) - len(
            cut.decode("cp1252", errors="ignore")
        )
        if undefined <= max(1, len(cut) // 1000):
            return "cp1252"
    return best.encoding


def _single_byte(sample: bytes, encoding: str) -> bool:
    """Whether ``encoding`` reads each byte of ``sample`` as one character (a code page)."""
    try:
        return len(sample.decode(encoding)) == len(sample)
    except (UnicodeDecodeError, LookupError):
        return False


def transcode(source: Path, target: Path, encoding: str, *, fallback: bool = False) -> int:
    """Copy ``source`` to ``target`` as UTF-8 in a streaming loop; returns how many bytes could
    not be decoded (replaced, or read as cp1252 when ``fallback``)."""
    _local.replaced = 0
    errors = "aifactory-fallback" if fallback else "aifactory-replace"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    with open(source, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        first = True
        while chunk := src.read(CHUNK):
            text = decoder.decode(chunk)
            if first and text.startswith("\ufeff"):
                text = text[1:]
            first = False
            dst.write(text)
        dst.write(decoder.decode(b"", final=True))
    return _local.replaced


# --- CSV --------------------------------------------------------------------------------------


def _csv(con, source: Path, out: Path, work: Path, *, tab: bool = False) -> Converted:
    warnings: list[dict] = []
    with open(source, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    if not sample.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ReaderError(_("The file is empty."))
    encoding = detect_encoding(sample)
    path = source
    if encoding == MIXED:
        path = work / "utf8.csv"
        _mixed_warning(warnings, transcode(source, path, "utf-8-sig", fallback=True))
    elif encoding not in ("utf-8", "utf-8-sig"):
        path = work / "utf8.csv"
        replaced = transcode(source, path, encoding)
        if replaced:
            warnings.append(
                {
                    "code": "encoding_replaced",
                    "message": f"{replaced} bytes could not be read as {encoding} and were "
                    "replaced by \ufffd.",
                }
            )
    text_sample = _text_sample(path)
    if not text_sample.strip():
        raise ReaderError(_("The file is empty."))
    dialect = _dialect(con, path, text_sample, tab=tab)
    dialect["encoding"] = encoding
    try:
        return _read_csv(con, path, out, dialect, list(warnings), text_sample)
    except duckdb.Error as exc:
        if "unicode" not in str(exc).lower() or path is not source:
            raise
    # Valid UTF-8 at the start, not further on: a mixed file. Best effort, said in a warning.
    path = work / "utf8.csv"
    dialect["encoding"] = MIXED
    _mixed_warning(warnings, transcode(source, path, "utf-8-sig", fallback=True))
    return _read_csv(con, path, out, dialect, warnings, text_sample)


def _mixed_warning(warnings: list, replaced: int) -> None:
    warnings.append(
        {
            "code": "mixed_encoding",
            "message": f"The file is not all UTF-8: {replaced} bytes were read as cp1252.",
        }
    )


def _text_sample(path: Path) -> str:
    with open(path, "rb") as f:
        raw = f.read(SAMPLE_BYTES)
    if len(raw) == SAMPLE_BYTES:
        raw = raw[: raw.rfind(b"\n") + 1] or raw
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff")


def _dialect(con, path: Path, sample: str, *, tab: bool) -> dict:
    """Delimiter, quote and header from DuckDB's sniffer; Python's csv.Sniffer where DuckDB
    finds one column in a file whose first line holds a likely delimiter."""
    first_line = sample.splitlines()[0] if sample.splitlines() else ""
    dialect = {"delimiter": "\t" if tab else ",", "quote": '"', "escape": '"', "header": True}
    try:
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, HasHeader, Columns FROM sniff_csv(?, "
            "null_padding = true, sample_size = 20480)",
            [str(path)],
        ).fetchone()
    except duckdb.Error:
        row = None
    found_one = row is None or len(row[4]) <= 1
    if row is not None:
        delim, quote, escape, header, _columns = row
        dialect.update(
            delimiter=delim,
            quote=quote if quote != "(empty)" else '"',
            escape=escape if escape != "(empty)" else '"',
            header=bool(header),
        )
    if found_one and any(d in first_line for d in ",;\t|"):
        try:
            sniffed = csv.Sniffer().sniff(sample[:65536], delimiters=",;\t|")
            dialect["delimiter"] = sniffed.delimiter
            dialect["quote"] = sniffed.quotechar or '"'
            dialect["header"] = True
        except csv.Error:
            pass
    # A single line is a header without rows (a data line alone would be unusual).
    if len([line for line in sample.splitlines() if line.strip()]) == 1:
        dialect["header"] = True
    return dialect


def _read_csv(con, path, out, dialect, warnings, sample) -> Converted:
    types: dict[str, str] = {}
    parallel = True
    options = {}
    for _attempt in range(MAX_RETRIES):
        args = [
            _lit(str(path)),
            f"delim = {_lit(dialect['delimiter'])}",
            f"quote = {_lit(dialect['quote'])}",
            f"escape = {_lit(dialect['escape'])}",
            f"header = {str(dialect['header']).lower()}",
            "null_padding = true",
            "allow_quoted_nulls = false",
            "sample_size = 20480",
            f"parallel = {str(parallel).lower()}",
        ]
        if types:
            pairs = ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in types.items())
            args.append(f"types = {{{pairs}}}")
        args += [f"{k} = {v}" for k, v in options.items()]
        relation = f"read_csv({', '.join(args)})"
        try:
            result = _copy(con, relation, out, dialect, warnings)
        except duckdb.ConversionException as exc:
            column = re.search(r'converting column "((?:[^"]|"")*)"', str(exc))
            if not column or column.group(1) in types:
                raise
            name = column.group(1)
            types[name] = "VARCHAR"
            line = re.search(r"Line: (\d+)", str(exc))
            warnings.append(
                {
                    "code": "mixed_types",
                    "message": f"Column {name!r} holds values of mixed types "
                    + (f"(line {line.group(1)}) " if line else "")
                    + "and was read as text.",
                }
            )
            continue
        except duckdb.Error as exc:
            message = str(exc)
            if "parallel scanner does not support null_padding" in message and parallel:
                parallel = False
                continue
            if "unicode" in message.lower() or "auto_detect" in options:
                raise
            if "ignore_errors" in options:
                # The sniffer gives up on the broken rows: the header's columns, all as text.
                header = _header(sample, dialect)
                if not header:
                    raise
                pairs = ", ".join(f"{_lit(name)}: 'VARCHAR'" for name in header)
                options = {**options, "auto_detect": "false", "columns": f"{{{pairs}}}"}
                continue
            # Rows that cannot be parsed at all: skip them, and say which.
            options = {"ignore_errors": "true", "store_rejects": "true"}
            continue
        break
    else:
        raise ReaderError(_("The file could not be read as a table."))
    if options:
        skipped = con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0]
        lines = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT line FROM reject_errors ORDER BY line LIMIT 10"
            ).fetchall()
        ]
        if skipped:
            warnings.append(
                {
                    "code": "rows_skipped",
                    "message": f"{skipped} rows could not be read and were skipped (lines "
                    + ", ".join(str(n) for n in lines)
                    + (", …" if skipped > len(lines) else "")
                    + ").",
                }
            )
    _warn_ragged(sample, dialect, result, warnings)
    if result.row_count == 0 and not result.schema:
        raise ReaderError(_("The file is empty."))
    return result


def _header(sample: str, dialect: dict) -> list[str]:
    if not dialect.get("header"):
        return []
    try:
        first = next(
            csv.reader(
                sample.splitlines(keepends=True),
                delimiter=dialect["delimiter"],
                quotechar=dialect["quote"] or '"',
            ),
            [],
        )
    except csv.Error:
        return []
    names = [name.strip() or f"column{i}" for i, name in enumerate(first)]
    return names if len(set(names)) == len(names) else []


def _warn_ragged(sample: str, dialect: dict, result: Converted, warnings: list) -> None:
    """Rows with fewer fields than the header were padded with empty values, rows with more made
    extra columns: name the lines of the sample where this happened."""
    try:
        reader = csv.reader(
            sample.splitlines(keepends=True),
            delimiter=dialect["delimiter"],
            quotechar=dialect["quote"] or '"',
        )
        rows = list(reader)
    except csv.Error:
        return
    if not rows:
        return
    if len(sample.encode("utf-8")) >= SAMPLE_BYTES - 4096:
        rows = rows[:-1]  # the last line of a cut sample may be partial
    width = len(rows[0])
    odd, line_number = [], 1
    for row in rows[1:] if dialect["header"] else rows:
        line_number += 1
        if row and len(row) != width:
            odd.append(line_number)
    if odd:
        shown = ", ".join(str(n) for n in odd[:10]) + (", …" if len(odd) > 10 else "")
        warnings.append(
            {
                "code": "ragged_rows",
                "message": f"Some rows have a different number of fields than the first "
                f"(lines {shown}): missing fields are empty, extra fields make extra columns.",
            }
        )


# --- Excel ------------------------------------------------------------------------------------


def _excel(con, source: Path, out: Path, work: Path) -> Converted:
    """The first sheet, streamed row by row with openpyxl into a UTF-8 CSV that DuckDB reads."""
    import openpyxl

    warnings = []
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ReaderError(_("Not a readable Excel workbook: %(error)s") % {"error": exc}) from None
    try:
        sheet = book.worksheets[0]
        if len(book.worksheets) > 1:
            warnings.append(
                {
                    "code": "more_sheets",
                    "message": f"The workbook has {len(book.worksheets)} sheets; only the first, "
                    f"{sheet.title!r}, was read.",
                }
            )
        path = work / "sheet.csv"
        count = 0
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            for row in sheet.iter_rows(values_only=True):
                values = [
                    "" if v is None else v.isoformat() if hasattr(v, "isoformat") else v
                    for v in row
                ]
                if count == 0:
                    while values and values[-1] == "":
                        values.pop()
                    width = len(values)
                if not any(v != "" for v in values):
                    continue
                writer.writerow(values[:width] + [""] * (width - len(values)))
                count += 1
    finally:
        book.close()
    if count == 0:
        raise ReaderError(_("The file is empty."))
    dialect = {"delimiter": ",", "quote": '"', "escape": '"', "header": True}
    result = _read_csv(con, path, out, dialect, warnings, "")
    result.dialect = {"sheet": sheet.title, "header": True}
    return result


__all__ = [
    "TABULAR_FORMATS",
    "Converted",
    "ReaderError",
    "connect",
    "detect_encoding",
    "to_parquet",
    "transcode",
]
