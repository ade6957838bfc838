"""The review and decision pages: the reviewer's list and review page (conflict of interest, blind
scoring), the operators' technical assessment, reviewer assignment, decision screen and ranking,
each with the right and the wrong people, and bad input answered with 422 naming the field."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from aifactory.access.models import Allocation, Application, Project, Review
from aifactory.access.services import applications as services
from aifactory.access.services.reviews import (
    peer_review_submit,
    peer_reviewer_assign,
    review_declare_conflict,
    technical_assessment_submit,
)

from .applications_helpers import *  # noqa: F403
from .applications_helpers import COMPLETE, make_call, make_mode

ASSESSMENT = {"feasibility": "ok", "software": "PyTorch", "data": "on disk", "scaling": "8 GPUs"}
TECHNICAL_POST = {f"assessment.{k}": v for k, v in ASSESSMENT.items()} | {
    "recommendation": "accept_reduced",
    "comments": "Scaling shown up to 8 GPUs only.",
}


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def app_page(app) -> str:
    return f"/access/applications/{app.pk}/"


def review_page(review) -> str:
    return f"/access/reviews/{review.pk}/"


def scores(excellence, impact, feasibility, comments="") -> dict:
    return {
        "scores.excellence": str(excellence),
        "scores.impact": str(impact),
        "scores.feasibility": str(feasibility),
        "comments": comments,
    }


@pytest.fixture
def reviewers(make_user):
    return [make_user(f"reviewer{n}@factory.example", staff_role="reviewer") for n in (1, 2)]


@pytest.fixture
def peer_call(pool):
    mode = make_mode(pool, code="large-scale", reviews=["technical", "peer"], has_cutoffs=True)
    cutoff = (timezone.localdate() + timedelta(days=20)).isoformat()
    return make_call(mode, cutoffs=[cutoff])


def in_peer_review(applicant, org, call, operator, title="Peer reviewed") -> Application:
    app = services.application_create(
        actor=applicant, call=call, organisation=org, data={**COMPLETE, "title": title}
    )
    services.application_submit(actor=applicant, application=app)
    services.application_eligibility_decide(actor=operator, application=app, eligible=True)
    technical_assessment_submit(
        actor=operator, application=app, assessment=ASSESSMENT, recommendation="accept"
    )
    app.refresh_from_db()
    return app


@pytest.fixture
def peer_app(applicant, org, peer_call, operator):
    return in_peer_review(applicant, org, peer_call, operator)


@pytest.fixture
def assigned(peer_app, operator, reviewers):
    return [
        peer_reviewer_assign(actor=operator, application=peer_app, reviewer=r) for r in reviewers
    ]


@pytest.fixture
def technical(submitted, operator):
    """A Fast Lane application waiting for its technical assessment."""
    services.application_eligibility_decide(actor=operator, application=submitted, eligible=True)
    submitted.refresh_from_db()
    assert submitted.status == "technical_review"
    return submitted


# --- the reviewer's pages -----------------------------------------------------------------------


def test_my_reviews_lists_the_open_ones_first(
    applicant, org, peer_call, operator, reviewers, make_user
):
    first = in_peer_review(applicant, org, peer_call, operator, title="First")
    second = in_peer_review(applicant, org, peer_call, operator, title="Second")
    r1 = reviewers[0]
    done = peer_reviewer_assign(actor=operator, application=first, reviewer=r1)
    review_declare_conflict(actor=r1, review=done, conflict=False)
    peer_review_submit(
        actor=r1,
        review=done,
        scores={"excellence": 3, "impact": 3, "feasibility": 3},
        comments="ok",
    )
    waiting = peer_reviewer_assign(actor=operator, application=second, reviewer=r1)
    page = client_for(r1).get("/access/reviews/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.index(f"review-row-{waiting.pk}") < html.index(f"review-row-{done.pk}")
    assert first.reference in html and second.reference in html
    assert "My reviews" in client_for(r1).get("/").content.decode()  # in the navigation

    assert client_for(applicant).get("/access/reviews/").status_code == 403
    assert client_for(operator).get("/access/reviews/").status_code == 403
    assert client_for(None).get("/access/reviews/").status_code == 302
    assert "My reviews" not in client_for(applicant).get("/").content.decode()


def test_conflict_of_interest_first_then_scores(assigned, peer_app, reviewers):
    r1 = reviewers[0]
    c = client_for(r1)
    page = c.get(review_page(assigned[0])).content.decode()
    assert 'id="conflict-form"' in page and 'id="score-form"' not in page
    assert peer_app.abstract in page and "for the national broadcaster" in page
    assert app_page(peer_app) in page  # the full application, which the reviewer may read

    # A conflict needs a note; the error names the field and nothing is written.
    r = c.post(review_page(assigned[0]) + "conflict/", {"conflict": "yes", "note": ""})
    assert r.status_code == 422
    assert 'id="conflict_note"' in r.content.decode() and "has-error" in r.content.decode()
    assert Review.objects.get(pk=assigned[0].pk).conflict_declared is None
    r = c.post(review_page(assigned[0]) + "conflict/", {"conflict": "maybe"})
    assert r.status_code == 422

    r = c.post(review_page(assigned[0]) + "conflict/", {"conflict": "no"})
    assert r.status_code == 302 and r["Location"] == review_page(assigned[0])
    page = c.get(review_page(assigned[0])).content.decode()
    assert 'id="conflict-form"' not in page and 'id="score-form"' in page

    # A missing score and missing comments are named.
    r = c.post(review_page(assigned[0]) + "submit/", scores(5, "", 4, ""))
    assert r.status_code == 422
    assert 'id="score_scores_impact' in r.content.decode()
    r = c.post(review_page(assigned[0]) + "submit/", scores(5, 4, 4, ""))
    assert r.status_code == 422
    assert "This field is required." in r.content.decode()
    assert Review.objects.get(pk=assigned[0].pk).status == "assigned"
    r = c.post(review_page(assigned[0]) + "submit/", scores(5, 4, 4, "Strong team."))
    assert r.status_code == 302
    assert Review.objects.get(pk=assigned[0].pk).scores == {
        "excellence": 5,
        "impact": 4,
        "feasibility": 4,
    }
    page = c.get(review_page(assigned[0])).content.decode()
    assert 'id="own-review"' in page and "Strong team." in page


def test_declaring_a_conflict_takes_the_reviewer_off(assigned, peer_app, reviewers):
    c = client_for(reviewers[0])
    r = c.post(
        review_page(assigned[0]) + "conflict/", {"conflict": "yes", "note": "I advise them."}
    )
    assert r.status_code == 302
    assert Review.objects.get(pk=assigned[0].pk).status == "conflict"
    page = c.get(review_page(assigned[0])).content.decode()
    assert 'id="conflict-declared"' in page and 'id="score-form"' not in page
    assert "I advise them." in page
    # Off the application: their own declaration only, nothing of the application.
    assert 'id="application-summary"' not in page and peer_app.abstract not in page
    assert 'id="other-reviews"' not in page and "PyTorch" not in page
    assert c.get(app_page(peer_app)).status_code == 404  # out of the application


def test_a_closed_review_shows_nothing_of_the_application(
    assigned, peer_app, reviewers, operator, applicant
):
    """Withdrawing the application closes the reviews still waiting: the reviewer is told, reads
    nothing of the application any more, and the operators cannot unassign a closed review."""
    services.application_withdraw(actor=applicant, application=peer_app, reason="Other plans.")
    page = client_for(reviewers[0]).get(review_page(assigned[0])).content.decode()
    assert 'id="review-status" data-status="closed"' in page and 'id="review-closed"' in page
    assert 'id="application-summary"' not in page and peer_app.abstract not in page
    assert 'id="conflict-form"' not in page and 'id="score-form"' not in page
    html = client_for(operator).get(app_page(peer_app)).content.decode()
    assert f'id="peer-{assigned[0].pk}" data-status="closed"' in html
    assert "unassign/" not in html


def test_reviews_are_blind_until_you_submit_your_own(assigned, peer_app, reviewers):
    r1, r2 = reviewers
    c1, c2 = client_for(r1), client_for(r2)
    c1.post(review_page(assigned[0]) + "conflict/", {"conflict": "no"})
    c1.post(review_page(assigned[0]) + "submit/", scores(5, 5, 4, "R1-SECRET-COMMENT"))
    c2.post(review_page(assigned[1]) + "conflict/", {"conflict": "no"})

    for page in (review_page(assigned[1]), app_page(peer_app)):
        html = c2.get(page).content.decode()
        assert "R1-SECRET-COMMENT" not in html and r1.email not in html
    assert "PyTorch" in c2.get(review_page(assigned[1])).content.decode()  # technical: yes

    c2.post(review_page(assigned[1]) + "submit/", scores(3, 3, 3, "R2 comment"))
    html = c2.get(review_page(assigned[1])).content.decode()
    assert "R1-SECRET-COMMENT" in html
    # The applicant sees no review before the decision.
    html = client_for(peer_app.created_by).get(app_page(peer_app)).content.decode()
    assert "R1-SECRET-COMMENT" not in html and "R2 comment" not in html


def test_review_pages_refuse_the_wrong_people(
    assigned, peer_app, reviewers, operator, applicant, make_user
):
    r1, r2 = reviewers
    outsider = make_user()
    review = review_page(assigned[0])
    assert client_for(outsider).get(review).status_code == 404
    assert client_for(applicant).get(review).status_code == 404
    assert client_for(r2).get(review).status_code == 404
    assert client_for(None).get(review).status_code == 302
    assert client_for(operator).get(review).status_code == 200  # operators read
    # ... but only the assigned reviewer writes.
    assert client_for(operator).post(review + "conflict/", {"conflict": "no"}).status_code == 403
    assert client_for(r2).post(review + "conflict/", {"conflict": "no"}).status_code == 404
    assert client_for(r1).post(review + "unassign/").status_code == 403
    assert client_for(r1).get(review + "conflict/").status_code == 405
    assert Review.objects.get(pk=assigned[0].pk).conflict_declared is None


# --- the operators' pages -----------------------------------------------------------------------


def test_technical_assessment_on_the_application_page(technical, operator, applicant):
    c = client_for(operator)
    html = c.get(app_page(technical)).content.decode()
    assert 'id="technical-form"' in html and 'id="assign-form"' not in html  # no peer review
    assert (
        'id="technical-form"' not in client_for(applicant).get(app_page(technical)).content.decode()
    )

    r = c.post(app_page(technical) + "technical/", {"assessment.feasibility": "ok"})
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="technical_assessment_software"' in html and "has-error" in html
    r = c.post(app_page(technical) + "technical/", TECHNICAL_POST | {"recommendation": "maybe"})
    assert r.status_code == 422
    assert not Review.objects.filter(application=technical).exists()

    assert (
        client_for(applicant).post(app_page(technical) + "technical/", TECHNICAL_POST).status_code
        == 403
    )
    r = c.post(app_page(technical) + "technical/", TECHNICAL_POST)
    assert r.status_code == 302 and r["Location"] == app_page(technical)
    review = Review.objects.get(application=technical, kind="technical")
    assert review.assessment == ASSESSMENT and review.recommendation == "accept_reduced"
    html = c.get(app_page(technical)).content.decode()
    assert 'id="open-decision"' in html and "Scaling shown up to 8 GPUs only." in html
    # Written once the application has moved on: refused with a message, nothing changed.
    technical.refresh_from_db()
    assert technical.status == "technical_review"


def test_assigning_and_unassigning_reviewers(
    applicant, org, peer_call, operator, reviewers, make_user, add_member
):
    app = services.application_create(
        actor=applicant, call=peer_call, organisation=org, data=COMPLETE
    )
    services.application_submit(actor=applicant, application=app)
    services.application_eligibility_decide(actor=operator, application=app, eligible=True)
    c = client_for(operator)
    url = app_page(app) + "reviewers/"
    html = c.get(app_page(app)).content.decode()
    assert 'id="assign-form"' in html and 'id="technical-form"' in html
    assert f'<option value="{reviewers[0].email}">' in html  # the reviewers, as suggestions

    r = c.post(url, {"reviewer": "nobody@example.org"})
    assert (
        r.status_code == 422 and "Nobody on the hub has this e-mail address." in r.content.decode()
    )
    plain = make_user("plain@example.org")
    r = c.post(url, {"reviewer": plain.email})
    assert r.status_code == 422 and "reviewer role" in r.content.decode()
    insider = make_user("insider@example.org", staff_role="reviewer")
    add_member(org, insider)
    r = c.post(url, {"reviewer": insider.email})
    assert r.status_code == 422 and "conflict of interest" in r.content.decode()
    r = c.post(url, {"reviewer": "not an address"})
    assert r.status_code == 422 and 'id="assign_reviewer"' in r.content.decode()
    assert not Review.objects.filter(application=app, kind="peer").exists()

    assert client_for(applicant).post(url, {"reviewer": reviewers[0].email}).status_code == 403
    assert client_for(make_user()).post(url, {"reviewer": reviewers[0].email}).status_code == 404
    r = c.post(url, {"reviewer": reviewers[0].email.upper()})
    assert r.status_code == 302
    review = Review.objects.get(application=app, kind="peer")
    assert review.reviewer == reviewers[0]
    r = c.post(url, {"reviewer": reviewers[0].email})
    assert r.status_code == 422 and "already assigned" in r.content.decode()
    html = c.get(app_page(app)).content.decode()
    assert f'id="peer-{review.pk}"' in html
    assert review_page(review) + "unassign/" in html

    r = c.post(review_page(review) + "unassign/")
    assert r.status_code == 302 and r["Location"] == app_page(app)
    assert not Review.objects.filter(pk=review.pk).exists()


def test_reviewer_suggestions_follow_the_rule(peer_app, operator, reviewers, make_user):
    """The addresses suggested are those of the people who may be assigned: reviewers and
    administrators, not operators, advisors or inactive people."""
    admin = make_user("admin@factory.example", staff_role="administrator")
    others = [
        make_user("operator2@factory.example", staff_role="operator"),
        make_user("advisor@factory.example", staff_role="advisor"),
        make_user("gone@factory.example", staff_role="reviewer"),
    ]
    others[-1].is_active = False
    others[-1].save(update_fields=["is_active"])
    html = client_for(operator).get(app_page(peer_app)).content.decode()
    for person in [*reviewers, admin]:
        assert f'<option value="{person.email}">' in html
    for person in others:
        assert f'<option value="{person.email}">' not in html


def test_unassign_only_while_the_review_waits(assigned, peer_app, operator, reviewers):
    """A declared conflict stays (the person must not come back) and a submitted review stays:
    neither has an Unassign button."""
    review_declare_conflict(actor=reviewers[0], review=assigned[0], conflict=True, note="Advisor.")
    html = client_for(operator).get(app_page(peer_app)).content.decode()
    assert f'id="peer-{assigned[0].pk}" data-status="conflict"' in html
    assert review_page(assigned[0]) + "unassign/" not in html
    assert review_page(assigned[1]) + "unassign/" in html
    review_declare_conflict(actor=reviewers[1], review=assigned[1], conflict=False)
    peer_review_submit(
        actor=reviewers[1],
        review=assigned[1],
        scores={"excellence": 4, "impact": 4, "feasibility": 4},
        comments="ok",
    )
    html = client_for(operator).get(app_page(peer_app)).content.decode()
    assert "unassign/" not in html


def test_decision_screen_and_reduced_acceptance(technical, operator, applicant, pool):
    technical_assessment_submit(
        actor=operator, application=technical, assessment=ASSESSMENT, recommendation="accept"
    )
    url = app_page(technical) + "decide/"
    assert client_for(applicant).get(url).status_code == 403
    assert client_for(None).get(url).status_code == 302
    pool.capacity = {"gpu_hours": 12000}
    pool.save()
    c = client_for(operator)
    html = c.get(url).content.decode()
    assert 'id="pool-gpu_hours" data-fits="no"' in html  # 20,000 asked, 12,000 left
    assert '<td class="pool-left">12000</td>' in html
    assert 'value="20000"' in html  # granted starts as requested
    assert 'id="decision-problems"' not in html

    # Accepting everything does not fit; the error names the resource.
    r = c.post(
        url, {"outcome": "accepted", "granted.gpu_hours": "20000", "granted.storage_tb": "5"}
    )
    assert r.status_code == 422
    assert "only 12000 left" in r.content.decode()
    assert 'id="decision_granted_gpu_hours"' in r.content.decode()
    # A reduction needs a reason, and cannot grant more than requested.
    form = {"outcome": "accepted_reduced", "granted.gpu_hours": "10000", "granted.storage_tb": "5"}
    r = c.post(url, form)
    assert r.status_code == 422 and "Give the reason for this decision." in r.content.decode()
    r = c.post(url, form | {"granted.gpu_hours": "30000", "reason": "r"})
    assert r.status_code == 422 and "At most the 20000 requested." in r.content.decode()
    r = c.post(url, form | {"granted.gpu_hours": "-1", "reason": "r"})
    assert r.status_code == 422
    assert not Project.objects.exists()

    assert client_for(applicant).post(url, form | {"reason": "r"}).status_code == 403
    r = c.post(url, form | {"reason": "Scaling evidence covers 10,000 hours."}, follow=True)
    project = Project.objects.get(application=technical)
    assert project.code in r.content.decode()  # the message names the project
    allocation = Allocation.objects.get(project=project)
    assert allocation.resources["gpu_hours"] == 10000 and allocation.cluster == "local"

    # The applicant sees the outcome, the grant, the reason and the project.
    html = client_for(applicant).get(app_page(technical)).content.decode()
    assert 'data-outcome="accepted_reduced"' in html
    assert "10000 granted of 20000 requested" in html
    assert "Scaling evidence covers 10,000 hours." in html
    assert f"/projects/{project.code}/" in html
    assert "Technical assessment" in html and "PyTorch" in html  # the reviews, after it
    # Deciding twice is refused; the screen has no form any more.
    r = c.post(url, {"outcome": "rejected", "reason": "again"})
    assert r.status_code == 422 and "decided already" in r.content.decode()
    assert 'id="decision-form"' not in c.get(url).content.decode()


def test_playground_eligibility_once_then_decide(applicant, org, pool, operator):
    """A mode without reviews stays in the eligibility check once confirmed; the page then shows
    the confirmation and the decision screen, not the eligibility form again."""
    call = make_call(make_mode(pool, code="playground", reviews=[]))
    app = services.application_create(actor=applicant, call=call, organisation=org, data=COMPLETE)
    services.application_submit(actor=applicant, application=app)
    c = client_for(operator)
    html = c.get(app_page(app)).content.decode()
    assert 'id="eligibility-form"' in html
    assert "Confirm the eligibility first." in html  # next to the decision screen's button
    services.application_eligibility_decide(actor=operator, application=app, eligible=True)
    html = c.get(app_page(app)).content.decode()
    app.refresh_from_db()
    assert app.status == "eligibility_check"  # no reviews: decided from here
    assert 'id="eligibility-form"' not in html
    assert "An operator confirmed the organisation as eligible." in html
    assert 'id="open-decision"' in html and "Acceptance is not possible yet" not in html
    assert 'id="revision-form"' in html  # a revision can still be asked for


def test_rejection_without_reviews(technical, operator):
    url = app_page(technical) + "decide/"
    c = client_for(operator)
    html = c.get(url).content.decode()
    assert "The technical assessment is missing." in html
    r = c.post(url, {"outcome": "accepted"})
    assert r.status_code == 422 and "The technical assessment is missing." in r.content.decode()
    r = c.post(url, {"outcome": "rejected", "reason": "Not AI work."})
    assert r.status_code == 302
    technical.refresh_from_db()
    assert technical.status == "decided" and technical.outcome == "rejected"
    assert not Project.objects.exists()


def test_ranking_of_a_cutoff(applicant, org, peer_call, operator, reviewers, make_user, pool):
    pool.capacity = {"gpu_hours": 45000}
    pool.save()
    r1 = reviewers[0]
    apps = {}
    for title, score in (("Middle", 3), ("Best", 5), ("Worst", 1)):
        app = in_peer_review(applicant, org, peer_call, operator, title=title)
        review = peer_reviewer_assign(actor=operator, application=app, reviewer=r1)
        review_declare_conflict(actor=r1, review=review, conflict=False)
        peer_review_submit(
            actor=r1,
            review=review,
            scores={"excellence": score, "impact": score, "feasibility": score},
            comments="c",
        )
        apps[title] = app
    url = f"/access/calls/{peer_call.code}/ranking/"
    r = client_for(operator).get(url)
    assert r.status_code == 200
    html = r.content.decode()
    order = [apps[t].reference for t in ("Best", "Middle", "Worst")]
    positions = [html.index(f'id="rank-{ref}"') for ref in order]
    assert positions == sorted(positions)
    assert f'id="rank-{apps["Middle"].reference}" data-rank="2" data-fits="yes"' in html
    assert f'id="rank-{apps["Worst"].reference}" data-rank="3" data-fits="no"' in html  # 60,000
    assert "60000" in html

    cutoff = peer_call.cutoffs[0]
    assert client_for(operator).get(url + f"?cutoff={cutoff}").status_code == 200
    # A date of the call that has no applications yet: an empty ranking, not an error.
    later = (timezone.localdate() + timedelta(days=50)).isoformat()
    peer_call.cutoffs = [cutoff, later]
    peer_call.save()
    r = client_for(operator).get(url + f"?cutoff={later}")
    assert r.status_code == 200 and 'id="ranking-table"' not in r.content.decode()
    assert f'<option value="{later}" selected>' in r.content.decode()
    r = client_for(operator).get(url + "?cutoff=2020-01-01")
    assert r.status_code == 422 and 'id="cutoff-error"' in r.content.decode()
    assert client_for(operator).get(url + "?cutoff=soon").status_code == 422
    assert client_for(operator).get("/access/calls/no-such-call/ranking/").status_code == 404
    assert client_for(r1).get(url).status_code == 403
    assert client_for(applicant).get(url).status_code == 403
    assert url in client_for(operator).get("/access/queue/").content.decode()
