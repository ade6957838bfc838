"""Profiling: each tabular file of a new version is converted to Parquet (``data.readers``) and
described with DuckDB in a few scans — rows, and per column its type, nulls, distinct values, range,
mean, quartiles, most frequent values and the share of values that look like e-mails, dates, URLs
or identifiers. Then the version's quality checks run (``services/quality/``).

Profiling never loses a version: a file that cannot be read is marked FAILED with DuckDB's reason,
the version stays READY.
"""

import datetime
import decimal
import logging
import math
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from .. import readers
from ..models import DatasetVersion, Distribution, ProfileStatus, VersionStatus
from ..storage import get_storage, new_key
from .versions import is_zip_bomb

log = logging.getLogger(__name__)

# Up to this many rows every figure is exact (quartiles aside); above, distinct counts are
# estimated and quartiles, candidate frequent values and patterns come from a sample of about
# SAMPLE_ROWS rows (the counts of the frequent values are exact).
EXACT_ROWS = 200_000
SAMPLE_ROWS = 150_000
TOP = 5
TEXT_LIMIT = 200
PATTERNS = {
    "email": r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$",
    "date": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
    "url": r"^(https?|ftp)://[^\s/$.?#][^\s]*$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "phone": r"^\+?[0-9][0-9 ()./-]{6,18}[0-9]$",
    "numeric_id": r"^[0-9]{4,}$",
}
# What the reader's warnings are called on the pages (translated there; the detail stays English).
WARNING_LABELS = {
    "encoding_replaced": gettext_noop("Some bytes could not be read in the file's encoding."),
    "mixed_encoding": gettext_noop("The file mixes encodings."),
    "ragged_rows": gettext_noop("Some rows have too few or too many fields."),
    "rows_skipped": gettext_noop("Some rows could not be read and were skipped."),
    "mixed_types": gettext_noop("A column mixes types and was read as text."),
    "more_sheets": gettext_noop("Only the first sheet of the workbook was read."),
}
NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|DECIMAL.*|REAL)$"
)
TEMPORAL = re.compile(r"^(DATE|TIMESTAMP.*|TIME)$")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _jsonable(value):
    """A value DuckDB returned, as JSON can hold it."""
    if value is None or isinstance(value, bool | int | str):
        return value[:TEXT_LIMIT] if isinstance(value, str) else value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)[:TEXT_LIMIT]


def _nested(kind: str) -> bool:
    return kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "UNION"))


def profile_parquet(con, path: Path | str) -> tuple[int, dict]:
    """Row count and per-column profile of a Parquet file. Small tables: exact figures, a few
    scans. Large tables: two scans — a sample (quartiles, candidate frequent values, patterns)
    and one pass over everything (nulls, range, mean, distinct estimate, exact counts of the
    candidates)."""
    source = f"read_parquet({_lit(str(path))})"
    columns = [
        (name, str(kind))
        for name, kind, *_rest in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()  # noqa: S608
    ]
    rows = int(
        con.execute(
            f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata({_lit(str(path))})"  # noqa: S608
        ).fetchone()[0]
    )
    if not columns:
        return rows, {"columns": []}
    exact = rows <= EXACT_ROWS
    if exact:
        sample = source
    else:
        share = min(100.0, max(0.01, 100.0 * SAMPLE_ROWS / rows))
        con.execute("DROP TABLE IF EXISTS _profile_sample")
        con.execute(
            f"CREATE TEMP TABLE _profile_sample AS SELECT * FROM {source} "  # noqa: S608
            f"USING SAMPLE {share:.4f}% (system)"
        )
        sample = "_profile_sample"
    profile = [
        {
            "name": name,
            "type": kind,
            "nulls": 0,
            "distinct": 0,
            "distinct_approx": not exact,
            "min": None,
            "max": None,
            "mean": None,
            "quantiles": None,
            "top": [],
            "patterns": {},
        }
        for name, kind in columns
    ]
    # 1. the sample (everything, for small tables): quartiles, frequent values, patterns.
    for entry in profile:
        col, kind = _ident(entry["name"]), entry["type"]
        if NUMERIC.match(kind) or TEMPORAL.match(kind):
            (quartiles,) = con.execute(
                f"SELECT approx_quantile({col}, [0.25, 0.5, 0.75]) FROM {sample}"  # noqa: S608
            ).fetchone()
            if quartiles and quartiles[0] is not None:
                entry["quantiles"] = dict(
                    zip(("p25", "p50", "p75"), (_jsonable(q) for q in quartiles), strict=True)
                )
        value = f"CAST({col} AS VARCHAR)" if _nested(kind) else col
        entry["_top"] = con.execute(
            f"SELECT {value} AS v, count(*) AS n FROM {sample} WHERE {col} IS NOT NULL "  # noqa: S608
            f"GROUP BY v ORDER BY n DESC, v LIMIT {TOP if exact else 2 * TOP}"
        ).fetchall()
    texts = [e for e in profile if e["type"] == "VARCHAR"]
    if texts:
        fields = []
        for e in texts:
            col = _ident(e["name"])
            fields.append(f"count({col})")
            fields += [
                f"count(*) FILTER (WHERE regexp_full_match({col}, {_lit(regex)}))"
                for regex in PATTERNS.values()
            ]
        found = con.execute(f"SELECT {', '.join(fields)} FROM {sample}").fetchone()  # noqa: S608
        step = 1 + len(PATTERNS)
        for i, e in enumerate(texts):
            counted = found[i * step]
            if counted:
                e["patterns"] = {
                    kind: round(found[i * step + 1 + j] / counted, 4)
                    for j, kind in enumerate(PATTERNS)
                    if found[i * step + 1 + j]
                }
                e["patterns_sampled"] = int(counted)
    # 2. one pass over everything.
    parts, params, layout = [], [], []
    for entry in profile:
        col, kind = _ident(entry["name"]), entry["type"]
        value = f"CAST({col} AS VARCHAR)" if _nested(kind) else col
        fields = [
            f"count({col})",
            f"count(DISTINCT {value})" if exact else f"approx_count_distinct({value})",
            "NULL" if _nested(kind) else f"min({col})",
            "NULL" if _nested(kind) else f"max({col})",
            f"avg({col})" if NUMERIC.match(kind) else "NULL",
        ]
        candidates = entry["_top"]
        # Values seen once in the sample of a large table say nothing: no frequent values.
        if not exact and not (candidates and candidates[0][1] > 1):
            candidates = []
        if not exact:
            for candidate, _n in candidates:
                fields.append(f"count(*) FILTER (WHERE {value} = ?)")
                params.append(candidate)
        parts += fields
        layout.append((entry, len(fields), candidates))
    values = con.execute(f"SELECT {', '.join(parts)} FROM {source}", params).fetchone()  # noqa: S608
    at = 0
    for entry, width, candidates in layout:
        count, distinct, low, high, mean, *counts = values[at : at + width]
        at += width
        top = entry.pop("_top")
        if not exact:
            top = sorted(
                zip((c for c, _n in candidates), counts, strict=True),
                key=lambda cn: (-cn[1], str(cn[0])),
            )[:TOP]
        entry.update(
            nulls=rows - int(count),
            distinct=int(distinct or 0),
            min=_jsonable(low),
            max=_jsonable(high),
            mean=_jsonable(mean),
            top=[[_jsonable(v), int(n)] for v, n in top],
        )
    if not exact:
        con.execute("DROP TABLE IF EXISTS _profile_sample")
    return rows, {"columns": profile, "sampled_rows": None if exact else SAMPLE_ROWS}


def profile_file(source: Path, fmt: str, workdir: Path) -> tuple[readers.Converted, dict]:
    """Convert ``source`` to Parquet in ``workdir`` and profile it: the path version_profile and
    the benchmark both take."""
    converted = readers.to_parquet(source, fmt, Path(workdir) / "data.parquet")
    con = readers.connect(Path(workdir) / "spill")
    try:
        rows, profile = profile_parquet(con, converted.path)
    finally:
        con.close()
    converted.row_count = rows
    return converted, profile


def _parquet_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem}.parquet"


def distribution_profile(distribution: Distribution) -> None:
    """Profile one tabular file; its profile_status says DONE or FAILED (with the reason)."""
    storage = get_storage()
    dist = distribution
    try:
        workroot = settings.DATA_UPLOAD_DIR
        Path(workroot).mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(dir=workroot, prefix=".profile-") as work,
            storage.local_path(dist.storage_key) as local,
        ):
            converted, profile = profile_file(Path(local), dist.format, Path(work))
            key = new_key(_parquet_name(dist.name))
            storage.put_file(key, converted.path)
        old_key = dist.parquet_key
        dist.parquet_key = key
        dist.dialect = converted.dialect
        dist.schema = converted.schema
        dist.row_count = converted.row_count
        dist.profile = profile
        dist.warnings = [w for w in dist.warnings if w.get("source") != "reader"] + [
            {**w, "source": "reader", "label": WARNING_LABELS.get(w["code"], "")}
            for w in converted.warnings
        ]
        dist.profile_status = ProfileStatus.DONE
        dist.profile_error = ""
        dist.profiled_at = timezone.now()
        dist.save()
        if old_key and old_key != key:
            storage.delete(old_key)
    except Exception as exc:  # one file's failure never loses the version
        log.warning("profiling %s failed: %s", dist.pk, exc)
        dist.profile_status = ProfileStatus.FAILED
        dist.profile_error = (
            str(exc) if isinstance(exc, readers.ReaderError) else f"{type(exc).__name__}: {exc}"
        )[:2000]
        dist.profiled_at = timezone.now()
        dist.save(update_fields=["profile_status", "profile_error", "profiled_at", "updated_at"])


def version_profile(version_id: str) -> str:
    """Profile every tabular file of a READY version, then check its quality; returns the
    version's status. Files flagged as zip bombs when stored (``is_zip_bomb``) are not opened."""
    from .quality import version_check_quality

    try:
        version = DatasetVersion.objects.select_related("dataset").get(pk=version_id)
    except DatasetVersion.DoesNotExist:
        return "missing"
    if version.status != VersionStatus.READY:
        return version.status
    for dist in version.distributions.order_by("name"):
        if not dist.is_tabular:
            continue
        if is_zip_bomb(dist.warnings):
            dist.profile_status = ProfileStatus.FAILED
            dist.profile_error = "Not profiled: the file looks like a zip bomb."
            dist.save(update_fields=["profile_status", "profile_error", "updated_at"])
            continue
        distribution_profile(dist)
    with transaction.atomic():
        version_check_quality(version)
    return version.status


__all__ = [
    "WARNING_LABELS",
    "distribution_profile",
    "profile_file",
    "profile_parquet",
    "version_profile",
]
