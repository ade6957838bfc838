"""API shapes of access modes, calls and capacity pools."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict


class Strict(Schema):
    """Input schemas reject unknown keys so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class ModeOut(Schema):
    id: UUID
    code: str
    name: dict[str, str]
    description: dict[str, str]
    pool: str
    limits: dict[str, dict[str, float | int]]
    durations_months: list[int]
    has_cutoffs: bool
    first_come: bool
    reviews: list[str]
    for_kinds: list[str]
    for_sizes: list[str]
    eligible_countries: list[str]
    decision_days: int
    clock_starts: str
    tranche_policy: str
    is_active: bool
    is_demo: bool

    @staticmethod
    def resolve_pool(obj) -> str:
        return obj.pool.code


# Inputs take plain JSON values and leave the checking to the services, which name the field.
class ModeIn(Strict):
    code: Any = None
    name: Any = None
    description: Any = None
    pool: Any = None
    limits: Any = None
    durations_months: Any = None
    has_cutoffs: Any = None
    first_come: Any = None
    reviews: Any = None
    for_kinds: Any = None
    for_sizes: Any = None
    eligible_countries: Any = None
    decision_days: Any = None
    clock_starts: Any = None
    tranche_policy: Any = None
    is_active: Any = None


class CallOut(Schema):
    id: UUID
    code: str
    mode: str
    title: dict[str, str]
    description: dict[str, str]
    status: str
    opens_at: datetime
    closes_at: datetime | None
    cutoffs: list[str]
    is_demo: bool

    @staticmethod
    def resolve_mode(obj) -> str:
        return obj.mode.code


class CallIn(Strict):
    code: Any = None
    mode: Any = None
    title: Any = None
    description: Any = None
    opens_at: Any = None
    closes_at: Any = None
    cutoffs: Any = None


class PoolOut(Schema):
    id: UUID
    code: str
    name: str
    share_percent: Decimal
    capacity: dict[str, float | int]
    period_start: date
    period_end: date
    usage: dict[str, dict[str, float | int]]
    is_demo: bool

    @staticmethod
    def resolve_usage(obj) -> dict:
        from .services.modes import pool_usage

        return pool_usage(obj)


class PoolIn(Strict):
    code: Any = None
    name: Any = None
    share_percent: Any = None
    capacity: Any = None
    period_start: Any = None
    period_end: Any = None
