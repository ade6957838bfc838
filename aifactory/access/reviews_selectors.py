"""Reads of reviews, filtered by permission, and what the decision screen and the ranking show.

Blind peer review: a reviewer sees their own review and the technical assessment; the other peer
reviews (scores, comments and who wrote them) only once their own is submitted. Operators see
everything, except an operator or administrator who is a peer reviewer of the application: they
read it as a reviewer. Applicants see nothing of the reviews before the decision; after it, the
submitted reviews' comments and scores without the reviewers' names. A closed review (of an
earlier round, or left open when the application was withdrawn or decided) is never open and
counts for nothing.
"""

import contextlib
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from aifactory.core.permissions import allowed
from aifactory.core.roles import StaffRole

from .models import (
    Application,
    ApplicationStatus,
    Decision,
    Outcome,
    Project,
    Resource,
    Review,
    ReviewKind,
    ReviewStatus,
)
from .services.decisions import DECIDABLE, allocation_period, decision_problems
from .services.modes import pool_usage
from .services.reviews import CRITERIA

S = ApplicationStatus
CLOSED = (S.DECIDED, S.WITHDRAWN)


def review_get(user, key) -> Review:
    """A review for the person it is assigned to, or an operator; 404 for anyone else."""
    review = None
    with contextlib.suppress(ValueError):
        review = (
            Review.objects.select_related(
                "application__call__mode", "application__organisation", "reviewer"
            )
            .filter(pk=uuid.UUID(str(key)))
            .first()
        )
    if review is None or not (
        allowed(user, "review.write", review) or allowed(user, "review.assign", review.application)
    ):
        raise Http404
    return review


def _open(review: Review) -> bool:
    """Still to be written: assigned, on an application that is not decided or withdrawn."""
    return review.status == ReviewStatus.ASSIGNED and review.application.status not in CLOSED


def reviews_mine(user, *, open_only: bool = False) -> list[Review]:
    """The peer reviews assigned to the person, open ones first."""
    if not getattr(user, "is_authenticated", False):
        return []
    qs = Review.objects.filter(reviewer=user, kind=ReviewKind.PEER).select_related(
        "application__call__mode", "application__organisation"
    )
    if open_only:
        qs = qs.filter(status=ReviewStatus.ASSIGNED).exclude(application__status__in=CLOSED)
    rows = list(qs.order_by("created_at"))
    rows.sort(key=lambda r: not _open(r))
    return rows


def _mean(values) -> float | None:
    values = list(values)
    if not values:
        return None
    return float(round(Decimal(sum(values)) / len(values), 2))


def review_total(review: Review) -> float | None:
    return _mean(review.scores.get(k) for k in CRITERIA if review.scores.get(k) is not None)


def application_score(application: Application) -> dict | None:
    """The mean of the submitted peer reviews, per criterion and overall; None before any."""
    done = [
        r
        for r in application.reviews.all()
        if r.kind == ReviewKind.PEER and r.status == ReviewStatus.SUBMITTED
    ]
    if not done:
        return None
    score = {k: _mean(r.scores[k] for r in done if k in r.scores) for k in CRITERIA}
    score["total"] = _mean(v for v in score.values() if v is not None)
    score["reviews"] = len(done)
    return score


@dataclass
class ShownReview:
    """A review as one person may see it."""

    review: Review
    reviewer: str  # the name, or "Reviewer 2" where the reader may not know who
    scores: dict
    comments: str
    assessment: dict
    recommendation: str
    status: str
    total: float | None
    own: bool


def reviews_visible(user, application: Application) -> list[ShownReview]:
    """The reviews of the application the person may read, oldest first (see the module)."""
    reviews = list(application.reviews.select_related("reviewer").order_by("created_at"))
    mine_all = [r for r in reviews if getattr(user, "pk", None) == r.reviewer_id]
    # An operator or administrator who is (or was) a peer reviewer of it reads it blind too.
    operator = allowed(user, "review.assign", application) and not any(
        r.kind == ReviewKind.PEER for r in mine_all
    )
    # A reviewer who declared a conflict is out: they read their own declaration, nothing else;
    # so is one whose review was closed.
    own = [r for r in mine_all if r.status not in (ReviewStatus.CONFLICT, ReviewStatus.CLOSED)]
    own_done = any(r.kind == ReviewKind.PEER and r.status == ReviewStatus.SUBMITTED for r in own)
    decided = application.status == S.DECIDED
    shown = []
    number = 0
    for review in reviews:
        mine = review in mine_all
        if operator or mine:
            name = review.reviewer.get_full_name() or review.reviewer.email
        elif review.status != ReviewStatus.SUBMITTED:
            continue
        elif review.kind == ReviewKind.TECHNICAL and own:
            name = str(review.get_kind_display())
        elif review.kind == ReviewKind.PEER and own and own_done:
            name = review.reviewer.get_full_name() or review.reviewer.email
        elif decided and not mine_all and allowed(user, "application.view", application):
            kind = review.get_kind_display()
            if review.kind == ReviewKind.PEER:
                number += 1  # counts the shown ones only: no gap hints at a hidden review
                name = f"{kind} #{number}"
            else:
                name = str(kind)
        else:
            continue
        shown.append(
            ShownReview(
                review=review,
                reviewer=name,
                scores=dict(review.scores),
                comments=review.comments,
                assessment=dict(review.assessment),
                recommendation=review.recommendation,
                status=review.status,
                total=review_total(review) if review.kind == ReviewKind.PEER else None,
                own=mine,
            )
        )
    return shown


def decision_context(application: Application) -> dict:
    """What the decision screen shows: the reviews' state, the score, the requested resources
    against what is left in the pool, and the allocation's period."""
    pool = application.call.mode.pool
    usage = pool_usage(pool)
    requested = application.requested or {}
    rows = []
    for key, amount in requested.items():
        # A resource the pool does not hold is not limited by it (as in the decision service).
        left = usage.get(key, {}).get("left") if key in pool.capacity else None
        rows.append(
            {
                "resource": key,
                "requested": amount,
                "capacity": usage.get(key, {}).get("capacity"),
                "committed": usage.get(key, {}).get("committed"),
                "left": left,
                "fits": left is None or Decimal(str(amount)) <= Decimal(str(left)),
            }
        )
    start, end = allocation_period(application)
    return {
        "pool": pool,
        "usage": usage,
        "resources": rows,
        "problems": [str(p) for p in decision_problems(application)],
        "score": application_score(application),
        "start": start,
        "end": end,
        "outcomes": [o for o in Outcome if o.value],
    }


def cutoff_ranking(call, cutoff) -> list[dict]:
    """The applications of one cut-off by peer score (unscored last), with the GPU hours asked
    for, the running total, and whether that total still fits in what the pool has left."""
    apps = list(
        Application.objects.filter(call=call, cutoff=cutoff)
        .exclude(status__in=(S.DRAFT, S.WITHDRAWN))
        .select_related("organisation", "call__mode")
        .prefetch_related("reviews")
    )
    pool = call.mode.pool
    left = (
        pool_usage(pool).get("gpu_hours", {}).get("left") if "gpu_hours" in pool.capacity else None
    )
    rows = [{"app": a, "score": application_score(a)} for a in apps]
    rows.sort(
        key=lambda r: (
            r["score"] is None,
            -(r["score"]["total"] if r["score"] else 0),
            r["app"].submitted_at or r["app"].created_at,
        )
    )
    running = Decimal(0)
    for rank, row in enumerate(rows, start=1):
        app = row["app"]
        gpu = Decimal(str((app.requested or {}).get("gpu_hours", 0)))
        if app.status != S.DECIDED:  # decided ones are in the pool's committed figure already
            running += gpu
        row.update(
            rank=rank,
            gpu_hours=(app.requested or {}).get("gpu_hours", 0),
            running_gpu_hours=float(running),
            fits=left is None or running <= Decimal(str(left)),
        )
    return rows


def cutoffs_of(call) -> list:
    """The cut-off dates of a call that have applications, newest first."""
    return sorted(
        {d for d in Application.objects.filter(call=call).values_list("cutoff", flat=True) if d},
        reverse=True,
    )


def _call_dates(call) -> set:
    dates = set()
    for value in call.cutoffs or []:
        with contextlib.suppress(ValueError):
            dates.add(date.fromisoformat(str(value)))
    return dates


def ranking(call, cutoff_text: str = "") -> dict:
    """The ranking of one cut-off, as the page, the API and the command show it: the latest
    cut-off with applications unless one is asked for (a date of the call, or of one of its
    applications: else a ValidationError on "cutoff"), the rows of ``cutoff_ranking`` and the GPU
    hours left in the mode's pool (None when the pool does not limit them). A call without
    cut-offs ranks all its applications (cutoff None)."""
    cutoffs = cutoffs_of(call)
    text = (cutoff_text or "").strip()
    cutoff = cutoffs[0] if cutoffs else None
    if text:
        try:
            cutoff = date.fromisoformat(text)
        except ValueError:
            raise ValidationError({"cutoff": _("Give a date as YYYY-MM-DD.")}) from None
        if cutoff not in set(cutoffs) | _call_dates(call):
            raise ValidationError(
                {"cutoff": _("“%(value)s” is not a cut-off date of this call.") % {"value": text}}
            )
    pool = call.mode.pool
    left = (
        pool_usage(pool).get("gpu_hours", {}).get("left") if "gpu_hours" in pool.capacity else None
    )
    return {
        "call": call,
        "cutoff": cutoff,
        "cutoffs": cutoffs,
        "gpu_hours_left": left,
        "rows": cutoff_ranking(call, cutoff),
    }


def review_actions(user, review: Review) -> dict:
    """What the reader of a review page may do and see there, by the services' rules (which
    check again): the assigned reviewer declares a conflict once, then scores while the
    application is in peer review; a reviewer who is off the application (conflict declared,
    review closed) reads only their own review, not the application."""
    application = review.application
    mine = allowed(user, "review.write", review)
    operator = allowed(user, "review.assign", application)
    waiting = (
        review.kind == ReviewKind.PEER
        and review.status == ReviewStatus.ASSIGNED
        and application.status not in CLOSED
    )
    return {
        "mine": mine,
        "can_declare": mine and waiting and review.conflict_declared is None,
        "can_score": mine
        and waiting
        and review.conflict_declared is False
        and application.status == S.PEER_REVIEW,
        "can_unassign": operator and _unassignable(review),
        "shows_application": (
            review.status in (ReviewStatus.ASSIGNED, ReviewStatus.SUBMITTED) if mine else operator
        ),
    }


def _unassignable(review: Review) -> bool:
    """Only a peer review still waiting is taken off: a submitted one stays, a declared conflict
    is kept (the person must not come back), a closed one is history."""
    return review.kind == ReviewKind.PEER and review.status == ReviewStatus.ASSIGNED


def reviewer_choices(limit: int = 200) -> list[str]:
    """The e-mail addresses of the people who may be assigned a peer review (the rule
    "review.be_assigned"), as suggestions for the operators' form; the service checks again."""
    candidates = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(staff_role__in=(StaffRole.REVIEWER, StaffRole.ADMINISTRATOR)) | Q(is_superuser=True)
        )
        .order_by("email")
    )
    found = []
    for person in candidates.iterator():
        if allowed(person, "review.be_assigned"):
            found.append(person.email)
            if len(found) >= limit:
                break
    return found


def review_panels(user, application: Application) -> dict:
    """What the application page shows of the reviews and the decision: the decision with what
    was granted (the project only to those who may see it), and for the operators what they may
    do now (assess, assign and take off reviewers, open the decision screen)."""
    operator = allowed(user, "review.assign", application)
    status = application.status
    decision = Decision.objects.filter(application=application).first()
    project = Project.objects.filter(application=application).first()
    requested = application.requested or {}
    labels = dict(Resource.choices)
    panels = {
        "granted_rows": [
            {"label": labels.get(k, k), "granted": v, "requested": requested.get(k, "—")}
            for k, v in (decision.granted if decision else {}).items()
        ],
        "decision": decision,
        "decision_project": project if project and allowed(user, "project.view", project) else None,
        "can_operate_reviews": operator,
    }
    if not operator:
        return panels
    peer_reviews = list(
        application.reviews.filter(kind=ReviewKind.PEER)
        .select_related("reviewer")
        .order_by("created_at")
    )
    for review in peer_reviews:
        review.can_unassign = _unassignable(review)
    decidable = status in DECIDABLE
    panels.update(
        {
            "can_assess": status == S.TECHNICAL_REVIEW,
            "can_assign": "peer" in (application.call.mode.reviews or [])
            and status in (S.TECHNICAL_REVIEW, S.PEER_REVIEW),
            "peer_reviews": peer_reviews,
            "reviewer_choices": reviewer_choices(),
            "can_decide": decidable and allowed(user, "application.decide", application),
            "decide_problems": [str(p) for p in decision_problems(application)]
            if decidable
            else [],
        }
    )
    return panels
