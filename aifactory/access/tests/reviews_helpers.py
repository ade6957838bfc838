"""Shared set-up of the review and decision tests (test_reviews_*.py, test_decisions_*.py): the
application fixtures of applications_helpers, reviewers, and short ways to bring an application
to a review stage through the real services."""

import pytest

from aifactory.access import services
from aifactory.access.models import Application, Review

from .applications_helpers import (  # the fixtures, passed on
    COMPLETE,
    applicant,
    application,
    call,
    complete_application,
    make_call,
    make_mode,
    mode,
    operator,
    org,
    pool,
    submitted,
)

__all__ = [  # the fixtures; tests import the functions and constants by name
    "applicant",
    "application",
    "call",
    "complete_application",
    "make_reviewer",
    "mode",
    "operator",
    "org",
    "pool",
    "submitted",
]

ASSESSMENT = {
    "feasibility": "Runs on 8 GPUs today.",
    "software": "PyTorch 2, containerised.",
    "data": "1.2 TB, already on the project storage.",
    "scaling": "Linear to 64 GPUs in the benchmark.",
}
GOOD = {"excellence": 5, "impact": 4, "feasibility": 4}
FAIR = {"excellence": 3, "impact": 3, "feasibility": 2}


@pytest.fixture
def make_reviewer(make_user):
    def make(email: str | None = None):
        return make_user(email, staff_role="reviewer")

    return make


def apply(applicant, org, call, **data) -> Application:
    """A complete application to the call, submitted (it waits in the eligibility check)."""
    app = services.application_create(
        actor=applicant, call=call, organisation=org, data=dict(COMPLETE, **data)
    )
    return services.application_submit(actor=applicant, application=app)


def eligible(app: Application, operator) -> Application:
    return services.application_eligibility_decide(actor=operator, application=app, eligible=True)


def assess(app: Application, operator, recommendation: str = "accept") -> Review:
    return services.technical_assessment_submit(
        actor=operator, application=app, assessment=ASSESSMENT, recommendation=recommendation
    )


def review_by(app: Application, operator, reviewer, scores: dict | None = None) -> Review:
    """Assign the reviewer, declare no conflict and, with scores, submit."""
    review = services.peer_reviewer_assign(actor=operator, application=app, reviewer=reviewer)
    services.review_declare_conflict(actor=reviewer, review=review, conflict=False)
    if scores is not None:
        services.peer_review_submit(
            actor=reviewer, review=review, scores=scores, comments="Well argued."
        )
    review.refresh_from_db()
    return review


def peer_mode_call(pool, **values):
    """A Large Scale-like mode (technical and peer review) with an open call."""
    values = {"code": "large", "reviews": ["technical", "peer"], **values}
    return make_call(make_mode(pool, **values))


def in_peer_review(applicant, org, call, operator, **data) -> Application:
    """Submitted, eligible and technically assessed: waiting for its peer reviews."""
    app = apply(applicant, org, call, **data)
    eligible(app, operator)
    assess(app, operator)
    app.refresh_from_db()
    return app
