"""API shapes of projects, allocations, tranches and change requests. Inputs reject unknown
keys, so a typo is an error."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class PersonOut(Schema):
    id: UUID
    email: str
    name: str

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.get_full_name() or obj.email


class MemberOut(Schema):
    user: PersonOut
    role: str


class TrancheOut(Schema):
    index: int
    start: date
    end: date
    amounts: dict[str, Any]


class AllocationOut(Schema):
    id: UUID
    resources: dict[str, Any]
    start: date
    end: date
    tranche_policy: str
    cluster: str
    partition: str
    slurm_account: str
    status: str
    external_id: str
    pool: str | None
    tranches: list[TrancheOut]
    current_tranche: int | None
    available: dict[str, Any]

    @staticmethod
    def resolve_pool(obj) -> str | None:
        return obj.pool.code if obj.pool_id else None

    @staticmethod
    def resolve_tranches(obj):
        return list(obj.tranches.all())

    @staticmethod
    def resolve_current_tranche(obj) -> int | None:
        return obj.current.index if obj.current else None


class ChangeRequestOut(Schema):
    id: UUID
    kind: str
    status: str
    details: dict[str, Any]
    reason: str
    allocation_id: UUID | None
    requested_by: PersonOut | None
    decided_by: PersonOut | None
    decided_at: datetime | None
    decision_note: str
    created_at: datetime


class ProjectOut(Schema):
    id: UUID
    code: str
    title: str
    status: str
    organisation_id: UUID
    organisation: str
    application_id: UUID | None
    external_source: str
    external_id: str
    created_at: datetime

    @staticmethod
    def resolve_organisation(obj) -> str:
        return obj.organisation.legal_name


class ProjectDetailOut(ProjectOut):
    members: list[MemberOut]
    allocations: list[AllocationOut]
    change_requests: list[ChangeRequestOut]

    @staticmethod
    def resolve_members(obj):
        return list(obj.members.select_related("user"))

    @staticmethod
    def resolve_change_requests(obj):
        return list(obj.change_requests.select_related("requested_by", "decided_by"))

    @staticmethod
    def resolve_allocations(obj):
        return obj.allocation_rows


class MemberIn(Strict):
    email: str
    role: str = "member"


class RoleIn(Strict):
    role: str


class ChangeRequestIn(Strict):
    kind: str
    details: dict[str, Any] = {}
    reason: str
    allocation: UUID | None = None


class ApproveIn(Strict):
    note: str = ""


class RefuseIn(Strict):
    reason: str


class ImportOut(Schema):
    created: bool
    project: ProjectDetailOut
