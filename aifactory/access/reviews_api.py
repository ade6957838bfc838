"""Reviews and decisions under /api/v1/access: the technical assessment, peer reviewers and their
reviews (blind), the decision, and the ranking of a call's cut-off.

Who may see what is decided by the selectors (reviews_selectors): an application's reviews are
filtered per person, a review is found only by its reviewer and the operators (404 for anyone
else), the decision is shown to the applicants once it is taken.
"""

from django.http import Http404, HttpRequest
from ninja import Router, Status

from aifactory.core.permissions import allowed, require

from . import reviews_selectors as selectors
from .applications_selectors import application_get
from .models import Application, Decision, Project
from .modes_selectors import call_get
from .reviews_schemas import (
    ConflictIn,
    DecisionIn,
    DecisionOut,
    RankingOut,
    ReviewDetailOut,
    ReviewerIn,
    ReviewMineOut,
    ReviewOut,
    SubmitIn,
    TechnicalIn,
)
from .services import decisions as decision_services
from .services import reviews as services

router = Router(tags=["reviews and decisions"])


# --- shapes ---------------------------------------------------------------------------------------


def application_ref(application: Application) -> dict:
    return {
        "id": application.pk,
        "reference": application.reference,
        "title": application.title,
        "status": application.status,
        "call": application.call.code,
        "mode": application.call.mode.code,
    }


def _review_row(shown: selectors.ShownReview, operator: bool) -> dict:
    review = shown.review
    private = operator or shown.own
    return {
        "id": review.pk,
        "kind": review.kind,
        "status": shown.status,
        "reviewer": shown.reviewer,
        "scores": shown.scores,
        "total": shown.total,
        "comments": shown.comments,
        "assessment": shown.assessment,
        "recommendation": shown.recommendation,
        "own": shown.own,
        "submitted_at": review.submitted_at,
        "conflict_declared": review.conflict_declared if private else None,
        "conflict_note": review.conflict_note if private else "",
    }


def review_detail(user, review) -> dict:
    """The review as its reader may see it, with the application and the other reviews they
    may see (none of the other peer reviews before a reviewer submitted their own)."""
    application = review.application
    operator = allowed(user, "review.assign", application)
    shown = selectors.reviews_visible(user, application)
    this = next((s for s in shown if s.review.pk == review.pk), None)
    if this is None:
        raise Http404
    return {
        **_review_row(this, operator),
        "application": application_ref(application),
        "others": [_review_row(s, operator) for s in shown if s is not this],
    }


def _fresh(user, review) -> dict:
    return review_detail(user, selectors.review_get(user, review.pk))


def decision_out(user, application: Application) -> dict:
    """The decision once taken (for everyone who sees the application; the project's code and
    the allocation only for those who see the project); before it, what the operators weigh
    (404 for the others: there is nothing to show them yet)."""
    decision = Decision.objects.filter(application=application).first()
    if decision is None:
        if not allowed(user, "application.decide", application):
            raise Http404
        context = selectors.decision_context(application)
        pool = context["pool"]
        return {
            "decided": False,
            "outcome": "",
            "granted": {},
            "reason": "",
            "decided_at": None,
            "project": None,
            "allocation": None,
            "context": {
                **{k: context[k] for k in ("usage", "resources", "problems", "score")},
                "pool": {"code": pool.code, "name": pool.name},
                "start": context["start"],
                "end": context["end"],
            },
        }
    # The project and its allocation only for those who may see the project (not its reviewers).
    project = Project.objects.filter(application=application).first()
    if project is not None and not allowed(user, "project.view", project):
        project = None
    allocation = project.allocations.order_by("start").first() if project else None
    return {
        "decided": True,
        "outcome": decision.outcome,
        "granted": decision.granted,
        "reason": decision.reason,
        "decided_at": application.decided_at or decision.created_at,
        "project": project.code if project else None,
        "allocation": allocation.pk if allocation else None,
        "context": None,
    }


# --- an application's reviews ---------------------------------------------------------------------


@router.get(
    "/applications/{key}/reviews",
    response=list[ReviewOut],
    url_name="applications_reviews",
    summary="The reviews of an application you may see (blind peer review)",
)
def applications_reviews(request: HttpRequest, key: str):
    """Operators see all; a reviewer their own and the technical assessment, the other peer
    reviews once their own is submitted; applicants the submitted ones, without the reviewers'
    names, after the decision."""
    application = application_get(request.user, key)
    operator = allowed(request.user, "review.assign", application)
    return [_review_row(s, operator) for s in selectors.reviews_visible(request.user, application)]


@router.post(
    "/applications/{key}/technical-assessment",
    response={201: ReviewDetailOut},
    url_name="applications_technical_assessment",
    summary="Submit the technical assessment (operators)",
)
def applications_technical_assessment(request: HttpRequest, key: str, payload: TechnicalIn):
    application = application_get(request.user, key)
    review = services.technical_assessment_submit(
        actor=request.user,
        application=application,
        assessment=payload.assessment.dict(),
        recommendation=payload.recommendation,
        comments=payload.comments,
    )
    return Status(201, _fresh(request.user, review))


@router.post(
    "/applications/{key}/reviewers",
    response={201: ReviewDetailOut},
    url_name="applications_reviewer_assign",
    summary="Assign a peer reviewer by e-mail address (operators)",
)
def applications_reviewer_assign(request: HttpRequest, key: str, payload: ReviewerIn):
    application = application_get(request.user, key)
    require(request.user, "review.assign", application)  # before the address says anything
    reviewer = services.reviewer_by_email(payload.reviewer)
    review = services.peer_reviewer_assign(
        actor=request.user, application=application, reviewer=reviewer
    )
    return Status(201, _fresh(request.user, review))


# --- reviews --------------------------------------------------------------------------------------


@router.get(
    "/reviews",
    response=list[ReviewMineOut],
    url_name="reviews_list",
    summary="The peer reviews assigned to me (reviewers)",
)
def reviews_list(request: HttpRequest, open: bool = False):
    """``open=true``: only those still to be done."""
    require(request.user, "review.list_mine")
    rows = []
    for review in selectors.reviews_mine(request.user, open_only=open):
        shown = selectors.reviews_visible(request.user, review.application)
        own = next(s for s in shown if s.review.pk == review.pk)
        operator = allowed(request.user, "review.assign", review.application)
        rows.append(
            {**_review_row(own, operator), "application": application_ref(own.review.application)}
        )
    return rows


@router.get(
    "/reviews/{review_id}",
    response=ReviewDetailOut,
    url_name="reviews_read",
    summary="One review (its reviewer and operators)",
)
def reviews_read(request: HttpRequest, review_id: str):
    return review_detail(request.user, selectors.review_get(request.user, review_id))


@router.delete(
    "/reviews/{review_id}",
    response={204: None},
    url_name="reviews_unassign",
    summary="Take a reviewer off before they submitted (operators)",
)
def reviews_unassign(request: HttpRequest, review_id: str):
    review = selectors.review_get(request.user, review_id)
    services.peer_reviewer_unassign(actor=request.user, review=review)
    return Status(204, None)


@router.post(
    "/reviews/{review_id}/conflict",
    response=ReviewDetailOut,
    url_name="reviews_conflict",
    summary="Declare whether you have a conflict of interest (the reviewer)",
)
def reviews_conflict(request: HttpRequest, review_id: str, payload: ConflictIn):
    review = selectors.review_get(request.user, review_id)
    review = services.review_declare_conflict(
        actor=request.user, review=review, conflict=payload.conflict, note=payload.note
    )
    return _fresh(request.user, review)


@router.post(
    "/reviews/{review_id}/submit",
    response=ReviewDetailOut,
    url_name="reviews_submit",
    summary="Score the application, once (the reviewer)",
)
def reviews_submit(request: HttpRequest, review_id: str, payload: SubmitIn):
    review = selectors.review_get(request.user, review_id)
    review = services.peer_review_submit(
        actor=request.user,
        review=review,
        scores=payload.scores.dict(),
        comments=payload.comments,
    )
    return _fresh(request.user, review)


# --- the decision and the ranking -----------------------------------------------------------------


@router.get(
    "/applications/{key}/decision",
    response=DecisionOut,
    url_name="applications_decision",
    summary="The decision; before it, the decision screen's figures (operators)",
)
def applications_decision(request: HttpRequest, key: str):
    return decision_out(request.user, application_get(request.user, key))


@router.post(
    "/applications/{key}/decision",
    response={201: DecisionOut},
    url_name="applications_decide",
    summary="Decide: accepted, accepted_reduced or rejected (operators)",
)
def applications_decide(request: HttpRequest, key: str, payload: DecisionIn):
    """An acceptance opens the project with its allocation; deciding twice is a 409."""
    application = application_get(request.user, key)
    decision_services.application_decide(
        actor=request.user,
        application=application,
        outcome=payload.outcome,
        granted=payload.granted,
        reason=payload.reason,
        cluster=payload.cluster,
        partition=payload.partition,
    )
    application = application_get(request.user, application.pk)
    return Status(201, decision_out(request.user, application))


def ranking_out(result: dict) -> dict:
    """``reviews_selectors.ranking`` in the API's shape."""
    return {
        "call": result["call"].code,
        "cutoff": result["cutoff"],
        "cutoffs": result["cutoffs"],
        "gpu_hours_left": result["gpu_hours_left"],
        "rows": [
            {
                "rank": row["rank"],
                "application": application_ref(row["app"]),
                "organisation": row["app"].organisation.legal_name,
                "score": row["score"],
                "gpu_hours": row["gpu_hours"],
                "running_gpu_hours": row["running_gpu_hours"],
                "fits": row["fits"],
            }
            for row in result["rows"]
        ],
    }


@router.get(
    "/calls/{code}/ranking",
    response=RankingOut,
    url_name="calls_ranking",
    summary="The applications of a cut-off ranked by peer score (operators)",
)
def calls_ranking(request: HttpRequest, code: str, cutoff: str = ""):
    """``cutoff=YYYY-MM-DD``; by default the latest cut-off with applications. A date that is
    not a cut-off of the call answers 422 on ``cutoff``."""
    call = call_get(request.user, code)
    require(request.user, "application.rank", call)
    return ranking_out(selectors.ranking(call, cutoff))
