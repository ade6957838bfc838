"""The demo applications, reviews, decisions and projects: loaded through the services after the
demo modes, one application in each state, and a second run changes nothing."""

import pytest

from aifactory.access.demo import load_demo_access
from aifactory.access.demo_applications import (
    CHANGE,
    GRANTED,
    PROJECT,
    REVIEWER,
    REVIEWER_2,
    SCRIPT,
    STATES,
    load_demo_applications,
)
from aifactory.access.models import (
    Application,
    ChangeRequest,
    Decision,
    Project,
    Review,
    ReviewKind,
    ReviewStatus,
)
from aifactory.access.reviews_selectors import (
    application_score,
    cutoff_ranking,
    reviews_mine,
    reviews_visible,
)
from aifactory.access.services.decisions import decision_problems
from aifactory.accounts.demo import PEOPLE, seed_demo
from aifactory.accounts.models import User
from aifactory.core.permissions import allowed


def _load():
    seed_demo()
    load_demo_access()
    return load_demo_applications()


def _app(state: str) -> Application:
    title = next(title for title, *_rest, s in SCRIPT if s == state)
    return Application.objects.get(title=title)


def test_demo_applications_show_each_state(db):
    line = _load()
    assert line.startswith(f"demo applications: {len(SCRIPT)} created")
    assert "skipped" not in line
    found = {a.title: (a.status, a.outcome) for a in Application.objects.all()}
    assert found == {title: STATES[state] for title, *_rest, state in SCRIPT}
    # Every status an application can have after the demo, and every outcome, is shown.
    assert {s for s, _o in found.values()} == {
        "draft",
        "eligibility_check",
        "technical_review",
        "revision_requested",
        "peer_review",
        "decided",
        "withdrawn",
    }
    assert {o for _s, o in found.values() if o} == {"accepted_reduced", "rejected"}
    # A second run changes nothing.
    assert load_demo_applications().startswith("demo applications: 0 created")
    assert Application.objects.count() == len(SCRIPT)
    assert Project.objects.count() == 2
    assert Review.objects.count() == 2 + 3 + 3
    assert ChangeRequest.objects.count() == 1
    # The demo people are those of the accounts demo: no account is added.
    assert User.objects.count() == len(PEOPLE)


def test_the_running_project_has_a_change_request_for_more_gpu_hours(db):
    _load()
    project = Project.objects.get(title=PROJECT)
    allocation = project.allocations.get()
    assert allocation.tranches.count() >= 12
    assert project.members.get().role == "pi"
    change = project.change_requests.get()
    assert (change.kind, change.status) == ("resources", "requested")
    assert change.details == {"resources": CHANGE}
    assert change.allocation == allocation
    assert change.requested_by.email == "founder@orbital.demo"


def test_the_reduced_acceptance_opened_a_project_with_the_team(db):
    _load()
    application = _app("accepted_reduced")
    technical = application.reviews.get(kind=ReviewKind.TECHNICAL)
    assert (technical.status, technical.recommendation) == ("submitted", "accept_reduced")
    decision = application.decision
    assert decision.outcome == "accepted_reduced" and decision.granted == GRANTED
    assert decision.reason and decision.decided_by.email == "operator@demo.aifactory.lu"
    project = application.project
    assert project.title == application.title
    roles = {m.user.email: m.role for m in project.members.select_related("user")}
    assert roles == {"founder@orbital.demo": "pi", "engineer@orbital.demo": "manager"}
    allocation = project.allocations.get()
    assert allocation.resources == GRANTED
    assert allocation.resources["gpu_hours"] < application.requested["gpu_hours"]
    assert (allocation.cluster, allocation.partition) == ("meluxina-ai", "gpu")
    assert allocation.slurm_account and allocation.pool.code.startswith("eurohpc-")
    # The student without an account is named in the decision's note for the operator.
    note = application.events.get(to_status="decided").note
    assert "student@uni.demo" in note and project.code in note


def test_the_rejection_and_the_withdrawal_have_their_reasons(db):
    _load()
    rejected = _app("rejected")
    assert rejected.reviews.get(kind=ReviewKind.TECHNICAL).recommendation == "reject"
    assert rejected.decision.reason and rejected.decision.granted == {}
    assert not Project.objects.filter(application=rejected).exists()
    withdrawn = _app("withdrawn")
    assert withdrawn.events.get(to_status="withdrawn").note
    assert not Decision.objects.filter(application=withdrawn).exists()


def test_the_demo_reviewer_has_a_review_to_write(db):
    _load()
    application = _app("peer_review")
    assert application.call.mode.code == "large-scale" and application.cutoff
    assert application.reviews.get(kind=ReviewKind.TECHNICAL).status == "submitted"
    reviewer = User.objects.get(email=REVIEWER)
    review = application.reviews.get(kind=ReviewKind.PEER, reviewer=reviewer)
    assert (review.status, review.conflict_declared) == (ReviewStatus.ASSIGNED, False)
    assert reviews_mine(reviewer, open_only=True) == [review]
    assert allowed(reviewer, "review.write", review)
    # Blind: the other reviewer's submitted review stays hidden until this one is submitted.
    other = application.reviews.get(kind=ReviewKind.PEER, status=ReviewStatus.SUBMITTED)
    assert other.reviewer.email == REVIEWER_2
    assert [
        s.review for s in reviews_visible(reviewer, application) if s.review.kind == "peer"
    ] == [review]
    # Not decidable yet: one review is open.
    assert decision_problems(application)


def test_the_ranking_has_scores_and_one_application_can_be_decided(db):
    _load()
    scored, open_one = _app("peer_review_scored"), _app("peer_review")
    assert scored.cutoff == open_one.cutoff
    peer = scored.reviews.filter(kind=ReviewKind.PEER)
    assert [r.status for r in peer] == ["submitted", "submitted"]
    assert {r.reviewer.email for r in peer} == {REVIEWER, REVIEWER_2}
    assert application_score(scored)["reviews"] == 2
    assert decision_problems(scored) == []
    rows = cutoff_ranking(scored.call, scored.cutoff)
    assert [r["app"] for r in rows] == [scored, open_one]
    assert rows[0]["score"]["total"] > rows[1]["score"]["total"]
    assert all(r["fits"] for r in rows)


@pytest.mark.django_db(transaction=True)
def test_the_demo_sends_no_mail():
    """Committed for real, so the e-mails queued on commit would go out: none does."""
    from django.core import mail

    seed_demo()
    load_demo_access()
    mail.outbox.clear()
    load_demo_applications()
    assert Application.objects.count() == len(SCRIPT)
    assert mail.outbox == []
