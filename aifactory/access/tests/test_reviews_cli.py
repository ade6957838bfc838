"""`aifactory access reviews|assign|decide|ranking` (cli_reviews.py)."""

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aifactory.access.models import Allocation, ApplicationStatus, Decision, Project, Review
from aifactory.access.services import applications as services
from aifactory.access.services.reviews import (
    peer_review_submit,
    review_declare_conflict,
    technical_assessment_submit,
)

from .applications_helpers import *  # noqa: F403
from .applications_helpers import COMPLETE, make_call, make_mode

ASSESSMENT = {"feasibility": "ok", "software": "PyTorch", "data": "on disk", "scaling": "8 GPUs"}
CUTOFF = date.today() + timedelta(days=20)


def run(*args) -> str:
    out = StringIO()
    call_command("access", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def assessed(operator, submitted):
    """A Fast Lane application with its technical assessment: ready to be decided."""
    services.application_eligibility_decide(actor=operator, application=submitted, eligible=True)
    technical_assessment_submit(
        actor=operator, application=submitted, assessment=ASSESSMENT, recommendation="accept"
    )
    return submitted


@pytest.fixture
def large_call(pool):
    mode = make_mode(pool, code="large", reviews=["technical", "peer"], has_cutoffs=True)
    return make_call(mode, cutoffs=[CUTOFF.isoformat()])


def _peer(applicant, org, operator, call, title="Peer"):
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
def reviewer(make_user):
    return make_user("reviewer@factory.example", staff_role="reviewer")


def test_assign_and_list_reviews(applicant, org, operator, large_call, reviewer):
    app = _peer(applicant, org, operator, large_call)
    assert "no reviews" in run("reviews")  # no open peer review yet
    out = run("assign", app.reference, "--reviewer", "REVIEWER@factory.example")
    assert f"Assigned reviewer@factory.example to {app.reference}" in out
    rows = json.loads(run("reviews", "--json"))
    assert [(r["application"], r["kind"], r["status"]) for r in rows] == [
        (app.reference, "peer", "assigned")
    ]
    assert rows[0]["reviewer"] == reviewer.email and rows[0]["conflict_declared"] is None
    rows = json.loads(run("reviews", "--application", app.reference, "--json"))
    assert [r["kind"] for r in rows] == ["technical", "peer"]
    assert rows[0]["assessment"] == ASSESSMENT and rows[0]["recommendation"] == "accept"
    text = run("reviews", "--application", str(app.pk))
    assert "technical" in text and "undeclared" in text and reviewer.email in text
    # Once scored, the review shows its total and is no longer open.
    review = Review.objects.get(kind="peer")
    review_declare_conflict(actor=reviewer, review=review, conflict=False)
    peer_review_submit(
        actor=reviewer,
        review=review,
        scores={"excellence": 4, "impact": 4, "feasibility": 4},
        comments="Good.",
    )
    assert "total 4.0" in run("reviews", "--application", app.reference)
    assert json.loads(run("reviews", "--json")) == []


def test_open_reviews_leave_out_withdrawn_applications(
    applicant, org, operator, large_call, reviewer
):
    app = _peer(applicant, org, operator, large_call)
    run("assign", app.reference, "--reviewer", reviewer.email)
    assert [r["application"] for r in json.loads(run("reviews", "--json"))] == [app.reference]
    services.application_withdraw(actor=applicant, application=app, reason="Changed plans.")
    assert json.loads(run("reviews", "--json")) == []
    assert "no reviews" in run("reviews")
    rows = json.loads(run("reviews", "--application", app.reference, "--json"))
    assert [r["kind"] for r in rows] == ["technical", "peer"]  # still there, for the record


def test_assign_errors(applicant, org, operator, large_call, reviewer, make_user, add_member):
    app = _peer(applicant, org, operator, large_call)
    with pytest.raises(CommandError, match="reviewer: Nobody on the hub has this e-mail address"):
        run("assign", app.reference, "--reviewer", "nobody@factory.example")
    with pytest.raises(CommandError, match="reviewer: Only a person with the reviewer role"):
        run("assign", app.reference, "--reviewer", make_user().email)
    add_member(org, reviewer)
    with pytest.raises(CommandError, match="reviewer: .*conflict of interest"):
        run("assign", app.reference, "--reviewer", reviewer.email)
    with pytest.raises(CommandError, match="application: no application"):
        run("assign", "A-1999-00001", "--reviewer", reviewer.email)
    with pytest.raises(CommandError, match="--reviewer"):
        run("assign", app.reference)
    assert not Review.objects.filter(kind="peer").exists()


def test_decide_reduced(assessed):
    out = run(
        "decide",
        assessed.reference,
        "--outcome",
        "accepted_reduced",
        "--granted",
        "gpu_hours=15000",
        "--granted",
        "storage_tb=2.5",
        "--reason",
        "Scaling evidence covers 15,000 hours.",
        "--cluster",
        "meluxina",
        "--partition",
        "gpu",
        "--json",
    )
    row = json.loads(out)
    project = Project.objects.get(application=assessed)
    allocation = Allocation.objects.get(project=project)
    assert row["outcome"] == "accepted_reduced" and row["project"] == project.code
    assert row["granted"] == {"gpu_hours": 15000, "storage_tb": 2.5} == allocation.resources
    assert row["allocation"] == str(allocation.pk)
    assert (allocation.cluster, allocation.partition) == ("meluxina", "gpu")
    assessed.refresh_from_db()
    assert assessed.status == ApplicationStatus.DECIDED
    with pytest.raises(CommandError, match="decided already"):
        run("decide", assessed.reference, "--outcome", "rejected", "--reason", "No.")


def test_decide_text_and_rejection(assessed):
    out = run("decide", assessed.reference, "--outcome", "accepted")
    assert f"Decided {assessed.reference}: accepted; granted gpu_hours 20000" in out
    assert "project " in out


def test_decide_errors(assessed, applicant, call, org, pool):
    ref = assessed.reference
    with pytest.raises(CommandError, match="--outcome"):
        run("decide", ref, "--outcome", "maybe")
    with pytest.raises(CommandError, match="--granted"):
        run(
            "decide",
            ref,
            "--outcome",
            "accepted_reduced",
            "--granted",
            "gpu_hours",
            "--reason",
            "r",
        )
    with pytest.raises(CommandError, match="--granted: gpu_hours is given twice"):
        run(
            "decide",
            ref,
            "--outcome",
            "accepted_reduced",
            "--granted",
            "gpu_hours=1",
            "--granted",
            "gpu_hours=2",
            "--reason",
            "r",
        )
    with pytest.raises(CommandError, match="granted.gpu_hours: Enter a number"):
        run(
            "decide",
            ref,
            "--outcome",
            "accepted_reduced",
            "--granted",
            "gpu_hours=lots",
            "--reason",
            "r",
        )
    with pytest.raises(CommandError, match="granted.gpu_hours: At most"):
        run(
            "decide",
            ref,
            "--outcome",
            "accepted_reduced",
            "--granted",
            "gpu_hours=90000",
            "--reason",
            "r",
        )
    with pytest.raises(CommandError, match="reason: "):
        run("decide", ref, "--outcome", "rejected")
    pool.capacity = {"gpu_hours": 100}
    pool.save()
    with pytest.raises(CommandError, match="granted.gpu_hours: .*only 100 left"):
        run("decide", ref, "--outcome", "accepted")
    draft = services.application_create(actor=applicant, call=call, organisation=org)
    with pytest.raises(CommandError, match="cannot be decided"):
        run("decide", draft.reference, "--outcome", "rejected", "--reason", "Draft.")
    assert not Decision.objects.exists() and not Project.objects.exists()


def test_ranking(applicant, org, operator, large_call, reviewer):
    low = _peer(applicant, org, operator, large_call, title="Low")
    high = _peer(applicant, org, operator, large_call, title="High")
    for app, score in ((low, 2), (high, 5)):
        run("assign", app.reference, "--reviewer", reviewer.email)
        review = Review.objects.get(application=app, kind="peer")
        review_declare_conflict(actor=reviewer, review=review, conflict=False)
        peer_review_submit(
            actor=reviewer,
            review=review,
            scores={"excellence": score, "impact": score, "feasibility": score},
            comments="ok",
        )
    result = json.loads(run("ranking", large_call.code, "--json"))
    assert result["cutoff"] == CUTOFF.isoformat()
    assert [r["application"] for r in result["rows"]] == [high.reference, low.reference]
    assert [r["running_gpu_hours"] for r in result["rows"]] == [20000, 40000]
    assert result["rows"][0]["score"]["total"] == 5.0
    text = run("ranking", large_call.code, "--cutoff", CUTOFF.isoformat())
    assert "2 application(s)" in text and "5.00" in text and high.reference in text
    # A date of the call without applications ranks nothing; any other date is named.
    large_call.cutoffs = [CUTOFF.isoformat(), (CUTOFF + timedelta(days=7)).isoformat()]
    large_call.save()
    later = json.loads(run("ranking", large_call.code, "--cutoff", large_call.cutoffs[1], "--json"))
    assert later["rows"] == [] and later["cutoff"] == large_call.cutoffs[1]
    other = (CUTOFF + timedelta(days=3)).isoformat()
    with pytest.raises(CommandError, match=f"--cutoff: “{other}” is not a cut-off date"):
        run("ranking", large_call.code, "--cutoff", other)
    with pytest.raises(CommandError, match="--cutoff: Give a date as YYYY-MM-DD"):
        run("ranking", large_call.code, "--cutoff", "next week")
    with pytest.raises(CommandError, match="call: no call"):
        run("ranking", "no-such-call")
