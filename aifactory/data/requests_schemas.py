"""API shapes of access requests, grants, the access log and queries. Inputs reject unknown keys,
so a typo is an error."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class RequestIn(Strict):
    organisation: UUID
    project: str
    purpose: str
    duration_days: int
    legal_basis: str = ""
    accept_conditions: bool = False


class ApproveIn(Strict):
    conditions: str = ""
    expires_at: date | datetime | None = None


class ReasonIn(Strict):
    reason: str


class QueryIn(Strict):
    sql: str
    max_rows: int | None = Field(default=None, ge=1)


class GrantOut(Schema):
    id: UUID
    dataset: str
    organisation: UUID
    organisation_name: str
    request: UUID | None
    conditions: str
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str
    live: bool
    created_at: datetime

    @staticmethod
    def resolve_dataset(obj) -> str:
        return obj.dataset.slug

    @staticmethod
    def resolve_organisation(obj):
        return obj.organisation_id

    @staticmethod
    def resolve_organisation_name(obj) -> str:
        return obj.organisation.legal_name

    @staticmethod
    def resolve_request(obj):
        return obj.request_id

    @staticmethod
    def resolve_live(obj) -> bool:
        return obj.is_live


class RequestOut(Schema):
    id: UUID
    dataset: str
    dataset_id: UUID
    requester: str
    organisation: UUID
    organisation_name: str
    project: str
    purpose: str
    duration_days: int
    legal_basis: str
    conditions_accepted: str
    status: str
    reason: str
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    grant: GrantOut | None

    @staticmethod
    def resolve_dataset(obj) -> str:
        return obj.dataset.slug

    @staticmethod
    def resolve_requester(obj) -> str:
        return obj.requester.email

    @staticmethod
    def resolve_organisation(obj):
        return obj.organisation_id

    @staticmethod
    def resolve_organisation_name(obj) -> str:
        return obj.organisation.legal_name

    @staticmethod
    def resolve_decided_by(obj):
        return obj.decided_by.email if obj.decided_by_id else None

    @staticmethod
    def resolve_grant(obj):
        return getattr(obj, "grant", None) if obj.status == "approved" else None


class LogEntryOut(Schema):
    id: int
    created_at: datetime
    action: str
    user: str
    organisation: UUID | None
    organisation_name: str | None
    grant: UUID | None
    version: int | None
    detail: str

    @staticmethod
    def resolve_user(obj) -> str:
        return obj.user.email if obj.user_id else obj.user_repr

    @staticmethod
    def resolve_organisation(obj):
        return obj.organisation_id

    @staticmethod
    def resolve_organisation_name(obj):
        return obj.organisation.legal_name if obj.organisation_id else None

    @staticmethod
    def resolve_grant(obj):
        return obj.grant_id

    @staticmethod
    def resolve_version(obj):
        return obj.version.number if obj.version_id else None


class PreviewOut(Schema):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int | None
    message: str


class QueryOut(Schema):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    # Why the result was cut, when it was cut for its size rather than its rows.
    message: str = ""
    tables: list[str]
    seconds: float
