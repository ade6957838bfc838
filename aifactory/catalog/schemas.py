from datetime import datetime
from uuid import UUID

from ninja import Field, Schema
from pydantic import ConfigDict

from aifactory.core.permissions import allowed

Text = dict[str, str] | str


class Strict(Schema):
    """Input schemas reject unknown keys so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class OfferingOut(Schema):
    id: UUID
    external_id: str
    type: str
    title: dict[str, str]
    description: dict[str, str]
    sectors: list[str]
    tags: list[str]
    languages: list[str]
    stages: list[str]
    provider_name: str
    provider_organisation_id: UUID | None
    url: str
    price: str
    deployment: list[str]
    ai_act_risk: str
    ai_act_note: str
    for_kinds: list[str]
    for_sizes: list[str]
    eligible_countries: list[str]
    status: str
    # The moderators' note, only for those who may edit the listing.
    review_note: str | None = None
    reviewed_at: datetime | None = None
    is_demo: bool
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_review_note(obj, context) -> str | None:
        return obj.review_note if _editor(obj, context) else None

    @staticmethod
    def resolve_reviewed_at(obj, context) -> datetime | None:
        return obj.reviewed_at if _editor(obj, context) else None


def _editor(obj, context) -> bool:
    request = (context or {}).get("request")
    return request is not None and allowed(request.user, "offering.edit", obj)


class OfferingIn(Strict):
    external_id: str = ""
    type: str
    title: Text
    description: Text
    sectors: list[str] = []
    tags: list[str] = []
    languages: list[str] = []
    stages: list[str] | str
    provider_name: str = ""
    provider_organisation_id: UUID | None = None
    url: str = ""
    price: str = ""
    deployment: list[str] = []
    ai_act_risk: str = ""
    ai_act_note: str = ""
    for_kinds: list[str] = []
    for_sizes: list[str] = []
    eligible_countries: list[str] = []


class OfferingPatch(Strict):
    """Only the fields sent change; null is refused rather than read as "leave alone"."""

    type: str = None
    title: Text = None
    description: Text = None
    sectors: list[str] = None
    tags: list[str] = None
    languages: list[str] = None
    stages: list[str] | str = None
    provider_name: str = None
    provider_organisation_id: UUID | None = None
    url: str = None
    price: str = None
    deployment: list[str] = None
    ai_act_risk: str = None
    ai_act_note: str = None
    for_kinds: list[str] = None
    for_sizes: list[str] = None
    eligible_countries: list[str] = None


class ReasonIn(Strict):
    reason: str


class ImportOut(Schema):
    created: list[str]
    updated: list[str]
    unchanged: list[str]


class MatchIn(Schema):
    text: str
    sector: str = ""
    organisation: UUID | None = None
    # A profile without an organisation on the hub (or to try another one): these win over it.
    kind: str = ""
    size: str = ""
    country: str = ""
    limit: int = Field(10, ge=1, le=100)
    facets: dict[str, list[str]] = Field(default_factory=dict)


class MatchResultOut(Schema):
    id: str
    type: str
    title: str
    score: float
    reasons: list[str]
    eligible: bool
    group: str


class MatchGroupOut(Schema):
    key: str
    label: str
    ids: list[str]


class MatchProfileOut(Schema):
    sector: str
    kind: str
    size: str
    country: str


class MatchOut(Schema):
    text: str
    language: str
    profile: MatchProfileOut
    notices: list[str]
    results: list[MatchResultOut]
    groups: list[MatchGroupOut]
