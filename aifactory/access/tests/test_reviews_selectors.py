"""Reads of reviews: who gets a review, blind peer review, scores, the cut-off ranking and what
the decision screen shows."""

import uuid
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from aifactory.access import services
from aifactory.access.models import CapacityPool, ReviewKind
from aifactory.access.reviews_selectors import (
    application_score,
    cutoff_ranking,
    cutoffs_of,
    decision_context,
    review_get,
    reviews_mine,
    reviews_visible,
)

from .applications_helpers import make_call, make_mode
from .reviews_helpers import *  # noqa: F403 - the fixtures
from .reviews_helpers import FAIR, GOOD, apply, eligible, in_peer_review, peer_mode_call, review_by


@pytest.fixture
def in_peer(applicant, org, pool, operator):
    return in_peer_review(applicant, org, peer_mode_call(pool), operator)


@pytest.fixture
def three(in_peer, operator, make_reviewer):
    """Three reviewers: A submitted, B declared no conflict but has not scored, C has a conflict."""
    a = review_by(in_peer, operator, make_reviewer("a@rev.example"), GOOD)
    b = review_by(in_peer, operator, make_reviewer("b@rev.example"))
    c = services.peer_reviewer_assign(
        actor=operator, application=in_peer, reviewer=make_reviewer("c@rev.example")
    )
    services.review_declare_conflict(actor=c.reviewer, review=c, conflict=True, note="Cousin.")
    return a, b, c


def _peer(shown):
    return {s.review.pk: s for s in shown if s.review.kind == ReviewKind.PEER}


# --- one review, my reviews --------------------------------------------------------------------


def test_review_get_for_the_reviewer_and_operators_only(three, operator, applicant, make_reviewer):
    a, _b, _c = three
    assert review_get(a.reviewer, a.pk) == a
    assert review_get(operator, str(a.pk)) == a
    for person in (applicant, make_reviewer(), three[1].reviewer, AnonymousUser()):
        with pytest.raises(Http404):
            review_get(person, a.pk)
    for key in ("not-a-uuid", uuid.uuid4(), None):
        with pytest.raises(Http404):
            review_get(operator, key)


def test_reviews_mine_open_first(applicant, org, pool, operator, make_reviewer):
    reviewer = make_reviewer()
    call = peer_mode_call(pool)
    first = in_peer_review(applicant, org, call, operator)
    second = in_peer_review(applicant, org, call, operator)
    done = review_by(first, operator, reviewer, GOOD)
    waiting = services.peer_reviewer_assign(actor=operator, application=second, reviewer=reviewer)
    assert [r.pk for r in reviews_mine(reviewer)] == [waiting.pk, done.pk]
    assert [r.pk for r in reviews_mine(reviewer, open_only=True)] == [waiting.pk]
    assert reviews_mine(make_reviewer()) == []
    assert reviews_mine(AnonymousUser()) == []
    assert reviews_mine(operator) == []  # the technical assessment is not a peer review
    # A review left open on an application that was withdrawn is no longer waiting.
    third = in_peer_review(applicant, org, call, operator)
    gone = services.peer_reviewer_assign(actor=operator, application=third, reviewer=reviewer)
    services.application_withdraw(actor=applicant, application=third)
    assert [r.pk for r in reviews_mine(reviewer)] == [waiting.pk, done.pk, gone.pk]
    assert [r.pk for r in reviews_mine(reviewer, open_only=True)] == [waiting.pk]


# --- blind peer review -------------------------------------------------------------------------


def test_a_reviewer_sees_only_their_own_and_the_technical_before_submitting(three):
    _a, b, _c = three
    shown = reviews_visible(b.reviewer, b.application)
    assert set(_peer(shown)) == {b.pk}
    assert _peer(shown)[b.pk].own is True
    technical = [s for s in shown if s.review.kind == ReviewKind.TECHNICAL]
    assert len(technical) == 1 and technical[0].assessment["software"]
    assert "operator" not in technical[0].reviewer  # the operator's address is not shown


def test_a_reviewer_sees_the_others_after_submitting(three):
    a, b, _c = three
    services.peer_review_submit(actor=b.reviewer, review=b, scores=FAIR, comments="Fair.")
    shown = _peer(reviews_visible(b.reviewer, b.application))
    assert set(shown) == {a.pk, b.pk}  # never the one with a conflict, it has nothing to read
    assert shown[a.pk].reviewer == "a@rev.example" and shown[a.pk].scores == GOOD
    assert shown[a.pk].own is False and shown[a.pk].total == pytest.approx(4.33)
    # A, submitted first, sees B's now too.
    assert set(_peer(reviews_visible(a.reviewer, a.application))) == {a.pk, b.pk}


def test_a_reviewer_with_a_conflict_sees_only_their_declaration(three):
    _a, _b, c = three
    shown = reviews_visible(c.reviewer, c.application)
    assert [s.review.pk for s in shown] == [c.pk]
    assert shown[0].status == "conflict"


def test_an_operator_sees_everything_with_names(three, operator):
    a, b, c = three
    shown = reviews_visible(operator, a.application)
    assert set(_peer(shown)) == {a.pk, b.pk, c.pk}
    assert _peer(shown)[b.pk].reviewer == "b@rev.example"
    assert len(shown) == 4


def test_an_administrator_who_reviews_is_blind_like_any_reviewer(three, operator, make_user):
    a, _b, c = three
    admin = make_user(staff_role="administrator")
    mine = review_by(a.application, operator, admin)
    shown = reviews_visible(admin, a.application)
    assert set(_peer(shown)) == {mine.pk}  # not A's scores, not C's declaration
    assert [s.review.kind for s in shown].count(ReviewKind.TECHNICAL) == 1
    services.peer_review_submit(actor=admin, review=mine, scores=FAIR, comments="Fair.")
    assert set(_peer(reviews_visible(admin, a.application))) == {a.pk, mine.pk}
    assert c.pk not in _peer(reviews_visible(admin, a.application))


def test_closed_reviews_count_for_nothing(three, applicant, operator):
    a, b, _c = three
    app = a.application
    services.application_request_revision(actor=operator, application=app, note="A plot.")
    services.application_submit(actor=applicant, application=app)
    app.refresh_from_db()
    assert application_score(app) is None
    assert reviews_mine(b.reviewer, open_only=True) == []
    # The reviewers of the earlier round read nothing more of it.
    assert [s.review.pk for s in reviews_visible(a.reviewer, app)] == [a.pk]
    shown = _peer(reviews_visible(operator, app))
    assert shown[a.pk].status == shown[b.pk].status == "closed"


def test_the_applicant_sees_reviews_only_after_the_decision_without_names(
    three, applicant, operator, make_user
):
    a, b, _c = three
    app = a.application
    assert reviews_visible(applicant, app) == []
    services.peer_review_submit(actor=b.reviewer, review=b, scores=FAIR, comments="Fair.")
    assert reviews_visible(applicant, app) == []
    services.application_decide(
        actor=operator, application=app, outcome="rejected", reason="Ranked too low."
    )
    app.refresh_from_db()
    shown = reviews_visible(applicant, app)
    names = [s.reviewer for s in shown]
    assert names == ["technical assessment", "peer review #1", "peer review #2"]
    assert {s.review.pk for s in shown[1:]} == {a.pk, b.pk}
    assert all("@" not in name for name in names)
    assert not any(s.own for s in shown)
    assert shown[1].scores == GOOD and shown[1].comments == "Well argued."
    # Someone outside the organisation still sees nothing.
    assert reviews_visible(make_user(), app) == []
    assert reviews_visible(AnonymousUser(), app) == []


# --- scores and the ranking --------------------------------------------------------------------


def test_application_score_is_the_mean_of_the_submitted_reviews(three):
    a, b, _c = three
    app = a.application
    assert application_score(app) == {
        "excellence": 5.0,
        "impact": 4.0,
        "feasibility": 4.0,
        "total": 4.33,
        "reviews": 1,
    }
    services.peer_review_submit(actor=b.reviewer, review=b, scores=FAIR, comments="Fair.")
    assert application_score(app) == {
        "excellence": 4.0,
        "impact": 3.5,
        "feasibility": 3.0,
        "total": 3.5,
        "reviews": 2,
    }


def test_no_score_before_a_review_is_submitted(in_peer, operator, make_reviewer):
    assert application_score(in_peer) is None
    review_by(in_peer, operator, make_reviewer())
    assert application_score(in_peer) is None


@pytest.fixture
def cutoff_call(pool, db):
    small = CapacityPool.objects.create(
        code="small",
        name="Small share",
        share_percent=10,
        capacity={"gpu_hours": 50_000},
        period_start=date(2026, 1, 1),
        period_end=date(2027, 12, 31),
    )
    today = timezone.localdate()
    mode = make_mode(small, code="large", reviews=["technical", "peer"], has_cutoffs=True)
    return make_call(
        mode,
        cutoffs=[
            (today + timedelta(days=10)).isoformat(),
            (today + timedelta(days=40)).isoformat(),
        ],
    )


def test_cutoff_ranking_by_score_with_running_totals(
    cutoff_call, applicant, org, operator, make_reviewer
):
    r1, r2 = make_reviewer(), make_reviewer()

    def scored(gpu, first, second):
        app = in_peer_review(applicant, org, cutoff_call, operator, requested={"gpu_hours": gpu})
        review_by(app, operator, r1, first)
        review_by(app, operator, r2, second)
        return app

    middle = scored(20000, GOOD, FAIR)  # the means per criterion 4, 3.5, 3 → 3.5
    best = scored(10000, GOOD, GOOD)  # 4.33
    worst = scored(25000, FAIR, FAIR)  # 2.67
    unscored = in_peer_review(applicant, org, cutoff_call, operator, requested={"gpu_hours": 1000})
    draft = services.application_create(actor=applicant, call=cutoff_call, organisation=org)
    withdrawn = apply(applicant, org, cutoff_call)
    services.application_withdraw(actor=applicant, application=withdrawn)
    cutoff = best.cutoff
    assert cutoff == timezone.localdate() + timedelta(days=10)
    assert draft.cutoff is None

    rows = cutoff_ranking(cutoff_call, cutoff)
    assert [r["app"].pk for r in rows] == [best.pk, middle.pk, worst.pk, unscored.pk]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert [r["score"]["total"] if r["score"] else None for r in rows] == [4.33, 3.5, 2.67, None]
    assert [r["gpu_hours"] for r in rows] == [10000, 20000, 25000, 1000]
    assert [r["running_gpu_hours"] for r in rows] == [10000, 30000, 55000, 56000]
    assert [r["fits"] for r in rows] == [True, True, False, False]  # the pool has 50,000

    # The best is accepted: its hours move from the running total to the pool's committed ones.
    services.application_decide(actor=operator, application=best, outcome="accepted")
    rows = cutoff_ranking(cutoff_call, cutoff)
    assert [r["running_gpu_hours"] for r in rows] == [0, 20000, 45000, 46000]
    assert [r["fits"] for r in rows] == [True, True, False, False]  # 40,000 left
    assert cutoffs_of(cutoff_call) == [cutoff]
    assert cutoff_ranking(cutoff_call, cutoff + timedelta(days=30)) == []


def test_decision_context(in_peer, operator, make_reviewer, settings, pool):
    settings.ACCESS_MIN_PEER_REVIEWS = 1
    pool.capacity = {"gpu_hours": 15000}
    pool.save()
    context = decision_context(in_peer)
    assert context["pool"] == pool
    assert context["usage"]["gpu_hours"] == {"capacity": 15000, "committed": 0, "left": 15000}
    assert context["resources"] == [
        {
            "resource": "gpu_hours",
            "requested": 20000,
            "capacity": 15000,
            "committed": 0,
            "left": 15000,
            "fits": False,
        },
        {
            "resource": "storage_tb",
            "requested": 5,
            "capacity": None,
            "committed": None,
            "left": None,
            "fits": True,  # the pool does not count storage
        },
    ]
    assert context["problems"] == ["0 of at least 1 peer reviews are submitted."]
    assert context["score"] is None
    assert context["start"] == in_peer.start_date
    assert (context["start"], context["end"]) == services.allocation_period(in_peer)
    assert [o.value for o in context["outcomes"]] == ["accepted", "accepted_reduced", "rejected"]
    review_by(in_peer, operator, make_reviewer(), GOOD)
    context = decision_context(in_peer)
    assert context["problems"] == [] and context["score"]["reviews"] == 1


def test_decision_context_before_the_reviews(applicant, org, pool, operator):
    app = eligible(
        apply(applicant, org, make_call(make_mode(pool, code="p", reviews=[]))), operator
    )
    assert decision_context(app)["problems"] == []
    app = apply(applicant, org, peer_mode_call(pool))
    assert decision_context(app)["problems"] == [
        "The application has not been through its reviews yet."
    ]
