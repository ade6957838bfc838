"""Data quality: the checks of a version (built-in, declared, the publisher's own) and its score."""

import re
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record

from ...models import FREQUENCY_DAYS, Dataset, DatasetVersion, ProfileStatus
from .schema import DECLARED_TYPES, _declared_checks, _is_number, declared_schema_validate

# The publisher's own checks: kind -> (required fields, optional fields).
CHECK_KINDS = {
    "not_null": ({"column"}, set()),
    "unique": ({"columns"}, set()),
    "between": ({"column"}, {"min", "max"}),
    "in_set": ({"column", "values"}, set()),
    "matches": ({"column", "pattern"}, set()),
    "row_count": (set(), {"min", "max"}),
    "max_null_share": ({"column", "value"}, set()),
}
COMMON_FIELDS = {"check", "name", "weight"}
# Built-in checks weigh this much against a publisher's check of weight 1.
WEIGHTS = {"completeness": 1, "key": 3, "freshness": 2, "schema": 1}
# The share of filled cells from which a file counts as complete.
COMPLETE_SHARE = 0.95
NUMERIC_TYPES = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|DECIMAL.*)$"
)
TEMPORAL_TYPES = re.compile(r"^(DATE|TIMESTAMP.*)$")


# What each check is called on the pages (translated there).
CHECK_LABELS = {
    "completeness": gettext_noop("Completeness"),
    "not_null": gettext_noop("No missing values"),
    "unique": gettext_noop("Unique values"),
    "key": gettext_noop("Unique key"),
    "between": gettext_noop("Values in range"),
    "in_set": gettext_noop("Allowed values"),
    "matches": gettext_noop("Pattern"),
    "row_count": gettext_noop("Number of rows"),
    "max_null_share": gettext_noop("Share of missing values"),
    "type": gettext_noop("Declared type"),
    "present": gettext_noop("Declared column"),
    "freshness": gettext_noop("Freshness"),
}


def _error(index: int, field: str, message: str) -> ValidationError:
    return ValidationError(
        {
            "checks": _("Check %(index)s, field “%(field)s”: %(message)s")
            % {"index": index + 1, "field": field, "message": message}
        }
    )


def _names(schema) -> set[str]:
    return {c["name"] if isinstance(c, dict) else str(c) for c in schema or []}


def checks_validate(checks: list, schema: list) -> None:
    """Raise ValidationError naming the first wrong check (counted from 1) and its field; columns
    must be in ``schema`` (names or {"name": ...}) when it is not empty."""
    if not isinstance(checks, list):
        raise ValidationError({"checks": _("Give a list of checks.")})
    known = _names(schema)
    for i, item in enumerate(checks):
        if not isinstance(item, dict):
            raise _error(i, "check", _("each check is an object"))
        kind = item.get("check")
        if kind not in CHECK_KINDS:
            raise _error(
                i, "check", _("use one of %(kinds)s") % {"kinds": ", ".join(sorted(CHECK_KINDS))}
            )
        required, optional = CHECK_KINDS[kind]
        for field in sorted(required):
            if field not in item:
                raise _error(i, field, _("this field is required"))
        for field in sorted(set(item) - required - optional - COMMON_FIELDS):
            raise _error(i, field, _("this check has no such field"))
        if "name" in item and (not isinstance(item["name"], str) or len(item["name"]) > 200):
            raise _error(i, "name", _("give a text of at most 200 characters"))
        if "weight" in item and (not _is_number(item["weight"]) or not 0 < item["weight"] <= 100):
            raise _error(i, "weight", _("give a number above 0 and at most 100"))
        columns = []
        if "column" in item:
            if not isinstance(item["column"], str) or not item["column"]:
                raise _error(i, "column", _("give a column name"))
            columns = [("column", item["column"])]
        if "columns" in item:
            value = item["columns"]
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(c, str) and c for c in value)
            ):
                raise _error(i, "columns", _("give a list of column names"))
            columns = [("columns", c) for c in value]
        for field, name in columns:
            if known and name not in known:
                raise _error(i, field, _("no column “%(name)s”") % {"name": name})
        if kind in ("between", "row_count"):
            if "min" not in item and "max" not in item:
                raise _error(i, "min", _("give min, max or both"))
            for field in ("min", "max"):
                if field in item and not (_is_number(item[field]) or isinstance(item[field], str)):
                    raise _error(i, field, _("give a number or a date"))
            if kind == "row_count":
                for field in ("min", "max"):
                    if field in item and not (isinstance(item[field], int) and item[field] >= 0):
                        raise _error(i, field, _("give a whole number, 0 or more"))
        if kind == "in_set" and (
            not isinstance(item["values"], list)
            or not item["values"]
            or not all(isinstance(v, str | int | float | bool) for v in item["values"])
        ):
            raise _error(i, "values", _("give a list of values"))
        if kind == "matches":
            if not isinstance(item["pattern"], str) or not item["pattern"]:
                raise _error(i, "pattern", _("give a regular expression"))
            try:
                re.compile(item["pattern"])
            except re.error as exc:
                raise _error(
                    i, "pattern", _("not a regular expression (%(error)s)") % {"error": exc}
                ) from None
        if kind == "max_null_share" and not (_is_number(item["value"]) and 0 <= item["value"] <= 1):
            raise _error(i, "value", _("give a share between 0 and 1"))


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _result(check, *, passed, score, message, weight=1, failed=0, total=0, **extra) -> dict:
    return {
        "check": check,
        "passed": bool(passed),
        "score": round(max(0.0, min(100.0, score)), 1),
        "weight": weight,
        "failed": int(failed),
        "total": int(total),
        "message": message,
        **{k: v for k, v in extra.items() if v not in (None, "")},
    }


def _share_result(check, failed, total, *, ok, bad, **extra) -> dict:
    score = 100.0 if not total else 100.0 * (1 - failed / total)
    return _result(
        check,
        passed=failed == 0,
        score=score,
        message=ok if failed == 0 else bad,
        failed=failed,
        total=total,
        **extra,
    )


class _File:
    """One Parquet copy of a tabular file, with its columns and DuckDB types."""

    def __init__(self, con, name: str, path: Path):
        self.con, self.name = con, name
        self.source = f"read_parquet({_lit(str(path))})"
        self.types = {
            r[0]: str(r[1])
            for r in con.execute(f"DESCRIBE SELECT * FROM {self.source}").fetchall()  # noqa: S608
        }
        self.rows = con.execute(f"SELECT count(*) FROM {self.source}").fetchone()[0]  # noqa: S608

    def one(self, expr: str, params=None):
        return self.con.execute(f"SELECT {expr} FROM {self.source}", params or []).fetchone()  # noqa: S608


def _bound(file: _File, column: str, value) -> tuple[str, str]:
    """The column expression and a literal to compare it with ``value`` (a number or a date)."""
    col, kind = _ident(column), file.types[column]
    if _is_number(value):
        expr = col if NUMERIC_TYPES.match(kind) else f"TRY_CAST({col} AS DOUBLE)"
        return expr, repr(float(value))
    if TEMPORAL_TYPES.match(kind):
        return col, f"TRY_CAST({_lit(value)} AS {kind})"
    return f"CAST({col} AS VARCHAR)", _lit(value)


def _run_check(file: _File, item: dict) -> dict:
    """One check (the publisher's format) on one file."""
    kind = item["check"]
    extra = {"file": file.name, "name": item.get("name", "")}
    if kind == "row_count":
        low, high = item.get("min"), item.get("max")
        passed = (low is None or file.rows >= low) and (high is None or file.rows <= high)
        return _result(
            kind,
            passed=passed,
            score=100 if passed else 0,
            message=gettext_noop("The number of rows is as expected.")
            if passed
            else gettext_noop("The number of rows is outside the expected range."),
            failed=0 if passed else 1,
            total=1,
            value=file.rows,
            **extra,
        )
    if kind == "unique":
        cols = ", ".join(_ident(c) for c in item["columns"])
        distinct = file.con.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM {file.source})"  # noqa: S608
        ).fetchone()[0]
        return _share_result(
            kind,
            file.rows - distinct,
            file.rows,
            ok=gettext_noop("No duplicate values."),
            bad=gettext_noop("Some rows repeat the same values."),
            columns=item["columns"],
            **extra,
        )
    column = item["column"]
    col = _ident(column)
    extra["column"] = column
    if kind == "not_null":
        (count,) = file.one(f"count({col})")
        return _share_result(
            kind,
            file.rows - count,
            file.rows,
            ok=gettext_noop("No value is missing."),
            bad=gettext_noop("Some values are missing."),
            **extra,
        )
    if kind == "max_null_share":
        (count,) = file.one(f"count({col})")
        share = (file.rows - count) / file.rows if file.rows else 0.0
        limit = float(item["value"])
        passed = share <= limit
        score = 100.0 if passed else 100.0 * (1 - share) / (1 - limit) if limit < 1 else 100.0
        return _result(
            kind,
            passed=passed,
            score=score,
            message=gettext_noop("Few enough values are missing.")
            if passed
            else gettext_noop("More values are missing than allowed."),
            failed=file.rows - count,
            total=file.rows,
            value=round(share, 4),
            **extra,
        )
    if kind == "between":
        conditions = []
        expr = col
        for field, op in (("min", "<"), ("max", ">")):
            if field in item:
                expr, bound = _bound(file, column, item[field])
                conditions.append(f"{expr} {op} {bound}")
        failed, total = file.one(
            f"count(*) FILTER (WHERE {' OR '.join(conditions)}), count({expr})"
        )
        return _share_result(
            kind,
            failed,
            total,
            ok=gettext_noop("Every value is in range."),
            bad=gettext_noop("Some values are out of range."),
            **extra,
        )
    if kind == "in_set":
        values = [
            ("true" if v else "false") if isinstance(v, bool) else str(v) for v in item["values"]
        ]
        failed, total = file.one(
            f"count(*) FILTER (WHERE NOT list_contains(?, CAST({col} AS VARCHAR))), count({col})",
            [values],
        )
        return _share_result(
            kind,
            failed,
            total,
            ok=gettext_noop("Every value is one of the allowed values."),
            bad=gettext_noop("Some values are not among the allowed values."),
            **extra,
        )
    if kind == "matches":
        failed, total = file.one(
            f"count(*) FILTER (WHERE NOT regexp_matches(CAST({col} AS VARCHAR), ?)), count({col})",
            [item["pattern"]],
        )
        return _share_result(
            kind,
            failed,
            total,
            ok=gettext_noop("Every value matches the pattern."),
            bad=gettext_noop("Some values do not match the pattern."),
            **extra,
        )
    raise ValueError(kind)


def _columns_of(item: dict) -> list[str]:
    if "columns" in item:
        return list(item["columns"])
    return [item["column"]] if "column" in item else []


def _file_checks(files: list[_File], dataset: Dataset) -> list[dict]:
    results = []
    for file in files:
        cells = file.rows * len(file.types)
        if cells:
            filled = sum(file.one(", ".join(f"count({_ident(c)})" for c in file.types)))
            share = filled / cells
            results.append(
                _result(
                    "completeness",
                    passed=share >= COMPLETE_SHARE,
                    score=100 * share,
                    message=gettext_noop("Nearly every cell is filled.")
                    if share >= COMPLETE_SHARE
                    else gettext_noop("Many cells are empty."),
                    weight=WEIGHTS["completeness"],
                    failed=cells - filled,
                    total=cells,
                    file=file.name,
                )
            )
    declared = _declared_checks(dataset)
    if dataset.key_columns:
        declared.append({"check": "key", "columns": list(dataset.key_columns)})
    own = [dict(c, source="publisher") for c in dataset.checks or []]
    for item in declared + own:
        columns = _columns_of(item)
        having = [f for f in files if all(c in f.types for c in columns)]
        source = item.pop("source", "declared")
        weight = item.get("weight", WEIGHTS["key"] if item["check"] == "key" else 1)
        if not having:
            missing = [c for c in columns if not any(c in f.types for f in files)]
            results.append(
                _result(
                    item["check"],
                    passed=False,
                    score=0,
                    message=gettext_noop("The column is missing from the data."),
                    weight=weight,
                    column=", ".join(missing or columns),
                    name=item.get("name", ""),
                    source=source,
                )
            )
            continue
        for file in having:
            kind = item["check"]
            if kind == "present":
                continue  # present in at least this file: nothing to say
            if kind == "key":
                result = _run_check(file, {"check": "unique", "columns": item["columns"]})
                result.update(
                    check="key",
                    message=gettext_noop("The key columns identify every row.")
                    if result["passed"]
                    else gettext_noop("The key columns repeat: some rows share a key."),
                )
            elif kind == "type":
                col = _ident(item["column"])
                target = DECLARED_TYPES[item["type"]]
                if file.types[item["column"]] == target or target == "VARCHAR":
                    failed, total = (
                        0,
                        file.rows - file.one(f"count(*) FILTER (WHERE {col} IS NULL)")[0],
                    )
                else:
                    failed, total = file.one(
                        f"count({col}) - count(TRY_CAST({col} AS {target})), count({col})"
                    )
                result = _share_result(
                    "type",
                    failed,
                    total,
                    ok=gettext_noop("Every value has the declared type."),
                    bad=gettext_noop("Some values do not have the declared type."),
                    file=file.name,
                    column=item["column"],
                    expected=item["type"],
                )
            else:
                result = _run_check(file, item)
            result["weight"] = weight
            result["source"] = source
            results.append(result)
    return results


def _freshness(version: DatasetVersion) -> dict | None:
    dataset = version.dataset
    days = FREQUENCY_DAYS.get(dataset.frequency or "")
    if not days:
        return None
    newest = version.created_at.date() if version.created_at else timezone.now().date()
    if dataset.temporal_end and dataset.temporal_end > newest:
        newest = dataset.temporal_end
    age = (timezone.now().date() - newest).days
    passed = age <= days
    return _result(
        "freshness",
        passed=passed,
        score=100 if passed else 100 * days / max(age, 1),
        message=gettext_noop("The data is as recent as its update frequency promises.")
        if passed
        else gettext_noop("The data is older than its update frequency promises."),
        weight=WEIGHTS["freshness"],
        failed=0 if passed else 1,
        total=1,
        value=age,
        limit=days,
    )


def quality_score(results: list[dict]) -> int | None:
    """The weighted mean of the results' scores, and each result's share of the deduction."""
    total = sum(r["weight"] for r in results)
    if not total:
        return None
    for r in results:
        r["deduction"] = round((100 - r["score"]) * r["weight"] / total, 1)
    return round(sum(r["score"] * r["weight"] for r in results) / total)


def version_check_quality(version: DatasetVersion) -> tuple[int | None, list[dict]]:
    """Run every check on the version's profiled files and store the data quality score and its
    reasons on the version; called after profiling and when the publisher changes the checks."""
    from ... import readers
    from ...storage import get_storage

    version.refresh_from_db()
    dataset = Dataset.objects.get(pk=version.dataset_id)
    version.dataset = dataset
    storage = get_storage()
    dists = [
        d
        for d in version.distributions.order_by("name")
        if d.is_tabular and d.profile_status == ProfileStatus.DONE and d.parquet_key
    ]
    results: list[dict] = []
    con = readers.connect()
    try:
        with _local_paths(storage, [d.parquet_key for d in dists]) as paths:
            files = [_File(con, d.name, p) for d, p in zip(dists, paths, strict=True)]
            if files:
                results = _file_checks(files, dataset)
    finally:
        con.close()
    fresh = _freshness(version)
    if fresh:
        results.append(fresh)
    for r in results:
        r["label"] = CHECK_LABELS.get(r["check"], r["check"])
    score = quality_score(results)
    version.quality_score = score
    version.quality_results = results
    version.quality_checked_at = timezone.now()
    version.save(
        update_fields=["quality_score", "quality_results", "quality_checked_at", "updated_at"]
    )
    return score, results


class _local_paths:
    """Local paths of several stored objects at once."""

    def __init__(self, storage, keys):
        self.storage, self.keys, self.managers = storage, keys, []

    def __enter__(self):
        paths = []
        for key in self.keys:
            manager = self.storage.local_path(key)
            paths.append(manager.__enter__())
            self.managers.append(manager)
        return paths

    def __exit__(self, *exc):
        for manager in reversed(self.managers):
            manager.__exit__(*exc)
        return False


def dataset_checks_set(
    *, actor, dataset: Dataset, declared_schema: list, key_columns: list, checks: list
) -> Dataset:
    """Set what the publisher declares of the data and the own checks, then check the newest
    version again so the score follows at once."""
    require_actor(actor, "dataset.edit", dataset)
    declared_schema_validate(declared_schema)
    if not isinstance(key_columns, list) or not all(isinstance(c, str) and c for c in key_columns):
        raise ValidationError({"key_columns": _("Give a list of column names.")})
    newest = dataset.newest_ready_version()
    known = _names(declared_schema)
    if newest is not None:
        for dist in newest.distributions.all():
            known |= _names(dist.schema)
    unknown = [c for c in key_columns if known and c not in known]
    if unknown:
        raise ValidationError({"key_columns": _("No column “%(name)s”.") % {"name": unknown[0]}})
    checks_validate(checks, sorted(known))
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        changes = {}
        for field, value in (
            ("declared_schema", declared_schema),
            ("key_columns", key_columns),
            ("checks", checks),
        ):
            if getattr(dataset, field) != value:
                changes[field] = [getattr(dataset, field), value]
                setattr(dataset, field, value)
        if changes:
            dataset.save(update_fields=["declared_schema", "key_columns", "checks", "updated_at"])
            audit_record(
                actor=actor,
                action="dataset.checks_set",
                obj=dataset,
                organisation_id=dataset.publisher_id,
                changes=changes,
            )
    # Checked again even without changes: saving is also how a publisher asks for a new check.
    if newest is not None:
        version_check_quality(newest)
    return dataset
