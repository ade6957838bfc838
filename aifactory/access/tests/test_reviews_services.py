"""Review services: the routing after eligibility, the technical assessment, peer reviewer
assignment, conflicts of interest and scoring."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from aifactory.access import services
from aifactory.access.models import ApplicationStatus, Review, ReviewKind, ReviewStatus
from aifactory.core.errors import InvalidTransition, NotAllowed, ServiceError
from aifactory.core.models import AuditEvent
from aifactory.core.permissions import allowed

from .applications_helpers import COMPLETE, make_call, make_mode
from .reviews_helpers import *  # noqa: F403 - the fixtures
from .reviews_helpers import (
    ASSESSMENT,
    GOOD,
    apply,
    assess,
    eligible,
    in_peer_review,
    peer_mode_call,
    review_by,
)

S = ApplicationStatus


@pytest.fixture
def peer_call(pool):
    return peer_mode_call(pool)


@pytest.fixture
def in_technical(submitted, operator):
    """Fast Lane (technical assessment only), eligible: waiting for the assessment."""
    return eligible(submitted, operator)


@pytest.fixture
def in_peer(applicant, org, peer_call, operator):
    return in_peer_review(applicant, org, peer_call, operator)


@pytest.fixture
def before_peer(applicant, org, peer_call, operator):
    """A mode with both reviews, eligible: in technical review, the peer review to come."""
    return eligible(apply(applicant, org, peer_call), operator)


# --- routing after the eligibility check -------------------------------------------------------


@pytest.mark.parametrize(
    "reviews, status",
    [
        ([], S.ELIGIBILITY_CHECK),
        (["technical"], S.TECHNICAL_REVIEW),
        (["peer"], S.PEER_REVIEW),
        (["technical", "peer"], S.TECHNICAL_REVIEW),
    ],
)
def test_eligible_goes_to_the_first_review_of_the_mode(
    pool, applicant, org, operator, reviews, status
):
    mode = make_mode(pool, code="m", reviews=reviews)
    assert services.first_review_status(mode) == (status if reviews else "")
    app = apply(applicant, org, make_call(mode))
    events = app.events.count()
    app = eligible(app, operator)
    app.refresh_from_db()
    assert app.status == status
    assert app.eligibility["decision"]["ok"] is True
    if reviews:
        assert app.events.last().to_status == status
    else:
        # Confirmed, waiting for the decision: no move, but the confirmation is recorded.
        assert app.events.count() == events
        assert AuditEvent.objects.filter(action="application.eligibility_confirm").exists()
        with pytest.raises(InvalidTransition) as exc:
            eligible(app, operator)  # confirmed once
        assert exc.value.message == "The eligibility is confirmed already."


# --- technical assessment ----------------------------------------------------------------------


def test_technical_assessment_in_a_technical_only_mode(in_technical, operator):
    review = services.technical_assessment_submit(
        actor=operator,
        application=in_technical,
        assessment={k: f"  {v}  " for k, v in ASSESSMENT.items()},
        recommendation="accept_reduced",
        comments="Fewer hours suffice.",
    )
    review.refresh_from_db()
    assert (review.kind, review.status, review.reviewer) == ("technical", "submitted", operator)
    assert review.assessment == ASSESSMENT
    assert review.recommendation == "accept_reduced" and review.submitted_at
    in_technical.refresh_from_db()
    assert in_technical.status == S.TECHNICAL_REVIEW  # no peer review in this mode
    assert AuditEvent.objects.filter(action="review.technical_submit").count() == 1


def test_technical_assessment_moves_to_peer_review_when_the_mode_needs_it(
    applicant, org, peer_call, operator, django_capture_on_commit_callbacks
):
    app = eligible(apply(applicant, org, peer_call), operator)
    with django_capture_on_commit_callbacks(execute=True):
        assess(app, operator)
    app.refresh_from_db()
    assert app.status == S.PEER_REVIEW
    assert app.events.last().from_status == S.TECHNICAL_REVIEW
    assert "peer review" in mail.outbox[-1].subject


@pytest.mark.parametrize("recommendation", ["accept", "accept_reduced", "reject"])
def test_every_recommendation_is_accepted(in_technical, operator, recommendation):
    assert assess(in_technical, operator, recommendation).recommendation == recommendation


def test_all_four_criteria_are_required_and_named(in_technical, operator):
    with pytest.raises(ValidationError) as exc:
        services.technical_assessment_submit(
            actor=operator, application=in_technical, assessment={}, recommendation="accept"
        )
    assert set(exc.value.message_dict) == {
        "assessment.feasibility",
        "assessment.software",
        "assessment.data",
        "assessment.scaling",
    }
    with pytest.raises(ValidationError) as exc:
        services.technical_assessment_submit(
            actor=operator,
            application=in_technical,
            assessment=dict(ASSESSMENT, data="   ", scaling=None),
            recommendation="maybe",
        )
    assert set(exc.value.message_dict) == {
        "assessment.data",
        "assessment.scaling",
        "recommendation",
    }
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    "assessment, recommendation, comments, field",
    [
        ("fine", "accept", "", "assessment"),
        (dict(ASSESSMENT, novelty="x"), "accept", "", "assessment.novelty"),
        (dict(ASSESSMENT, software=5), "accept", "", "assessment.software"),
        (dict(ASSESSMENT, data="x" * 5001), "accept", "", "assessment.data"),
        (ASSESSMENT, ["accept"], "", "recommendation"),
        (ASSESSMENT, None, "", "recommendation"),
        (ASSESSMENT, "accept", "a\x00b", "comments"),
    ],
)
def test_bad_assessment_is_named_and_nothing_written(
    in_technical, operator, assessment, recommendation, comments, field
):
    with pytest.raises(ValidationError) as exc:
        services.technical_assessment_submit(
            actor=operator,
            application=in_technical,
            assessment=assessment,
            recommendation=recommendation,
            comments=comments,
        )
    assert field in exc.value.message_dict
    assert not Review.objects.exists()


def test_only_an_operator_assesses(in_technical, applicant, make_reviewer):
    for person in (applicant, make_reviewer()):
        with pytest.raises(PermissionDenied):
            assess(in_technical, person)
    assert not Review.objects.exists()


def test_assessment_only_in_technical_review(
    application, submitted, operator, applicant, org, pool
):
    draft = services.application_create(actor=applicant, call=application.call, organisation=org)
    for app in (draft, submitted):  # submitted waits in the eligibility check
        with pytest.raises(InvalidTransition) as exc:
            assess(app, operator)
        assert exc.value.status == 409
    peer_only = apply(applicant, org, make_call(make_mode(pool, code="peer", reviews=["peer"])))
    eligible(peer_only, operator)
    with pytest.raises(InvalidTransition):
        assess(peer_only, operator)
    assert not Review.objects.exists()


def test_a_new_assessment_after_a_revision_replaces_the_old(
    applicant, org, peer_call, operator, make_user
):
    app = in_peer_review(applicant, org, peer_call, operator)
    first = app.reviews.get(kind=ReviewKind.TECHNICAL)
    services.application_request_revision(actor=operator, application=app, note="Add a plot.")
    services.application_update(actor=applicant, application=app, data={"justification": "Plot."})
    services.application_submit(actor=applicant, application=app)
    eligible(app, operator)
    other = make_user(staff_role="operator")
    services.technical_assessment_submit(
        actor=other,
        application=app,
        assessment=dict(ASSESSMENT, scaling="Now with a plot."),
        recommendation="reject",
    )
    technical = app.reviews.get(kind=ReviewKind.TECHNICAL)
    assert technical.pk == first.pk
    assert (technical.reviewer, technical.recommendation) == (other, "reject")
    assert technical.assessment["scaling"] == "Now with a plot."
    app.refresh_from_db()
    assert app.status == S.PEER_REVIEW


# --- peer reviewer assignment ------------------------------------------------------------------


def test_assign_a_reviewer(in_peer, operator, make_reviewer, django_capture_on_commit_callbacks):
    reviewer = make_reviewer()
    with django_capture_on_commit_callbacks(execute=True):
        review = services.peer_reviewer_assign(
            actor=operator, application=in_peer, reviewer=reviewer
        )
    assert (review.kind, review.status, review.conflict_declared) == ("peer", "assigned", None)
    assert mail.outbox[-1].to == [reviewer.email]
    assert in_peer.reference in mail.outbox[-1].subject
    assert str(review.pk) in mail.outbox[-1].body
    assert AuditEvent.objects.filter(action="review.assign").count() == 1
    assert allowed(reviewer, "application.view", in_peer)


def test_assign_during_the_technical_review_and_by_the_system(before_peer, make_reviewer):
    review = services.peer_reviewer_assign(
        actor=None, application=before_peer, reviewer=make_reviewer()
    )
    assert review.application_id == before_peer.pk


def test_no_peer_reviewer_in_a_mode_without_peer_review(in_technical, operator, make_reviewer):
    reviewer = make_reviewer()
    with pytest.raises(InvalidTransition) as exc:
        services.peer_reviewer_assign(actor=operator, application=in_technical, reviewer=reviewer)
    assert exc.value.status == 409 and "no peer review" in exc.value.message
    assert not Review.objects.exists()
    assert not allowed(reviewer, "application.view", in_technical)


def test_only_the_reviewer_role_can_be_assigned(in_peer, operator, make_user):
    for person in (make_user(), make_user(staff_role="advisor"), operator, None):
        with pytest.raises(ValidationError) as exc:
            services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=person)
        assert "reviewer" in exc.value.message_dict
    assert not in_peer.reviews.filter(kind=ReviewKind.PEER).exists()


def test_only_an_operator_assigns(in_peer, applicant, make_reviewer):
    reviewer = make_reviewer()
    for person in (applicant, reviewer):
        with pytest.raises(PermissionDenied):
            services.peer_reviewer_assign(actor=person, application=in_peer, reviewer=reviewer)


def test_a_member_of_the_applicant_organisation_is_refused(
    in_peer, operator, make_reviewer, add_member
):
    insider = make_reviewer("insider@example.org")
    add_member(in_peer.organisation, insider)
    with pytest.raises(ValidationError) as exc:
        services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=insider)
    [message] = exc.value.message_dict["reviewer"]
    assert "insider@example.org" in message and "applicant organisation" in message
    assert services.reviewer_conflict(insider, in_peer) == message
    assert not in_peer.reviews.filter(kind=ReviewKind.PEER).exists()


def test_a_person_named_on_the_application_is_refused(
    applicant, org, peer_call, operator, make_reviewer
):
    colleague = make_reviewer("colleague@uni.example")
    app = services.application_create(
        actor=applicant, call=peer_call, organisation=org, data=COMPLETE
    )
    services.application_member_add(actor=applicant, application=app, email=colleague.email)
    services.application_submit(actor=applicant, application=app)
    eligible(app, operator)
    assess(app, operator)
    with pytest.raises(ValidationError) as exc:
        services.peer_reviewer_assign(actor=operator, application=app, reviewer=colleague)
    assert "named on the application" in exc.value.message_dict["reviewer"][0]
    assert services.reviewer_conflict(make_reviewer(), app) == ""


def test_assigning_twice_is_an_error(in_peer, operator, make_reviewer):
    reviewer = make_reviewer()
    services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=reviewer)
    with pytest.raises(ServiceError) as exc:
        services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=reviewer)
    assert exc.value.field == "reviewer" and exc.value.status == 409
    assert in_peer.reviews.filter(kind=ReviewKind.PEER).count() == 1


def test_a_reviewer_who_declared_a_conflict_is_not_assigned_again(in_peer, operator, make_reviewer):
    reviewer = make_reviewer()
    review = services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=reviewer)
    services.review_declare_conflict(actor=reviewer, review=review, conflict=True, note="Ex-boss.")
    with pytest.raises(ServiceError) as exc:
        services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=reviewer)
    assert "conflict" in exc.value.message and exc.value.field == "reviewer"


def test_assignment_in_the_wrong_state_is_409(
    application, submitted, operator, applicant, make_reviewer
):
    reviewer = make_reviewer()
    draft = services.application_create(
        actor=applicant, call=application.call, organisation=application.organisation
    )
    revision = services.application_request_revision(
        actor=operator,
        application=apply(applicant, application.organisation, application.call),
        note="More detail.",
    )
    decided = services.application_eligibility_decide(
        actor=operator, application=submitted, eligible=False, reason="Not eligible."
    )
    for app in (draft, revision, decided):
        with pytest.raises(InvalidTransition) as exc:
            services.peer_reviewer_assign(actor=operator, application=app, reviewer=reviewer)
        assert exc.value.status == 409
    assert not Review.objects.exists()


def test_unassign_before_submission_only(in_peer, operator, applicant, make_reviewer):
    open_review = services.peer_reviewer_assign(
        actor=operator, application=in_peer, reviewer=make_reviewer()
    )
    with pytest.raises(PermissionDenied):
        services.peer_reviewer_unassign(actor=applicant, review=open_review)
    services.peer_reviewer_unassign(actor=operator, review=open_review)
    assert not Review.objects.filter(pk=open_review.pk).exists()
    assert AuditEvent.objects.filter(action="review.unassign").count() == 1
    done = review_by(in_peer, operator, make_reviewer(), GOOD)
    with pytest.raises(InvalidTransition):
        services.peer_reviewer_unassign(actor=operator, review=done)
    technical = in_peer.reviews.get(kind=ReviewKind.TECHNICAL)
    with pytest.raises(InvalidTransition):
        services.peer_reviewer_unassign(actor=operator, review=technical)
    assert Review.objects.filter(pk__in=[done.pk, technical.pk]).count() == 2


# --- conflicts of interest ---------------------------------------------------------------------


@pytest.fixture
def assigned(in_peer, operator, make_reviewer):
    return services.peer_reviewer_assign(
        actor=operator, application=in_peer, reviewer=make_reviewer()
    )


def test_declaring_no_conflict_opens_the_scoring(assigned):
    review = services.review_declare_conflict(
        actor=assigned.reviewer, review=assigned, conflict=False
    )
    assert (review.conflict_declared, review.status) == (False, ReviewStatus.ASSIGNED)
    assert AuditEvent.objects.filter(action="review.declare_conflict").count() == 1


def test_a_conflict_needs_a_note_and_takes_the_reviewer_out(assigned, in_peer):
    reviewer = assigned.reviewer
    with pytest.raises(ValidationError) as exc:
        services.review_declare_conflict(actor=reviewer, review=assigned, conflict=True, note=" ")
    assert list(exc.value.message_dict) == ["note"]
    assigned.refresh_from_db()
    assert assigned.conflict_declared is None
    assert allowed(reviewer, "application.view", in_peer)
    review = services.review_declare_conflict(
        actor=reviewer, review=assigned, conflict=True, note="I co-founded the company."
    )
    assert (review.status, review.conflict_declared) == (ReviewStatus.CONFLICT, True)
    assert review.conflict_note == "I co-founded the company."
    assert not allowed(reviewer, "application.view", in_peer)


def test_only_the_assigned_reviewer_declares(assigned, operator, applicant, make_reviewer):
    for person in (make_reviewer(), operator, applicant):
        with pytest.raises(NotAllowed) as exc:
            services.review_declare_conflict(actor=person, review=assigned, conflict=False)
        assert exc.value.status == 403
    assigned.refresh_from_db()
    assert assigned.conflict_declared is None


@pytest.mark.parametrize("first", [False, True])
def test_declaring_twice_is_refused(assigned, first):
    reviewer = assigned.reviewer
    services.review_declare_conflict(actor=reviewer, review=assigned, conflict=first, note="n")
    for again in (False, True):
        with pytest.raises(InvalidTransition):
            services.review_declare_conflict(
                actor=reviewer, review=assigned, conflict=again, note="n"
            )
    assigned.refresh_from_db()
    assert assigned.conflict_declared is first


def test_conflict_answer_must_be_yes_or_no(assigned):
    with pytest.raises(ValidationError) as exc:
        services.review_declare_conflict(actor=assigned.reviewer, review=assigned, conflict="no")
    assert "conflict" in exc.value.message_dict


def test_no_declaration_once_the_application_is_decided(assigned, operator, in_peer):
    services.application_decide(
        actor=operator, application=in_peer, outcome="rejected", reason="Out of scope."
    )
    with pytest.raises(InvalidTransition):
        services.review_declare_conflict(actor=assigned.reviewer, review=assigned, conflict=False)


# --- scoring -----------------------------------------------------------------------------------


@pytest.fixture
def declared(assigned):
    services.review_declare_conflict(actor=assigned.reviewer, review=assigned, conflict=False)
    return assigned


def test_submit_scores(declared, in_peer):
    review = services.peer_review_submit(
        actor=declared.reviewer,
        review=declared,
        scores={"excellence": 5, "impact": "4", "feasibility": 1},
        comments="  Strong team.  ",
    )
    review.refresh_from_db()
    assert review.scores == {"excellence": 5, "impact": 4, "feasibility": 1}
    assert (review.status, review.comments) == (ReviewStatus.SUBMITTED, "Strong team.")
    assert review.submitted_at is not None
    assert AuditEvent.objects.filter(action="review.peer_submit").count() == 1
    in_peer.refresh_from_db()
    assert in_peer.status == S.PEER_REVIEW  # the decision moves it on, not the last review


@pytest.mark.parametrize("bad", [0, 6, 4.5, 4.0, "x", "", "²", "10", True, None, [4]])
def test_scores_are_whole_numbers_from_1_to_5(declared, bad):
    with pytest.raises(ValidationError) as exc:
        services.peer_review_submit(
            actor=declared.reviewer, review=declared, scores=dict(GOOD, impact=bad), comments="c"
        )
    assert list(exc.value.message_dict) == ["scores.impact"]
    declared.refresh_from_db()
    assert declared.status == ReviewStatus.ASSIGNED and declared.scores == {}


def test_every_missing_or_unknown_criterion_is_named(declared):
    with pytest.raises(ValidationError) as exc:
        services.peer_review_submit(
            actor=declared.reviewer, review=declared, scores={"novelty": 5}, comments="c"
        )
    assert set(exc.value.message_dict) == {
        "scores.excellence",
        "scores.impact",
        "scores.feasibility",
        "scores.novelty",
    }
    with pytest.raises(ValidationError) as exc:
        services.peer_review_submit(
            actor=declared.reviewer, review=declared, scores=[5, 4, 4], comments="c"
        )
    assert list(exc.value.message_dict) == ["scores"]


@pytest.mark.parametrize("comments", ["", "   ", None, "x" * 5001])
def test_comments_are_required(declared, comments):
    with pytest.raises(ValidationError) as exc:
        services.peer_review_submit(
            actor=declared.reviewer, review=declared, scores=GOOD, comments=comments
        )
    assert list(exc.value.message_dict) == ["comments"]


def test_no_scores_before_declaring(assigned):
    with pytest.raises(ServiceError) as exc:
        services.peer_review_submit(
            actor=assigned.reviewer, review=assigned, scores=GOOD, comments="c"
        )
    assert exc.value.field == "conflict"
    assigned.refresh_from_db()
    assert assigned.status == ReviewStatus.ASSIGNED


def test_no_scores_outside_peer_review(before_peer, operator, make_reviewer):
    # Assigned and declared during the technical review: scoring waits for the peer review.
    review = review_by(before_peer, operator, make_reviewer())
    with pytest.raises(InvalidTransition) as exc:
        services.peer_review_submit(actor=review.reviewer, review=review, scores=GOOD, comments="c")
    assert exc.value.status == 409
    review.refresh_from_db()
    assert review.status == ReviewStatus.ASSIGNED


def test_someone_not_assigned_cannot_score(declared, operator, applicant, make_reviewer):
    for person in (make_reviewer(), operator, applicant):
        with pytest.raises(NotAllowed) as exc:
            services.peer_review_submit(actor=person, review=declared, scores=GOOD, comments="c")
        assert exc.value.status == 403
    # Bad input from a stranger is refused for who they are, before what they sent.
    with pytest.raises(NotAllowed):
        services.peer_review_submit(actor=applicant, review=declared, scores={}, comments="")
    declared.refresh_from_db()
    assert declared.status == ReviewStatus.ASSIGNED


def test_scoring_twice_is_refused(declared):
    services.peer_review_submit(actor=declared.reviewer, review=declared, scores=GOOD, comments="c")
    with pytest.raises(InvalidTransition):
        services.peer_review_submit(
            actor=declared.reviewer, review=declared, scores=dict(GOOD, impact=1), comments="d"
        )
    declared.refresh_from_db()
    assert declared.scores == GOOD and declared.comments == "c"


def test_a_reviewer_with_a_conflict_cannot_score(assigned):
    services.review_declare_conflict(
        actor=assigned.reviewer, review=assigned, conflict=True, note="My brother's firm."
    )
    with pytest.raises(InvalidTransition):
        services.peer_review_submit(
            actor=assigned.reviewer, review=assigned, scores=GOOD, comments="c"
        )


# --- closed reviews: withdrawal, decision, a new round after a revision ------------------------


@pytest.fixture
def round_one(in_peer, operator, make_reviewer):
    """Three reviewers: A submitted, B declared no conflict but has not scored, C has a conflict."""
    a = review_by(in_peer, operator, make_reviewer("a@rev.example"), GOOD)
    b = review_by(in_peer, operator, make_reviewer("b@rev.example"))
    c = services.peer_reviewer_assign(
        actor=operator, application=in_peer, reviewer=make_reviewer("c@rev.example")
    )
    services.review_declare_conflict(actor=c.reviewer, review=c, conflict=True, note="Cousin.")
    return a, b, c


def _statuses(*reviews):
    return [Review.objects.get(pk=r.pk).status for r in reviews]


def test_a_resubmission_closes_the_round_and_the_same_reviewer_can_be_assigned_again(
    in_peer, round_one, applicant, operator
):
    from aifactory.access.reviews_selectors import application_score, reviews_mine

    a, b, c = round_one
    technical = in_peer.reviews.get(kind=ReviewKind.TECHNICAL)
    services.application_request_revision(actor=operator, application=in_peer, note="A plot.")
    assert _statuses(a, b, c, technical) == ["submitted", "assigned", "conflict", "submitted"]
    services.application_submit(actor=applicant, application=in_peer)
    # Every assigned or submitted review is closed, technical and peer; the conflict stays.
    assert _statuses(a, b, c, technical) == ["closed", "closed", "conflict", "closed"]
    closed = AuditEvent.objects.get(action="review.close")
    assert closed.changes["reviews"] == {
        str(a.pk): "submitted",
        str(b.pk): "assigned",
        str(technical.pk): "submitted",
    }
    for review in (a, b, c):
        assert not allowed(review.reviewer, "application.view", in_peer)
        assert reviews_mine(review.reviewer, open_only=True) == []
    eligible(in_peer, operator)
    in_peer.refresh_from_db()
    assert in_peer.status == S.TECHNICAL_REVIEW
    assert application_score(in_peer) is None  # the old scores count no more
    assert "The technical assessment is missing." in services.decision_problems(in_peer)
    assess(in_peer, operator)
    in_peer.refresh_from_db()
    assert services.decision_problems(in_peer) == ["0 of at least 2 peer reviews are submitted."]
    # A reviewer of the earlier round is assigned again, on the same review, blank.
    again = services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=a.reviewer)
    assert again.pk == a.pk
    again.refresh_from_db()
    assert (again.status, again.conflict_declared, again.scores, again.comments) == (
        "assigned",
        None,
        {},
        "",
    )
    assert again.submitted_at is None
    assert allowed(a.reviewer, "application.view", in_peer)
    assert reviews_mine(a.reviewer, open_only=True) == [again]
    # The old values stay in the audit log.
    record = AuditEvent.objects.filter(action="review.assign").latest("id")
    assert record.changes["reopened"]["scores"] == GOOD
    assert record.changes["reopened"]["comments"] == "Well argued."
    # The one who declared a conflict is still refused.
    with pytest.raises(ServiceError):
        services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=c.reviewer)


def test_a_withdrawal_closes_the_open_reviews(in_peer, round_one, applicant, operator):
    from aifactory.access.reviews_selectors import reviews_mine

    a, b, c = round_one
    services.application_withdraw(actor=applicant, application=in_peer, reason="Funded.")
    assert _statuses(a, b, c) == ["submitted", "closed", "conflict"]
    assert not allowed(b.reviewer, "application.view", in_peer)
    assert reviews_mine(b.reviewer, open_only=True) == []
    with pytest.raises(InvalidTransition):
        services.review_declare_conflict(actor=b.reviewer, review=b, conflict=True, note="n")
    with pytest.raises(InvalidTransition):
        services.peer_review_submit(actor=b.reviewer, review=b, scores=GOOD, comments="c")
    with pytest.raises(InvalidTransition):
        services.peer_reviewer_unassign(actor=operator, review=b)
    assert _statuses(b) == ["closed"]


def test_a_decision_closes_the_open_reviews(in_peer, round_one, operator):
    a, b, c = round_one
    services.application_decide(
        actor=operator, application=in_peer, outcome="rejected", reason="Out of scope."
    )
    assert _statuses(a, b, c) == ["submitted", "closed", "conflict"]
    assert not allowed(b.reviewer, "application.view", in_peer)
    assert allowed(a.reviewer, "application.view", in_peer)  # they reviewed it


def test_a_declared_conflict_cannot_be_unassigned(assigned, in_peer, operator):
    reviewer = assigned.reviewer
    services.review_declare_conflict(actor=reviewer, review=assigned, conflict=True, note="Ex.")
    with pytest.raises(InvalidTransition) as exc:
        services.peer_reviewer_unassign(actor=operator, review=assigned)
    assert "conflict" in exc.value.message
    assert _statuses(assigned) == ["conflict"]
    with pytest.raises(ServiceError):
        services.peer_reviewer_assign(actor=operator, application=in_peer, reviewer=reviewer)
    assert not allowed(reviewer, "application.view", in_peer)


def test_a_team_member_linked_by_account_is_a_conflict(
    applicant, org, peer_call, operator, make_reviewer
):
    colleague = make_reviewer("colleague@uni.example")
    app = services.application_create(
        actor=applicant, call=peer_call, organisation=org, data=COMPLETE
    )
    member = services.application_member_add(
        actor=applicant, application=app, email=colleague.email
    )
    assert member.user == colleague
    # The person changed their address since: the account still links them.
    colleague.email = "colleague@new.example"
    colleague.save(update_fields=["email"])
    services.application_submit(actor=applicant, application=app)
    eligible(app, operator)
    assess(app, operator)
    assert "named on the application" in services.reviewer_conflict(colleague, app)
    with pytest.raises(ValidationError) as exc:
        services.peer_reviewer_assign(actor=operator, application=app, reviewer=colleague)
    assert list(exc.value.message_dict) == ["reviewer"]


def test_reviewer_by_email(make_reviewer, make_user):
    reviewer = make_reviewer("Rev@Example.org")
    assert services.reviewer_by_email("  rev@example.ORG ") == reviewer
    gone = make_user("gone@example.org")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    for email in ("nobody@example.org", "gone@example.org"):
        with pytest.raises(ValidationError) as exc:
            services.reviewer_by_email(email)
        assert exc.value.message_dict == {
            "reviewer": ["Nobody on the hub has this e-mail address."]
        }
    for email in ("", "  ", None, 5):
        with pytest.raises(ValidationError) as exc:
            services.reviewer_by_email(email)
        assert list(exc.value.message_dict) == ["reviewer"]


def test_an_operator_may_revise_the_assessment_and_the_audit_keeps_each_version(
    in_technical, operator, make_user
):
    assess(in_technical, operator)
    other = make_user(staff_role="operator")
    services.technical_assessment_submit(
        actor=other,
        application=in_technical,
        assessment=dict(ASSESSMENT, data="Only 200 GB."),
        recommendation="accept_reduced",
    )
    assert in_technical.reviews.get().reviewer == other
    versions = AuditEvent.objects.filter(action="review.technical_submit").order_by("id")
    assert [v.changes["assessment"]["data"] for v in versions] == [
        ASSESSMENT["data"],
        "Only 200 GB.",
    ]


def test_the_review_lock_takes_the_review_row_only(assigned):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks")
    with CaptureQueriesContext(connection) as queries:
        services.review_declare_conflict(actor=assigned.reviewer, review=assigned, conflict=False)
    locks = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"] and "access_review" in q["sql"]]
    assert locks and all('FOR UPDATE OF "access_review"' in sql for sql in locks)
