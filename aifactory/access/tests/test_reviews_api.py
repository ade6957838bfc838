"""Reviews, decisions and the ranking under /api/v1/access (reviews_api.py)."""

from datetime import date, timedelta

import pytest

from aifactory.access.models import (
    Allocation,
    Application,
    ApplicationStatus,
    Decision,
    Project,
    Review,
    ReviewStatus,
)
from aifactory.access.services import applications as services

from .applications_helpers import *  # noqa: F403
from .applications_helpers import COMPLETE, make_call, make_mode

APPS = "/access/applications"
ASSESSMENT = {
    "feasibility": "Runs on 8 GPUs today.",
    "software": "PyTorch in a container.",
    "data": "1.2 TB, on the project storage.",
    "scaling": "Linear to 64 GPUs.",
}
TECHNICAL = {"assessment": ASSESSMENT, "recommendation": "accept", "comments": "Sound."}
SCORES = {"excellence": 5, "impact": 4, "feasibility": 3}
CUTOFF = date.today() + timedelta(days=20)


@pytest.fixture
def as_operator(api, operator):
    return api(operator)


@pytest.fixture
def as_applicant(api, applicant):
    return api(applicant)


@pytest.fixture
def in_technical(operator, submitted):
    """A Fast Lane application waiting for its technical assessment."""
    return services.application_eligibility_decide(
        actor=operator, application=submitted, eligible=True
    )


@pytest.fixture
def large_call(pool):
    mode = make_mode(pool, code="large", reviews=["technical", "peer"], has_cutoffs=True)
    return make_call(mode, cutoffs=[CUTOFF.isoformat()])


def _peer_application(applicant, org, operator, call, as_operator, title="Peer"):
    app = services.application_create(
        actor=applicant, call=call, organisation=org, data={**COMPLETE, "title": title}
    )
    services.application_submit(actor=applicant, application=app)
    services.application_eligibility_decide(actor=operator, application=app, eligible=True)
    r = as_operator.post(f"{APPS}/{app.pk}/technical-assessment", TECHNICAL)
    assert r.status_code == 201, r.content
    app.refresh_from_db()
    assert app.status == ApplicationStatus.PEER_REVIEW
    return app


@pytest.fixture
def in_peer(applicant, org, operator, large_call, as_operator):
    return _peer_application(applicant, org, operator, large_call, as_operator)


@pytest.fixture
def reviewers(make_user):
    return [make_user(f"reviewer{n}@factory.example", staff_role="reviewer") for n in (1, 2, 3)]


def _assign(as_operator, application, reviewer):
    r = as_operator.post(f"{APPS}/{application.pk}/reviewers", {"reviewer": reviewer.email})
    assert r.status_code == 201, r.content
    return r.json()


# --- technical assessment -----------------------------------------------------------------------


def test_technical_assessment(as_operator, as_applicant, in_technical, operator):
    r = as_operator.post(f"{APPS}/{in_technical.reference}/technical-assessment", TECHNICAL)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["kind"] == "technical" and body["status"] == "submitted"
    assert body["assessment"] == ASSESSMENT and body["recommendation"] == "accept"
    assert body["reviewer"] == operator.email and body["own"] is True
    assert body["application"]["reference"] == in_technical.reference
    rows = as_operator.get(f"{APPS}/{in_technical.pk}/reviews").json()
    assert [row["kind"] for row in rows] == ["technical"]
    # The applicant sees no review before the decision.
    assert as_applicant.get(f"{APPS}/{in_technical.pk}/reviews").json() == []


def test_technical_assessment_bad_input(as_operator, as_applicant, in_technical, submitted):
    path = f"{APPS}/{in_technical.pk}/technical-assessment"
    r = as_operator.post(path, {**TECHNICAL, "assessment": {**ASSESSMENT, "scaling": " "}})
    assert r.status_code == 422 and "assessment.scaling" in r.json()["errors"]
    r = as_operator.post(path, {**TECHNICAL, "recommendation": "maybe"})
    assert r.status_code == 422 and "recommendation" in r.json()["errors"]
    r = as_operator.post(path, {**TECHNICAL, "assessment": {**ASSESSMENT, "colour": "blue"}})
    assert r.status_code == 422 and "assessment.colour" in r.json()["errors"]
    assert as_applicant.post(path, TECHNICAL).status_code == 403
    assert not Review.objects.exists()
    # Once assessed (a Fast Lane mode has no peer review), the application is no longer waiting.
    in_technical.status = ApplicationStatus.ELIGIBILITY_CHECK
    in_technical.save(update_fields=["status"])
    r = as_operator.post(path, TECHNICAL)
    assert r.status_code == 409
    assert r["Content-Type"] == "application/problem+json"


# --- the decision -------------------------------------------------------------------------------


def test_decision_reduced_then_twice(as_operator, as_applicant, in_technical, pool):
    as_operator.post(f"{APPS}/{in_technical.pk}/technical-assessment", TECHNICAL)
    path = f"{APPS}/{in_technical.pk}/decision"
    assert as_applicant.get(path).status_code == 404  # nothing to show before the decision
    screen = as_operator.get(path).json()
    assert screen["decided"] is False
    context = screen["context"]
    assert context["pool"]["code"] == pool.code and context["problems"] == []
    assert {row["resource"]: row["fits"] for row in context["resources"]} == {
        "gpu_hours": True,
        "storage_tb": True,
    }
    assert context["usage"]["gpu_hours"]["left"] == 1_000_000
    decision = {
        "outcome": "accepted_reduced",
        "granted": {"gpu_hours": 15000, "storage_tb": 5},
        "reason": "Scaling evidence covers 15,000 hours.",
        "cluster": "meluxina",
        "partition": "gpu",
    }
    r = as_operator.post(path, decision)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["decided"] is True and body["outcome"] == "accepted_reduced"
    assert body["granted"] == {"gpu_hours": 15000, "storage_tb": 5}
    project = Project.objects.get(application=in_technical)
    allocation = Allocation.objects.get(project=project)
    assert body["project"] == project.code and body["allocation"] == str(allocation.pk)
    assert (allocation.cluster, allocation.partition) == ("meluxina", "gpu")
    # The applicant sees the decision now, and the reviews without the reviewers' names.
    mine = as_applicant.get(path).json()
    assert mine["outcome"] == "accepted_reduced" and mine["context"] is None
    assert mine["project"] == project.code and mine["allocation"] == str(allocation.pk)
    assert mine["reason"] == decision["reason"]
    reviews = as_applicant.get(f"{APPS}/{in_technical.pk}/reviews").json()
    assert [row["reviewer"] for row in reviews] == ["technical assessment"]
    assert reviews[0]["conflict_declared"] is None
    # Deciding twice is a conflict, and changes nothing.
    r = as_operator.post(path, {"outcome": "rejected", "reason": "Changed my mind."})
    assert r.status_code == 409
    assert Decision.objects.get(application=in_technical).outcome == "accepted_reduced"


def test_decision_in_the_wrong_state(as_operator, submitted, as_applicant, applicant, call, org):
    draft = services.application_create(actor=applicant, call=call, organisation=org)
    r = as_operator.post(f"{APPS}/{draft.pk}/decision", {"outcome": "rejected", "reason": "r"})
    assert r.status_code == 409
    assert "cannot be decided" in r.json()["detail"]
    # Fast Lane needs its technical assessment first (eligibility not even confirmed).
    r = as_operator.post(f"{APPS}/{submitted.pk}/decision", {"outcome": "accepted"})
    assert r.status_code == 409
    assert "review" in r.json()["detail"]
    assert (
        as_applicant.post(f"{APPS}/{submitted.pk}/decision", {"outcome": "accepted"}).status_code
        == 403
    )
    assert not Decision.objects.exists()
    assert not Project.objects.exists()


def test_decision_bad_input(as_operator, in_technical, pool):
    as_operator.post(f"{APPS}/{in_technical.pk}/technical-assessment", TECHNICAL)
    path = f"{APPS}/{in_technical.pk}/decision"
    r = as_operator.post(path, {"outcome": "maybe"})
    assert r.status_code == 422 and "outcome" in r.json()["errors"]
    r = as_operator.post(path, {"outcome": "rejected"})
    assert r.status_code == 422 and "reason" in r.json()["errors"]
    # A reduced grant larger than what was requested.
    r = as_operator.post(
        path,
        {"outcome": "accepted_reduced", "granted": {"gpu_hours": 25000}, "reason": "r"},
    )
    assert r.status_code == 422 and "granted.gpu_hours" in r.json()["errors"]
    r = as_operator.post(path, {"outcome": "accepted", "grant": {}})
    assert r.status_code == 422 and "grant" in r.json()["errors"]
    # Above what is left in the pool.
    pool.capacity = {"gpu_hours": 10000, "storage_tb": 100}
    pool.save()
    r = as_operator.post(path, {"outcome": "accepted"})
    assert r.status_code == 422 and "granted.gpu_hours" in r.json()["errors"]
    assert as_operator.get(path).json()["context"]["resources"][0]["fits"] is False
    assert not Decision.objects.exists() and not Project.objects.exists()
    in_technical.refresh_from_db()
    assert in_technical.status == ApplicationStatus.TECHNICAL_REVIEW


def test_rejection_opens_no_project(as_operator, as_applicant, in_technical):
    r = as_operator.post(
        f"{APPS}/{in_technical.pk}/decision", {"outcome": "rejected", "reason": "Out of scope."}
    )
    assert r.status_code == 201, r.content
    assert r.json()["project"] is None and r.json()["allocation"] is None
    assert as_applicant.get(f"{APPS}/{in_technical.pk}/decision").json()["outcome"] == "rejected"


# --- peer review --------------------------------------------------------------------------------


def test_assign_reviewers(as_operator, in_peer, reviewers, make_user, add_member, org, api):
    first = _assign(as_operator, in_peer, reviewers[0])
    assert first["kind"] == "peer" and first["status"] == "assigned"
    assert first["conflict_declared"] is None
    path = f"{APPS}/{in_peer.pk}/reviewers"
    r = as_operator.post(path, {"reviewer": "nobody@factory.example"})
    assert r.status_code == 422 and "reviewer" in r.json()["errors"]
    r = as_operator.post(path, {"reviewer": make_user().email})  # not a reviewer
    assert r.status_code == 422 and "reviewer" in r.json()["errors"]
    # A reviewer from the applicant organisation is refused: a conflict of interest.
    add_member(org, reviewers[1])
    r = as_operator.post(path, {"reviewer": reviewers[1].email})
    assert r.status_code == 422
    assert "conflict of interest" in r.json()["errors"]["reviewer"][0]
    r = as_operator.post(path, {"reviewer": reviewers[0].email.upper()})
    assert r.status_code == 409 and "reviewer" in r.json()["errors"]
    # Nobody but an operator assigns, and the address is not even looked up for them.
    assert api(reviewers[0]).post(path, {"reviewer": "x@y.z"}).status_code == 403
    assert Review.objects.filter(kind="peer").count() == 1


def test_blind_peer_review(api, as_operator, as_applicant, in_peer, reviewers):
    one, two = (api(r) for r in reviewers[:2])
    first = _assign(as_operator, in_peer, reviewers[0])["id"]
    second = _assign(as_operator, in_peer, reviewers[1])["id"]
    r = one.post(f"/access/reviews/{first}/submit", {"scores": SCORES, "comments": "Good."})
    assert r.status_code == 409 and "conflict" in r.json()["errors"]  # declare first
    r = one.post(f"/access/reviews/{first}/conflict", {"conflict": False})
    assert r.status_code == 200 and r.json()["conflict_declared"] is False
    r = one.post(f"/access/reviews/{first}/submit", {"scores": SCORES, "comments": "Good."})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "submitted" and body["total"] == 4.0
    assert [o["kind"] for o in body["others"]] == ["technical"]  # two has not submitted
    # Two cannot see one's scores before submitting their own.
    two.post(f"/access/reviews/{second}/conflict", {"conflict": False})
    seen = two.get(f"/access/reviews/{second}").json()
    assert [o["kind"] for o in seen["others"]] == ["technical"]
    rows = two.get(f"{APPS}/{in_peer.pk}/reviews").json()
    assert {row["id"] for row in rows if row["kind"] == "peer"} == {second}
    assert "Good." not in str(rows)
    r = two.post(
        f"/access/reviews/{second}/submit",
        {"scores": {"excellence": 3, "impact": 3, "feasibility": 3}, "comments": "Fair."},
    )
    assert r.status_code == 200
    assert {o["id"] for o in r.json()["others"] if o["kind"] == "peer"} == {first}
    # The applicant sees nothing before the decision, then the reviews without names.
    assert as_applicant.get(f"{APPS}/{in_peer.pk}/reviews").json() == []
    r = as_operator.post(f"{APPS}/{in_peer.pk}/decision", {"outcome": "accepted"})
    assert r.status_code == 201, r.content
    rows = as_applicant.get(f"{APPS}/{in_peer.pk}/reviews").json()
    names = [row["reviewer"] for row in rows]
    assert names == ["technical assessment", "peer review #1", "peer review #2"]
    assert not any(r.email in str(rows) for r in reviewers)
    assert [row["total"] for row in rows] == [None, 4.0, 3.0]
    # A reviewer reads the decision, but not the project it opened (they are not on it).
    decision = one.get(f"{APPS}/{in_peer.pk}/decision").json()
    assert decision["outcome"] == "accepted" and decision["decided"] is True
    assert decision["project"] is None and decision["allocation"] is None
    assert as_applicant.get(f"{APPS}/{in_peer.pk}/decision").json()["project"] == (
        Project.objects.get(application=in_peer).code
    )


def test_review_by_someone_not_assigned(api, as_operator, in_peer, reviewers, make_user):
    review = _assign(as_operator, in_peer, reviewers[0])["id"]
    path = f"/access/reviews/{review}"
    body = {"scores": SCORES, "comments": "Not mine."}
    other_reviewer, stranger = api(reviewers[1]), api(make_user())
    assert other_reviewer.post(path + "/submit", body).status_code == 404
    assert stranger.post(path + "/submit", body).status_code == 404
    assert other_reviewer.get(path).status_code == 404
    assert other_reviewer.post(path + "/conflict", {"conflict": False}).status_code == 404
    # An operator sees the review but is not its reviewer.
    r = as_operator.post(path + "/submit", body)
    assert r.status_code == 403
    assert r.json()["detail"] == "Only the reviewer assigned to this review can write it."
    assert as_operator.post(path + "/conflict", {"conflict": False}).status_code == 403
    assert api(reviewers[0]).get("/access/reviews/not-an-id").status_code == 404
    assert Review.objects.get(pk=review).status == ReviewStatus.ASSIGNED


def test_conflict_and_scores(api, as_operator, in_peer, reviewers):
    one = api(reviewers[0])
    review = _assign(as_operator, in_peer, reviewers[0])["id"]
    path = f"/access/reviews/{review}"
    r = one.post(path + "/conflict", {"conflict": True})
    assert r.status_code == 422 and "note" in r.json()["errors"]
    r = one.post(path + "/conflict", {"conflict": "perhaps"})
    assert r.status_code == 422 and "conflict" in r.json()["errors"]
    r = one.post(path + "/conflict", {"conflict": True, "note": "I advised them last year."})
    assert r.status_code == 200
    assert r.json()["status"] == "conflict" and r.json()["conflict_note"]
    r = one.post(path + "/submit", {"scores": SCORES, "comments": "x"})
    assert r.status_code == 409
    # Scores out of range name the criterion.
    second = _assign(as_operator, in_peer, reviewers[1])["id"]
    two = api(reviewers[1])
    two.post(f"/access/reviews/{second}/conflict", {"conflict": False})
    r = two.post(
        f"/access/reviews/{second}/submit",
        {"scores": {"excellence": 7, "impact": 3}, "comments": "x"},
    )
    assert r.status_code == 422
    assert {"scores.excellence", "scores.feasibility"} <= set(r.json()["errors"])
    r = two.post(f"/access/reviews/{second}/submit", {"scores": SCORES, "comments": ""})
    assert r.status_code == 422 and "comments" in r.json()["errors"]
    assert Review.objects.get(pk=second).status == ReviewStatus.ASSIGNED


def test_my_reviews_and_unassign(api, as_operator, as_applicant, in_peer, reviewers):
    one = api(reviewers[0])
    first = _assign(as_operator, in_peer, reviewers[0])["id"]
    rows = one.get("/access/reviews").json()
    assert [row["id"] for row in rows] == [first]
    assert rows[0]["application"]["reference"] == in_peer.reference
    assert one.get("/access/reviews?open=true").json()[0]["id"] == first
    assert as_applicant.get("/access/reviews").status_code == 403
    assert as_operator.get("/access/reviews").status_code == 403
    # Only operators take a reviewer off, and not once the review is submitted.
    assert one.delete(f"/access/reviews/{first}").status_code == 403
    assert as_operator.delete(f"/access/reviews/{first}").status_code == 204
    assert one.get("/access/reviews").json() == []
    second = _assign(as_operator, in_peer, reviewers[1])["id"]
    two = api(reviewers[1])
    two.post(f"/access/reviews/{second}/conflict", {"conflict": False})
    two.post(f"/access/reviews/{second}/submit", {"scores": SCORES, "comments": "Fine."})
    assert two.get("/access/reviews?open=true").json() == []
    assert as_operator.delete(f"/access/reviews/{second}").status_code == 409
    assert Review.objects.filter(pk=second).exists()


def test_peer_decision_needs_the_reviews(as_operator, in_peer, reviewers, settings):
    settings.ACCESS_MIN_PEER_REVIEWS = 2
    _assign(as_operator, in_peer, reviewers[0])
    path = f"{APPS}/{in_peer.pk}/decision"
    problems = as_operator.get(path).json()["context"]["problems"]
    assert len(problems) == 2  # too few submitted, one still open
    assert as_operator.post(path, {"outcome": "accepted"}).status_code == 409
    r = as_operator.post(path, {"outcome": "rejected", "reason": "Not ready."})
    assert r.status_code == 201


# --- ranking ------------------------------------------------------------------------------------


def test_ranking(api, as_operator, as_applicant, applicant, org, operator, large_call, reviewers):
    low = _peer_application(applicant, org, operator, large_call, as_operator, title="Low")
    high = _peer_application(applicant, org, operator, large_call, as_operator, title="High")
    unscored = _peer_application(applicant, org, operator, large_call, as_operator, title="None")
    for application, score in ((low, 2), (high, 5)):
        review = _assign(as_operator, application, reviewers[0])["id"]
        one = api(reviewers[0])
        one.post(f"/access/reviews/{review}/conflict", {"conflict": False})
        r = one.post(
            f"/access/reviews/{review}/submit",
            {"scores": dict.fromkeys(SCORES, score), "comments": "ok"},
        )
        assert r.status_code == 200, r.content
    path = f"/access/calls/{large_call.code}/ranking"
    body = as_operator.get(path).json()
    assert body["cutoff"] == CUTOFF.isoformat() and body["cutoffs"] == [CUTOFF.isoformat()]
    refs = [row["application"]["reference"] for row in body["rows"]]
    assert refs == [high.reference, low.reference, unscored.reference]
    assert [row["rank"] for row in body["rows"]] == [1, 2, 3]
    assert body["rows"][0]["score"]["total"] == 5.0 and body["rows"][2]["score"] is None
    assert [row["running_gpu_hours"] for row in body["rows"]] == [20000, 40000, 60000]
    assert body["gpu_hours_left"] == 1_000_000 and all(row["fits"] for row in body["rows"])
    # A date of the call without applications ranks nothing; a date that is not a cut-off of
    # the call, or no date, is named.
    large_call.cutoffs = [CUTOFF.isoformat(), (CUTOFF + timedelta(days=30)).isoformat()]
    large_call.save()
    later = as_operator.get(f"{path}?cutoff={large_call.cutoffs[1]}")
    assert later.status_code == 200 and later.json()["rows"] == []
    assert later.json()["cutoff"] == large_call.cutoffs[1]
    other_day = (CUTOFF + timedelta(days=1)).isoformat()
    r = as_operator.get(f"{path}?cutoff={other_day}")
    assert r.status_code == 422
    assert r.json()["errors"]["cutoff"] == [f"“{other_day}” is not a cut-off date of this call."]
    r = as_operator.get(f"{path}?cutoff=soon")
    assert r.status_code == 422
    assert r.json()["errors"]["cutoff"] == ["Give a date as YYYY-MM-DD."]
    assert as_applicant.get(path).status_code == 403
    assert api(reviewers[0]).get(path).status_code == 403
    assert as_operator.get("/access/calls/no-such-call/ranking").status_code == 404
    assert Application.objects.filter(cutoff=CUTOFF).count() == 3
