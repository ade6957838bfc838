"""Authorization rules of the review and decision pages, merged in matrix_rules.py.

The applications here belong to an organisation none of the matrix people is in, so the roles
differ only by staff role: operators and administrators assess, assign, decide and rank; the
person with the reviewer role sees and writes only the review assigned to them (an operator may
read a review but not write it: 403); everyone else gets 404 for a review or an application they
may not see, and 403 for the operators' pages.
"""

from django.utils import timezone

from aifactory.access.models import AccessMode, Application, Call, Review
from aifactory.access.services import applications as services
from aifactory.access.services import reviews as review_services
from aifactory.accounts import services as accounts
from aifactory.core.tests.matrix import Rule, by_role

OPERATING = frozenset({"operator", "administrator"})
REVIEWING = frozenset({"reviewer"})
PAGE_404 = {"anonymous": 302, "outsider": 404, "member": 404, "manager": 404, "owner": 404}
PAGE_404 |= {"advisor": 404, "reviewer": 404}
ASSESSMENT = {"feasibility": "f", "software": "s", "data": "d", "scaling": "x"}


def _codes(names, code):
    return {name: code for name in names}


def setup(world):
    operator = world.users["operator"]
    applicant = accounts.user_create(
        email="mx-revp-applicant@matrix.test", password="matrix-Pass-123", email_verified=True
    )
    accounts.terms_accept(user=applicant)
    org = accounts.organisation_create(
        actor=applicant, data={"legal_name": "Matrix Reviews", "country": "LU", "kind": "startup"}
    )
    mode = AccessMode.objects.create(
        code="mx-revp-peer",
        name={"en": "Matrix peer review"},
        pool=world.mx_pool,
        limits={"gpu_hours": {"min": 0, "max": 1000}},
        durations_months=[1, 2],
        reviews=["technical", "peer"],
        has_cutoffs=True,
        decision_days=10,
    )
    world.revp_call = Call.objects.create(
        code="mx-revp-call",
        mode=mode,
        title={"en": "Matrix review call"},
        status="open",
        opens_at=timezone.now() - timezone.timedelta(days=1),
        cutoffs=[(timezone.localdate() + timezone.timedelta(days=60)).isoformat()],
    )
    data = {
        "abstract": "a",
        "objectives": "o",
        "sector": "finance",
        "ai_act_risk": "minimal",
        "ai_act_reasons": "r",
        "model_type": "m",
        "datasets": "d",
        "requested": {"gpu_hours": 10},
        "duration_months": 1,
        "start_date": "2027-01-04",
        "justification": "j",
        "ethics_note": "e",
    }

    def in_review(title, peer=False):
        app = services.application_create(
            actor=applicant,
            call=world.revp_call,
            organisation=org,
            data={**data, "title": title},
        )
        services.application_submit(actor=applicant, application=app)
        services.application_eligibility_decide(actor=operator, application=app, eligible=True)
        if peer:
            review_services.technical_assessment_submit(
                actor=operator, application=app, assessment=ASSESSMENT, recommendation="accept"
            )
        app.refresh_from_db()
        return app

    reviewer = world.users["reviewer"]
    world.revp_technical = in_review("Matrix technical review")
    peer_open = in_review("Matrix peer review, undeclared", peer=True)
    world.revp_review_open = review_services.peer_reviewer_assign(
        actor=operator, application=peer_open, reviewer=reviewer
    )
    peer_ready = in_review("Matrix peer review, declared", peer=True)
    world.revp_review_ready = review_services.peer_reviewer_assign(
        actor=operator, application=peer_ready, reviewer=reviewer
    )
    review_services.review_declare_conflict(
        actor=reviewer, review=world.revp_review_ready, conflict=False
    )


def _status(w, role):
    return Application.objects.get(pk=w.revp_technical.pk).status


def _review(name):
    return lambda w: Review.objects.filter(pk=getattr(w, name).pk).first()


def _declared(w, role):
    return _review("revp_review_open")(w).conflict_declared is False


def _scored(w, role):
    return _review("revp_review_ready")(w).status == "submitted"


def _unassigned(w, role):
    return _review("revp_review_open")(w) is None


def _assessed(w, role):
    return _status(w, role) == "peer_review"


def _assigned(w, role):
    return Review.objects.filter(
        application=w.revp_technical, reviewer__email="reviewer@matrix.test"
    ).exists()


def _rejected(w, role):
    return _status(w, role) == "decided"


APP = "/access/applications/{w.revp_technical.pk}/"
OPEN = "/access/reviews/{w.revp_review_open.pk}/"
READY = "/access/reviews/{w.revp_review_ready.pk}/"
OPERATOR_PAGE = by_role(403, **PAGE_404, **_codes(OPERATING, 302))
# The reviewer's own review: operators may read it, only the reviewer writes it.
REVIEW_WRITE = by_role(404, anonymous=302, reviewer=302, **_codes(OPERATING, 403))
SCORES = {"scores.excellence": "4", "scores.impact": "3", "scores.feasibility": "5"}

RULES: dict[str, Rule] = {
    "access:review_list": Rule(
        "get", "/access/reviews/", by_role(403, anonymous=302, reviewer=200, administrator=200)
    ),
    "access:review_detail": Rule(
        "get", OPEN, by_role(404, anonymous=302, reviewer=200, **_codes(OPERATING, 200))
    ),
    "access:review_conflict": Rule(
        "post",
        OPEN + "conflict/",
        REVIEW_WRITE,
        body={"conflict": "no"},
        effect=_declared,
        done_by=REVIEWING,
    ),
    "access:review_submit": Rule(
        "post",
        READY + "submit/",
        REVIEW_WRITE,
        body={**SCORES, "comments": "Sound plan."},
        effect=_scored,
        done_by=REVIEWING,
    ),
    "access:review_unassign": Rule(
        "post",
        OPEN + "unassign/",
        by_role(404, anonymous=302, reviewer=403, **_codes(OPERATING, 302)),
        effect=_unassigned,
        done_by=OPERATING,
    ),
    "access:application_technical": Rule(
        "post",
        APP + "technical/",
        OPERATOR_PAGE,
        body={f"assessment.{k}": v for k, v in ASSESSMENT.items()} | {"recommendation": "accept"},
        effect=_assessed,
        done_by=OPERATING,
    ),
    "access:application_reviewer_assign": Rule(
        "post",
        APP + "reviewers/",
        OPERATOR_PAGE,
        body={"reviewer": "reviewer@matrix.test"},
        effect=_assigned,
        done_by=OPERATING,
    ),
    "access:application_decide": Rule(
        "post",
        APP + "decide/",
        OPERATOR_PAGE,
        body={"outcome": "rejected", "reason": "Out of scope."},
        effect=_rejected,
        done_by=OPERATING,
    ),
    "access:call_ranking": Rule(
        "get",
        "/access/calls/mx-revp-call/ranking/",
        by_role(403, anonymous=302, **_codes(OPERATING, 200)),
    ),
}
