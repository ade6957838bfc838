"""API shapes of the applications (in and out)."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict


class Strict(Schema):
    """Input schemas reject unknown keys so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class ApplicationPatch(Strict):
    """Any field of the form; only those sent are changed (save as you go)."""

    title: str | None = None
    abstract: str | None = None
    objectives: str | None = None
    sector: str | None = None
    ai_act_risk: str | None = None
    ai_act_reasons: str | None = None
    model_type: str | None = None
    model_size: str | None = None
    datasets: str | None = None
    personal_data: bool | None = None
    legal_basis: str | None = None
    requested: dict[str, Any] | None = None
    duration_months: int | None = None
    start_date: date | None = None
    system: str | None = None
    justification: str | None = None
    ethics_note: str | None = None


class ApplicationIn(ApplicationPatch):
    call: str  # the call's code or id
    organisation: UUID


class ReasonIn(Strict):
    reason: str = ""


class EligibilityIn(Strict):
    eligible: bool
    reason: str = ""


class RevisionIn(Strict):
    note: str


class MemberOut(Schema):
    id: UUID
    name: str
    email: str
    role: str
    user_id: UUID | None


class MemberIn(Strict):
    email: str
    name: str = ""
    role: str = "member"


class AttachmentOut(Schema):
    id: UUID
    name: str
    size: int
    sha256: str
    created_at: datetime


class EventOut(Schema):
    from_status: str
    to_status: str
    note: str
    created_at: datetime


class ClockOut(Schema):
    started_at: datetime | None
    due_at: datetime | None
    target_days: int
    elapsed_days: float
    paused_days: float
    running: bool
    state: str


class ApplicationOut(Schema):
    id: UUID
    reference: str
    call: str
    mode: str
    organisation_id: UUID
    status: str
    outcome: str
    title: str
    abstract: str
    objectives: str
    sector: str
    ai_act_risk: str
    ai_act_reasons: str
    model_type: str
    model_size: str
    datasets: str
    personal_data: bool
    legal_basis: str
    requested: dict[str, Any]
    duration_months: int | None
    start_date: date | None
    system: str
    justification: str
    ethics_note: str
    eligibility: dict[str, Any]
    submitted_at: datetime | None
    cutoff: date | None
    clock_started_at: datetime | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    clock: ClockOut
    members: list[MemberOut]
    attachments: list[AttachmentOut]
    events: list[EventOut]

    @staticmethod
    def resolve_call(obj) -> str:
        return obj.call.code

    @staticmethod
    def resolve_mode(obj) -> str:
        return obj.call.mode.code

    @staticmethod
    def resolve_clock(obj) -> dict:
        from .applications_selectors import application_clock

        return application_clock(obj).__dict__

    @staticmethod
    def resolve_members(obj) -> list:
        return list(obj.members.all())

    @staticmethod
    def resolve_attachments(obj) -> list:
        return list(obj.attachments.all())

    @staticmethod
    def resolve_events(obj) -> list:
        return list(obj.events.all())
