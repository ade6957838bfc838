"""API shapes of datasets, versions, distributions and resumable uploads. Inputs reject unknown
keys, so a typo is an error."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict

from aifactory.core.permissions import allowed


def _member(context, dataset) -> bool:
    """Whether the caller may edit the dataset: only the publisher's members see the addresses
    files were fetched from (a URL may carry a token that fetches the original)."""
    request = (context or {}).get("request")
    return request is not None and allowed(request.user, "dataset.edit", dataset)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class PublisherOut(Schema):
    id: UUID
    name: str

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.legal_name


class DatasetOut(Schema):
    id: UUID
    slug: str
    identifier: str
    title: dict[str, str]
    description: dict[str, str]
    keywords: list[str]
    themes: list[str]
    publisher: PublisherOut
    contact_name: str
    contact_email: str
    spatial: str
    temporal_start: date | None
    temporal_end: date | None
    frequency: str
    licence: str
    access_rights: str
    conformance: list[str]
    provenance: str
    personal_data: bool
    landing_page: str
    use_conditions: str
    status: str
    declared_schema: list[dict[str, Any]]
    key_columns: list[str]
    checks: list[dict[str, Any]]
    metadata_score: int | None
    metadata_reasons: list[dict[str, Any]]
    issued_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Harvested datasets: where they came from, and when the source stopped listing them.
    source: str | None = None
    gone_at: datetime | None = None

    @staticmethod
    def resolve_source(obj) -> str | None:
        return obj.source.name if obj.source_id else None


class DatasetIn(Strict):
    """A new dataset: ``organisation`` is the publisher's id."""

    organisation: UUID
    slug: str = ""
    title: dict[str, str]
    description: dict[str, str] = {}
    keywords: list[str] = []
    themes: list[str] = []
    contact_name: str = ""
    contact_email: str = ""
    spatial: str = ""
    temporal_start: date | None = None
    temporal_end: date | None = None
    frequency: str = ""
    licence: str = ""
    access_rights: str = "internal"
    conformance: list[str] = []
    provenance: str = ""
    personal_data: bool = False
    landing_page: str = ""
    use_conditions: str = ""
    declared_schema: list[dict[str, Any]] = []
    key_columns: list[str] = []
    checks: list[dict[str, Any]] = []


class DatasetPatch(Strict):
    """Only the fields sent are changed."""

    title: dict[str, str] | None = None
    description: dict[str, str] | None = None
    keywords: list[str] | None = None
    themes: list[str] | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    spatial: str | None = None
    temporal_start: date | None = None
    temporal_end: date | None = None
    frequency: str | None = None
    licence: str | None = None
    access_rights: str | None = None
    conformance: list[str] | None = None
    provenance: str | None = None
    personal_data: bool | None = None
    landing_page: str | None = None
    use_conditions: str | None = None
    declared_schema: list[dict[str, Any]] | None = None
    key_columns: list[str] | None = None
    checks: list[dict[str, Any]] | None = None


class DistributionOut(Schema):
    id: UUID
    name: str
    media_type: str
    format: str
    size: int
    sha256: str
    source_url: str
    # The table's columns and types (the distribution's schema), for tabular files once profiled.
    columns: list[dict[str, Any]]
    row_count: int | None
    dialect: dict[str, Any]
    profile_status: str
    profile_error: str
    warnings: list[dict[str, Any]]

    @staticmethod
    def resolve_columns(obj) -> list:
        return obj.schema

    @staticmethod
    def resolve_source_url(obj, context) -> str:
        return obj.source_url if _member(context, obj.version.dataset) else ""


class VersionOut(Schema):
    id: UUID
    number: int
    status: str
    note: str
    created_at: datetime
    error: str
    references: list[dict[str, Any]]
    quality_score: int | None
    quality_results: list[dict[str, Any]]
    quality_checked_at: datetime | None
    distributions: list[DistributionOut]

    @staticmethod
    def resolve_distributions(obj):
        return list(obj.distributions.all())

    @staticmethod
    def resolve_references(obj, context) -> list:
        if not _member(context, obj.dataset):
            return []
        # A fetch records each file's storage key as it goes (for the sweeper): never shown.
        return [{k: v for k, v in ref.items() if k != "key"} for ref in obj.references]


class VersionJsonIn(Strict):
    """A version from completed resumable uploads, or from URLs fetched in the background."""

    uploads: list[UUID] = []
    references: list[str] = []
    note: str = ""


class UploadIn(Strict):
    name: str
    size: int
    sha256: str = ""


class UploadOut(Schema):
    id: UUID
    name: str
    size: int
    sha256: str
    offset: int
    status: str
    expires_at: datetime

    @staticmethod
    def resolve_offset(obj) -> int:
        return obj.received
