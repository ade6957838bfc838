"""The catalogue's exchange format: a JSON array of records with exactly the keys below.

The JSON Schema of a record is ``offerings.schema.json`` beside this file; ``record_clean`` is
the check that the import runs, and the tests hold the two in agreement.
"""

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import Offering
from .validation import FIELDS, clean_offering

# Record key -> model field. All of these must be present.
REQUIRED_KEYS = {
    "id": "external_id",
    "type": "type",
    "title": "title",
    "description": "description",
    "sectors": "sectors",
    "tags": "tags",
    "languages": "languages",
    "stage": "stages",
    "provider": "provider_name",
    "url": "url",
}
OPTIONAL_KEYS = {
    "price": "price",
    "deployment": "deployment",
    "ai_act_risk": "ai_act_risk",
    "for_kinds": "for_kinds",
    "for_sizes": "for_sizes",
}
KEYS = {**REQUIRED_KEYS, **OPTIONAL_KEYS}
RECORD_KEY = {model_field: key for key, model_field in KEYS.items()}
# The model fields a record sets; an import leaves the others of an existing offering alone.
IMPORTED_FIELDS = tuple(KEYS.values())


@dataclass
class RecordError:
    index: int | None
    id: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = "file" if self.index is None else f"record {self.index}"
        if self.id:
            where += f" ({self.id})"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ImportRejected(ValidationError):
    """An import with at least one bad record; nothing was written."""

    def __init__(self, errors: list[RecordError]):
        self.errors = errors
        by_key: dict[str, list[str]] = {}
        for error in errors:
            key = ".".join(str(p) for p in (error.index, error.field) if p not in (None, ""))
            by_key.setdefault(key or "__all__", []).append(error.message)
        super().__init__(by_key)


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def record_clean(index: int, record: Any) -> tuple[dict[str, Any] | None, list[RecordError]]:
    """The model fields of one record, or its errors named by record key."""
    if not isinstance(record, dict):
        return None, [RecordError(index, None, "", _("Each record is a JSON object."))]
    raw_id = record.get("id")
    record_id = raw_id if isinstance(raw_id, str) else None
    errors = [
        RecordError(index, record_id, str(key), _("Unknown key."))
        for key in record
        if key not in KEYS
    ]
    data = {}
    for key, model_field in KEYS.items():
        if key not in record or record[key] is None:
            if key in REQUIRED_KEYS:
                errors.append(RecordError(index, record_id, key, _("This field is required.")))
            else:
                data[model_field] = FIELDS[model_field]
            continue
        data[model_field] = record[key]
    try:
        cleaned = clean_offering(data)
    except ValidationError as exc:
        for model_field, messages in exc.message_dict.items():
            for message in messages:
                errors.append(RecordError(index, record_id, RECORD_KEY[model_field], message))
        cleaned = None
    return (None if errors else cleaned), errors


def records_clean(records: Any) -> list[dict[str, Any]]:
    """Check every record; raise ImportRejected listing every mistake, or return the fields."""
    if not isinstance(records, list):
        raise ImportRejected([RecordError(None, None, "", _("Give a JSON array of offerings."))])
    errors: list[RecordError] = []
    cleaned_records = []
    first_seen: dict[str, int] = {}
    for index, record in enumerate(records):
        cleaned, record_errors = record_clean(index, record)
        errors.extend(record_errors)
        record_id = record.get("id") if isinstance(record, dict) else None
        if isinstance(record_id, str):
            if record_id in first_seen:
                errors.append(
                    RecordError(
                        index,
                        record_id,
                        "id",
                        _("This id appears more than once in the file (first in record %(first)d).")
                        % {"first": first_seen[record_id]},
                    )
                )
            else:
                first_seen[record_id] = index
        if cleaned is not None:
            cleaned_records.append(cleaned)
    if errors:
        raise ImportRejected(errors)
    return cleaned_records


def offering_record(offering: Offering) -> dict[str, Any]:
    return {key: getattr(offering, model_field) for key, model_field in KEYS.items()}
