from datetime import datetime
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field


class Strict(Schema):
    """Input schemas reject unknown keys so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class MeOut(Schema):
    id: UUID
    email: str
    first_name: str
    last_name: str
    email_verified: bool
    staff_role: str
    preferred_language: str
    organisations: list["MembershipBrief"]


class MembershipBrief(Schema):
    organisation_id: UUID
    organisation: str
    role: str


class MeUpdate(Strict):
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    preferred_language: str | None = None


class OrganisationIn(Strict):
    legal_name: str
    country: str
    kind: str
    registration_number: str = ""
    vat_number: str = ""
    sectors: list[str] = []
    staff_headcount: int | None = None
    annual_turnover_eur: int | None = None
    balance_sheet_eur: int | None = None
    website: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""


class OrganisationPatch(Strict):
    legal_name: str | None = None
    country: str | None = None
    kind: str | None = None
    registration_number: str | None = None
    vat_number: str | None = None
    sectors: list[str] | None = None
    staff_headcount: int | None = None
    annual_turnover_eur: int | None = None
    balance_sheet_eur: int | None = None
    website: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None


class OrganisationOut(Schema):
    id: UUID
    legal_name: str
    country: str
    registration_number: str
    vat_number: str
    kind: str
    sectors: list[str]
    staff_headcount: int | None
    annual_turnover_eur: int | None
    balance_sheet_eur: int | None
    size_class: str
    website: str
    street: str
    postcode: str
    city: str
    is_demo: bool
    my_role: str | None = None
    created_at: datetime

    @staticmethod
    def resolve_country(obj) -> str:
        return str(obj.country.code if hasattr(obj.country, "code") else obj.country)


class MemberOut(Schema):
    id: UUID
    user_id: UUID
    email: str
    name: str
    role: str
    created_at: datetime

    @staticmethod
    def resolve_email(obj) -> str:
        return obj.user.email

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.user.get_full_name()


class RoleIn(Strict):
    role: str


class InvitationIn(Strict):
    email: str = Field(max_length=254)
    role: str = "member"


class InvitationOut(Schema):
    id: UUID
    organisation_id: UUID
    email: str
    role: str
    status: str
    expires_at: datetime
    created_at: datetime

    @staticmethod
    def resolve_status(obj) -> str:
        return obj.display_status


class InvitationCreated(InvitationOut):
    token: str


class InvitationAccept(Strict):
    token: str = Field(max_length=200)


class TokenIn(Strict):
    name: str = Field(max_length=100)
    expires_in_days: int = 90


class TokenOut(Schema):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool

    @staticmethod
    def resolve_active(obj) -> bool:
        return obj.is_active


class TokenCreated(TokenOut):
    token: str
