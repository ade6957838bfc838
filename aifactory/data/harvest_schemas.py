"""API shapes of harvest sources and runs. Inputs reject unknown keys, so a typo is an error."""

from datetime import datetime
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class SourceIn(Strict):
    name: str
    url: str
    publisher: UUID
    title: str = ""
    interval_hours: int = 24
    is_active: bool = True


class SourcePatch(Strict):
    title: str | None = None
    url: str | None = None
    publisher: UUID | None = None
    interval_hours: int | None = None
    is_active: bool | None = None


class SourceOut(Schema):
    id: UUID
    name: str
    title: str
    url: str
    has_file: bool
    publisher: UUID
    publisher_name: str
    interval_hours: int
    is_active: bool
    last_run_at: datetime | None
    last_status: str
    last_error: str
    last_counts: dict[str, Any]
    datasets: int

    @staticmethod
    def resolve_has_file(obj) -> bool:
        return bool(obj.file_key)

    @staticmethod
    def resolve_publisher(obj) -> UUID:
        return obj.publisher_id

    @staticmethod
    def resolve_publisher_name(obj) -> str:
        return obj.publisher.legal_name

    @staticmethod
    def resolve_datasets(obj) -> int:
        count = getattr(obj, "dataset_count", None)
        return count if count is not None else obj.datasets.filter(gone_at__isnull=True).count()


class RunOut(Schema):
    id: UUID
    started_at: datetime
    finished_at: datetime | None
    status: str
    created: int
    updated: int
    unchanged: int
    gone: int
    errors: list[dict[str, Any]]

    @staticmethod
    def resolve_started_at(obj) -> datetime:
        return obj.created_at


class RunQueued(Schema):
    source: str
    queued: bool
