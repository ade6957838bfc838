"""API shapes of reviews, decisions and the ranking of a cut-off (in and out)."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Schema

from .applications_schemas import Strict


class TechnicalAssessmentIn(Strict):
    """The technical assessment, a short text per criterion (all four are needed)."""

    feasibility: str = ""
    software: str = ""
    data: str = ""
    scaling: str = ""


class TechnicalIn(Strict):
    assessment: TechnicalAssessmentIn
    recommendation: str  # accept, accept_reduced or reject
    comments: str = ""


class ReviewerIn(Strict):
    reviewer: str  # the reviewer's e-mail address


class ConflictIn(Strict):
    conflict: bool
    note: str = ""  # required when conflict is true


class ScoresIn(Strict):
    """Whole numbers from 1 to 5; the service names a missing or out-of-range one."""

    excellence: int | None = None
    impact: int | None = None
    feasibility: int | None = None


class SubmitIn(Strict):
    scores: ScoresIn
    comments: str = ""


class DecisionIn(Strict):
    outcome: str  # accepted, accepted_reduced or rejected
    granted: dict[str, Any] | None = None  # {resource: amount}; for accepted_reduced
    reason: str = ""  # required unless accepted
    cluster: str | None = None
    partition: str | None = None


class ReviewOut(Schema):
    """A review as the caller may see it: blind for reviewers until they submitted their own,
    anonymised for applicants (after the decision only)."""

    id: UUID
    kind: str
    status: str
    reviewer: str  # the name, or "peer review #2" where the reader may not know who
    scores: dict[str, int]
    total: float | None
    comments: str
    assessment: dict[str, str]
    recommendation: str
    own: bool
    submitted_at: datetime | None
    conflict_declared: bool | None  # own reviews and operators only; null otherwise


class ApplicationRefOut(Schema):
    id: UUID
    reference: str
    title: str
    status: str
    call: str
    mode: str


class ReviewMineOut(ReviewOut):
    application: ApplicationRefOut


class ReviewDetailOut(ReviewMineOut):
    conflict_note: str
    others: list[ReviewOut]  # the application's other reviews this person may see


class PoolRefOut(Schema):
    code: str
    name: str


class DecisionContextOut(Schema):
    """What an operator weighs before deciding: the pool's capacity left against the request."""

    pool: PoolRefOut
    usage: dict[str, dict[str, Any]]
    resources: list[dict[str, Any]]  # resource, requested, capacity, committed, left, fits
    problems: list[str]  # what still stands in the way of an acceptance
    score: dict[str, Any] | None
    start: date
    end: date


class DecisionOut(Schema):
    decided: bool
    outcome: str
    granted: dict[str, Any]
    reason: str
    decided_at: datetime | None
    project: str | None  # the project's code, for an acceptance
    allocation: UUID | None  # the allocation's id, for an acceptance
    context: DecisionContextOut | None  # operators, before the decision


class RankingRowOut(Schema):
    rank: int
    application: ApplicationRefOut
    organisation: str
    score: dict[str, Any] | None
    gpu_hours: float
    running_gpu_hours: float
    fits: bool


class RankingOut(Schema):
    call: str
    cutoff: date | None  # null: a call without cut-offs (all its applications)
    cutoffs: list[date]  # the call's cut-offs that have applications, newest first
    gpu_hours_left: float | None  # in the mode's pool
    rows: list[RankingRowOut]
