"""Reading a dataset's data: download, preview, read-only SQL, and use by compute jobs.

Every read checks ``dataset.read`` (the access rights, a live grant for restricted data, or
membership of the publisher) and writes an AccessLogEntry the publisher reads. Someone who may not
even see the dataset gets "not found", never a hint that it exists.

SQL runs in a fresh in-memory DuckDB per query. The tabular files of the datasets the query names,
and only those the person may read, are registered first as PyArrow datasets over their Parquet
copies (read by PyArrow, not by DuckDB); then DuckDB's file system access is switched off and its
configuration locked, so the query can read nothing else: no other file, no COPY, ATTACH, INSTALL
or LOAD, and no change of the memory, thread or access settings. Only one SELECT statement is
run, under a time limit (``con.interrupt()`` from a timer) and a row limit.
"""

import contextlib
import datetime as dt
import decimal
import math
import re
import threading
import time
import uuid
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.core.errors import NotAllowed, NotFound, ServiceError
from aifactory.core.permissions import allowed, org_role, organisation_ids

from ..datasets_selectors import datasets_visible
from ..models import (
    AccessAction,
    AccessLogEntry,
    Dataset,
    DatasetStatus,
    DatasetVersion,
    Distribution,
    Grant,
    VersionStatus,
)
from ..storage import StorageError, get_storage

__all__ = [
    "access_log_record",
    "dataset_use_record",
    "distribution_download",
    "distribution_preview",
    "query_run",
    "query_tables",
    "view_name",
]

DETAIL_MAX = 2000
SQL_MAX = 100_000
PREVIEW_MAX = 500
# The most a query's result may hold (the values' sizes added up), and the rows fetched at once.
QUERY_MAX_BYTES = 20 * 1024 * 1024
QUERY_FETCH_ROWS = 10


def _system(actor) -> bool:
    return actor is None


def _live_grant(actor, dataset: Dataset) -> Grant | None:
    if not getattr(actor, "is_authenticated", False):
        return None
    return (
        dataset.grants.live()
        .filter(organisation_id__in=organisation_ids(actor))
        .select_related("organisation")
        .order_by("-expires_at")
        .first()
    )


def _check_read(actor, dataset: Dataset) -> None:
    """NotFound for those who may not see the dataset; NotAllowed, with what to do, for those who
    see it but may not read its data."""
    if _system(actor):
        return
    if not allowed(actor, "dataset.view", dataset):
        raise NotFound(_("No such dataset."))
    if allowed(actor, "dataset.read", dataset):
        return
    if dataset.status != DatasetStatus.PUBLISHED:
        raise NotAllowed(_("This dataset is not published: its data cannot be read."))
    if not getattr(actor, "is_authenticated", False):
        raise NotAllowed(_("Sign in to read this dataset."))
    if dataset.access_rights == "restricted":
        ended = (
            dataset.grants.filter(organisation_id__in=organisation_ids(actor))
            .order_by("-expires_at")
            .first()
        )
        if ended is not None:
            when = ended.revoked_at or ended.expires_at
            raise NotAllowed(
                _("Your organisation's access to this dataset ended on %(date)s; ask again.")
                % {"date": timezone.localtime(when).strftime("%Y-%m-%d")}
            )
        raise NotAllowed(_("This dataset is restricted: ask its publisher for access."))
    raise NotAllowed(_("You may not read this dataset."))


def access_log_record(
    *,
    actor,
    dataset: Dataset,
    action: str,
    detail: str = "",
    version: DatasetVersion | None = None,
) -> AccessLogEntry:
    """Append one read to the publisher's access log. The organisation is the one whose grant
    allowed the read, or the publisher for its own members; none for open data."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    organisation, grant = None, None
    if user is not None:
        if org_role(user, dataset.publisher) is not None:
            organisation = dataset.publisher
        elif dataset.access_rights == "restricted":
            grant = _live_grant(user, dataset)
            organisation = grant.organisation if grant else None
    return AccessLogEntry.objects.create(
        dataset=dataset,
        version=version,
        user=user,
        user_repr=(user.email if user else ("system" if actor is None else "anonymous"))[:254],
        organisation=organisation,
        grant=grant,
        action=action,
        detail=(detail or "")[:DETAIL_MAX],
    )


def _readable_distribution(actor, distribution: Distribution) -> Distribution:
    distribution = Distribution.objects.select_related("version__dataset__publisher").get(
        pk=distribution.pk
    )
    _check_read(actor, distribution.version.dataset)
    if distribution.version.status != VersionStatus.READY:
        raise ServiceError(_("This version is not ready."))
    return distribution


def distribution_download(*, actor, distribution: Distribution) -> tuple[BinaryIO, str, str]:
    """The stored file as a binary stream, its name and media type; the read is logged."""
    distribution = _readable_distribution(actor, distribution)
    try:
        stream = get_storage().open(distribution.storage_key)
    except StorageError:
        raise ServiceError(_("The file is missing from the storage.")) from None
    access_log_record(
        actor=actor,
        dataset=distribution.version.dataset,
        action=AccessAction.DOWNLOAD,
        detail=f"v{distribution.version.number}/{distribution.name}",
        version=distribution.version,
    )
    return stream, distribution.name, distribution.media_type or "application/octet-stream"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _connect():
    import duckdb

    return duckdb.connect(
        ":memory:",
        config={
            "threads": settings.DATA_DUCKDB_THREADS,
            "memory_limit": settings.DATA_DUCKDB_MEMORY,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )


def distribution_preview(*, actor, distribution: Distribution, rows: int = 50) -> dict:
    """The first rows of a tabular file, from its Parquet copy; ``message`` says why there are
    none (not tabular, not profiled yet, profiling failed)."""
    distribution = _readable_distribution(actor, distribution)
    rows = max(1, min(int(rows), PREVIEW_MAX))
    answer = {"columns": [], "rows": [], "row_count": distribution.row_count, "message": ""}
    if not distribution.is_tabular:
        answer["message"] = _("This file is not tabular: download it to read it.")
        return answer
    if not distribution.parquet_key:
        answer["message"] = (
            _("The file could not be read as a table: %(error)s")
            % {"error": distribution.profile_error or "—"}
            if distribution.profile_status == "failed"
            else _("The file is being profiled; the preview follows shortly.")
        )
        return answer
    con = _connect()
    try:
        with get_storage().local_path(distribution.parquet_key) as path:
            cur = con.execute("SELECT * FROM read_parquet(?) LIMIT ?", [str(path), rows])
            answer["columns"] = [d[0] for d in cur.description]
            answer["rows"] = [_jsonable(list(r)) for r in cur.fetchall()]
    except StorageError:
        raise ServiceError(_("The table copy of this file is missing.")) from None
    finally:
        con.close()
    access_log_record(
        actor=actor,
        dataset=distribution.version.dataset,
        action=AccessAction.PREVIEW,
        detail=f"v{distribution.version.number}/{distribution.name}",
        version=distribution.version,
    )
    return answer


def _name_part(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "file"


def view_name(dataset: Dataset, distribution: Distribution | None = None) -> str:
    """The table name of a dataset in SQL: its slug with underscores; with several tabular files,
    ``<slug>__<file name without extension>``."""
    base = _name_part(dataset.slug)
    if distribution is None:
        return base
    stem = distribution.name.rsplit(".", 1)[0] if "." in distribution.name else distribution.name
    return f"{base}__{_name_part(stem)}"


def _tables_of(dataset: Dataset) -> tuple[DatasetVersion | None, dict[str, Distribution]]:
    version = dataset.newest_ready_version()
    if version is None:
        return None, {}
    files = [d for d in version.distributions.all() if d.is_tabular and d.parquet_key]
    if len(files) == 1:
        return version, {view_name(dataset): files[0]}
    return version, {view_name(dataset, d): d for d in files}


def _candidates(actor):
    """The datasets a person might read (the rule decides for each), with their newest ready
    version and the live grants of the person's organisations loaded once for all of them."""
    if _system(actor):
        return Dataset.objects.select_related("publisher").with_newest_ready_version()
    return (
        datasets_visible(actor)
        .with_newest_ready_version()
        .prefetch_related(
            Prefetch(
                "grants",
                queryset=Grant.objects.live().filter(organisation_id__in=organisation_ids(actor)),
            )
        )
    )


def query_tables(actor, names: set[str] | None = None) -> list[dict]:
    """The tables a person may query: [{"name", "dataset", "version", "distribution"}], only
    those in ``names`` when given (lower case)."""
    tables = []
    taken: set[str] = set()
    candidates = _candidates(actor)
    if names is not None:
        bases = {n.split("__")[0] for n in names if re.fullmatch(r"[a-z0-9_]+", n)}
        if not bases:
            return []
        # A slug's hyphens are underscores in SQL: "energy_use" is energy-use or energy_use.
        pattern = "^(" + "|".join(sorted(b.replace("_", "[-_]") for b in bases)) + ")$"
        candidates = candidates.filter(slug__iregex=pattern)
    for dataset in candidates.order_by("slug"):
        base = _name_part(dataset.slug)
        if names is not None and not any(n == base or n.startswith(base + "__") for n in names):
            continue
        if not (_system(actor) or allowed(actor, "dataset.read", dataset)):
            continue
        version, files = _tables_of(dataset)
        for name, distribution in files.items():
            if name in taken or (names is not None and name not in names):
                continue
            taken.add(name)
            tables.append(
                {
                    "name": name,
                    "dataset": dataset,
                    "version": version,
                    "distribution": distribution,
                }
            )
    return tables


def _parse(sql: str):
    import duckdb

    sql = sql.strip() if isinstance(sql, str) else ""
    if not sql:
        raise ValidationError({"sql": _("Write a query.")})
    if len(sql) > SQL_MAX or "\x00" in sql:
        raise ValidationError({"sql": _("At most %(limit)d characters.") % {"limit": SQL_MAX}})
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ValidationError({"sql": str(exc).split("\n")[0]}) from None
    if len(statements) != 1:
        raise ValidationError({"sql": _("Send one statement only.")})
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise ValidationError(
            {"sql": _("Only read-only queries (SELECT or WITH ... SELECT) are allowed.")}
        )
    try:
        names = {n.lower().split(".")[-1] for n in duckdb.get_table_names(sql)}
    except duckdb.Error as exc:
        raise ValidationError({"sql": str(exc).split("\n")[0]}) from None
    return sql, names


def _size(value: Any) -> int:
    """Roughly the bytes a value takes in the answer."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, dict):
        return sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 8 + sum(_size(v) for v in value)
    return 16


def query_run(*, actor, sql: str, max_rows: int | None = None) -> dict:
    """Run one read-only SELECT over the datasets the person may read; ``max_rows`` may lower
    the row limit, never raise it.

    The result is streamed from DuckDB a few rows at a time and stops at the row limit or when
    its values add up to more than ``QUERY_MAX_BYTES`` (20 MB), so a query of a few huge values
    cannot fill the server's memory; ``truncated`` is then true and ``message`` says where it
    was cut ("" otherwise).

    Returns {"columns", "rows", "truncated", "message", "tables", "seconds"}. Each dataset read
    is logged."""
    import duckdb
    import pyarrow.dataset as pads

    limit = settings.DATA_QUERY_MAX_ROWS
    limit = max(1, min(int(max_rows), limit)) if max_rows else limit
    sql, names = _parse(sql)
    tables = query_tables(actor, names)
    seconds = settings.DATA_QUERY_SECONDS
    started = time.monotonic()
    con = _connect()
    timer = None
    try:
        with contextlib.ExitStack() as stack:
            try:
                for table in tables:
                    path = stack.enter_context(
                        get_storage().local_path(table["distribution"].parquet_key)
                    )
                    con.register(table["name"], pads.dataset(str(path), format="parquet"))
            except StorageError:
                raise ServiceError(_("The table copy of a file is missing.")) from None
            # Locked down only now: the registered tables are read by PyArrow, not DuckDB.
            con.execute("SET python_enable_replacements=false")
            con.execute("SET enable_external_access=false")
            con.execute("SET lock_configuration=true")
            timer = threading.Timer(seconds, con.interrupt)
            timer.daemon = True
            timer.start()
            try:
                # execute() streams: DuckDB computes the rows as they are fetched.
                cur = con.execute(sql)
                columns = [d[0] for d in cur.description or []]
                rows, size, cut = [], 0, False
                while len(rows) <= limit:
                    batch = cur.fetchmany(min(QUERY_FETCH_ROWS, limit + 1 - len(rows)))
                    if not batch:
                        break
                    for row in batch:
                        size += _size(row)
                        if size > QUERY_MAX_BYTES:
                            cut = True
                            break
                        rows.append(row)
                    del batch
                    if cut:
                        break
            except duckdb.InterruptException:
                raise ServiceError(
                    _("The query took longer than %(seconds)s seconds and was stopped.")
                    % {"seconds": f"{seconds:g}"},
                    field="sql",
                ) from None
            except duckdb.PermissionException:
                raise ValidationError(
                    {"sql": _("Queries read only the datasets' tables: no files, no settings.")}
                ) from None
            except duckdb.Error as exc:
                raise ValidationError({"sql": str(exc).split("\n")[0]}) from None
    finally:
        if timer is not None:
            timer.cancel()
        con.close()
    truncated = cut or len(rows) > limit
    message = ""
    if cut:
        message = _("The result was cut at %(mb)s MB: ask for fewer rows or smaller values.") % {
            "mb": f"{QUERY_MAX_BYTES / 1024 / 1024:g}"
        }
    used = {}
    for table in tables:
        used.setdefault(table["dataset"].pk, table)
    for table in used.values():
        access_log_record(
            actor=actor,
            dataset=table["dataset"],
            action=AccessAction.QUERY,
            detail=sql,
            version=table["version"],
        )
    return {
        "columns": columns,
        "rows": [_jsonable(list(r)) for r in rows[:limit]],
        "truncated": truncated,
        "message": message,
        "tables": [t["name"] for t in tables],
        "seconds": round(time.monotonic() - started, 3),
    }


def dataset_use_record(*, actor, dataset: Dataset, detail: str = "") -> AccessLogEntry:
    """A compute job is about to read the dataset: check the right and log it (action "job")."""
    _check_read(actor, dataset)
    return access_log_record(
        actor=actor,
        dataset=dataset,
        action=AccessAction.JOB,
        detail=detail,
        version=dataset.newest_ready_version(),
    )
