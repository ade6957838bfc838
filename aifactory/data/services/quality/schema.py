"""The columns a publisher declares (the declared schema), and the checks they imply."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ...models import Dataset

# Declared column types (as in Frictionless Table Schema) and the DuckDB type a value must cast to.
DECLARED_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
SCHEMA_FIELDS = {"name", "type", "required", "min", "max", "allowed", "pattern", "description"}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def declared_schema_validate(schema: list) -> None:
    """Raise ValidationError (field ``declared_schema``) naming the first wrong column."""

    def error(index, field, message):
        return ValidationError(
            {
                "declared_schema": _("Column %(index)s, field “%(field)s”: %(message)s")
                % {"index": index + 1, "field": field, "message": message}
            }
        )

    if not isinstance(schema, list):
        raise ValidationError({"declared_schema": _("Give a list of columns.")})
    seen = set()
    for i, col in enumerate(schema):
        if not isinstance(col, dict) or not isinstance(col.get("name"), str) or not col["name"]:
            raise error(i, "name", _("give a column name"))
        if col["name"] in seen:
            raise error(i, "name", _("this column is declared twice"))
        seen.add(col["name"])
        for field in sorted(set(col) - SCHEMA_FIELDS):
            raise error(i, field, _("a column has no such field"))
        if "type" in col and col["type"] not in DECLARED_TYPES:
            raise error(i, "type", _("use one of %(types)s") % {"types": ", ".join(DECLARED_TYPES)})
        if "required" in col and not isinstance(col["required"], bool):
            raise error(i, "required", _("give true or false"))
        for field in ("min", "max"):
            if field in col and not (_is_number(col[field]) or isinstance(col[field], str)):
                raise error(i, field, _("give a number or a date"))
        if "allowed" in col and (not isinstance(col["allowed"], list) or not col["allowed"]):
            raise error(i, "allowed", _("give a list of values"))
        if "pattern" in col:
            try:
                re.compile(str(col["pattern"]))
            except re.error as exc:
                raise error(
                    i, "pattern", _("not a regular expression (%(error)s)") % {"error": exc}
                ) from None


def _declared_checks(dataset: Dataset) -> list[dict]:
    """The declared schema and key columns as checks, plus type checks (kind "type")."""
    items = []
    for col in dataset.declared_schema or []:
        name = col["name"]
        items.append({"check": "present", "column": name})
        if col.get("type") in DECLARED_TYPES:
            items.append({"check": "type", "column": name, "type": col["type"]})
        if col.get("required"):
            items.append({"check": "not_null", "column": name})
        bounds = {k: col[k] for k in ("min", "max") if k in col}
        if bounds:
            items.append({"check": "between", "column": name, **bounds})
        if col.get("allowed"):
            items.append({"check": "in_set", "column": name, "values": col["allowed"]})
        if col.get("pattern"):
            items.append({"check": "matches", "column": name, "pattern": col["pattern"]})
    return items
