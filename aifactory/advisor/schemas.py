"""API shapes of the support cases. Inputs reject unknown keys, so a typo is an error."""

from datetime import datetime
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict

from .models import CaseStatus, EntryKind
from .notifications import describe
from .selectors import is_overdue


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class PersonOut(Schema):
    id: UUID
    name: str
    email: str

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.display_name


class OfferingRef(Schema):
    id: UUID
    external_id: str
    type: str
    title: str

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.display_title


class CaseOut(Schema):
    id: UUID
    reference: str
    organisation_id: UUID
    organisation: str
    subject: str
    language: str
    sector: str
    stage: str
    status: str
    close_reason: str
    assigned_to: PersonOut | None
    opened_by: PersonOut | None
    first_response_due: datetime
    first_response_at: datetime | None
    overdue: bool
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_organisation(obj) -> str:
        return obj.organisation.legal_name

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return is_overdue(obj)


class EntryOut(Schema):
    id: UUID
    kind: str
    visibility: str
    author: PersonOut | None
    body: str
    # For events: what happened, in the request's language, and the data behind it.
    summary: str
    data: dict[str, Any]
    created_at: datetime

    @staticmethod
    def resolve_summary(obj) -> str:
        return describe(obj) if obj.kind == EntryKind.EVENT else ""


class CaseDetailOut(CaseOut):
    need: str
    matchmaking: dict[str, Any]
    offerings: list[OfferingRef]
    entries: list[EntryOut]

    @staticmethod
    def resolve_offerings(obj) -> list:
        return list(obj.offerings.order_by("external_id"))

    @staticmethod
    def resolve_entries(obj) -> list:
        # Set by the handler from selectors.case_entries, which leaves out what the reader may
        # not see; without it this fails rather than show every entry.
        return obj.visible_entries


class CaseIn(Strict):
    organisation: UUID
    need: str
    subject: str = ""
    sector: str = ""


class MessageIn(Strict):
    body: str
    await_customer: bool = False


class NoteIn(Strict):
    body: str
    visibility: str = "internal"


class AssignIn(Strict):
    """The advisor's id or e-mail address; null takes the case back."""

    assignee: str | None


class TriageIn(Strict):
    stage: str | None = None
    sector: str | None = None


class StatusIn(Strict):
    status: str
    reason: str = ""


class LinkIn(Strict):
    """The offering's id or external id."""

    offering: str


STATUSES = CaseStatus.values
