"""Authorization rules of the review and decision API (reviews_api.py), merged in matrix_rules.py.

Operators and administrators write the technical assessment, assign and take off reviewers,
decide and rank. A review is seen only by its reviewer and the operators (404 for anyone else);
only its reviewer declares a conflict and scores it (403 for an operator). The reviewer assigned
to an application sees it and the reviews they may see; members of the applicant organisation see
the decision once taken (404 before it) and the reviews only then.
"""

from django.utils import timezone

from aifactory.access.models import AccessMode, Application, Call, Review
from aifactory.access.services import applications as services
from aifactory.access.services import decisions as decisions
from aifactory.access.services import reviews as reviews
from aifactory.accounts import services as accounts
from aifactory.core.tests.matrix import API, Rule, by_role

ACCESS = API + "/access"
APPS = ACCESS + "/applications"
OPERATING = frozenset({"operator", "administrator"})
VIEW_404 = {"anonymous": 401, "outsider": 404, "advisor": 404, "reviewer": 404}
SECOND = "mx-revapi-second@matrix.test"
ASSESSMENT = {"feasibility": "f", "software": "s", "data": "d", "scaling": "x"}
COMPLETE = {
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


def _codes(names, code):
    return {name: code for name in names}


def setup(world):
    owner, operator = world.users["owner"], world.users["operator"]
    reviewer = world.users["reviewer"]
    mode = AccessMode.objects.create(
        code="mx-revapi",
        name={"en": "Matrix reviews API"},
        pool=world.mx_pool,
        limits={"gpu_hours": {"min": 0, "max": 1000}},
        durations_months=[1, 2],
        reviews=["technical", "peer"],
        decision_days=10,
    )
    world.revapi_call = Call.objects.create(
        code="mx-revapi-open",
        mode=mode,
        title={"en": "Matrix reviews API call"},
        status="open",
        opens_at=timezone.now() - timezone.timedelta(days=1),
    )

    def technical(title):
        app = services.application_create(
            actor=owner,
            call=world.revapi_call,
            organisation=world.org,
            data={**COMPLETE, "title": title},
        )
        services.application_submit(actor=owner, application=app)
        return services.application_eligibility_decide(
            actor=operator, application=app, eligible=True, reason="Matrix."
        )

    def peer(title):
        app = technical(title)
        reviews.technical_assessment_submit(
            actor=operator, application=app, assessment=ASSESSMENT, recommendation="accept"
        )
        return app, reviews.peer_reviewer_assign(actor=operator, application=app, reviewer=reviewer)

    world.revapi_tech = technical("Matrix reviews API technical")
    world.revapi_peer, world.revapi_open = peer("Matrix reviews API peer")
    _app, world.revapi_ready = peer("Matrix reviews API ready")
    reviews.review_declare_conflict(actor=reviewer, review=world.revapi_ready, conflict=False)
    world.revapi_decided = technical("Matrix reviews API decided")
    decisions.application_decide(
        actor=operator, application=world.revapi_decided, outcome="rejected", reason="Matrix."
    )
    accounts.user_create(
        email=SECOND, password="matrix-Pass-123", staff_role="reviewer", email_verified=True
    )


def _status(name, status):
    return lambda w, role: Application.objects.get(pk=getattr(w, name).pk).status == status


def _assigned(w, role):
    return Review.objects.filter(application=w.revapi_peer, reviewer__email=SECOND).exists()


def _unassigned(w, role):
    return not Review.objects.filter(pk=w.revapi_open.pk).exists()


def _declared(w, role):
    return Review.objects.get(pk=w.revapi_open.pk).conflict_declared is False


def _scored(w, role):
    return Review.objects.get(pk=w.revapi_ready.pk).status == "submitted"


TECH = APPS + "/{w.revapi_tech.pk}"
PEER = APPS + "/{w.revapi_peer.pk}"
OPEN = ACCESS + "/reviews/{w.revapi_open.pk}"
READY = ACCESS + "/reviews/{w.revapi_ready.pk}"
# The assigned reviewer sees the peer application but may not run it.
PEER_MANAGE = by_role(403, anonymous=401, outsider=404, advisor=404)
# A review: 404 for whoever is neither its reviewer nor an operator.
REVIEWER_WRITES = by_role(404, anonymous=401, reviewer=200, **_codes(OPERATING, 403))

RULES: dict[str, Rule] = {
    "api:applications_reviews": Rule(
        "get", PEER + "/reviews", by_role(200, anonymous=401, outsider=404, advisor=404)
    ),
    "api:applications_technical_assessment": Rule(
        "post",
        TECH + "/technical-assessment",
        by_role(403, **VIEW_404, **_codes(OPERATING, 201)),
        body={"assessment": ASSESSMENT, "recommendation": "accept"},
        effect=_status("revapi_tech", "peer_review"),
        done_by=OPERATING,
    ),
    "api:applications_reviewer_assign": Rule(
        "post",
        PEER + "/reviewers",
        {**PEER_MANAGE, **_codes(OPERATING, 201)},
        body={"reviewer": SECOND},
        effect=_assigned,
        done_by=OPERATING,
    ),
    "api:applications_decision": Rule(
        "get", APPS + "/{w.revapi_decided.pk}/decision", by_role(200, **VIEW_404)
    ),
    "api:applications_decide": Rule(
        "post",
        TECH + "/decision",
        by_role(403, **VIEW_404, **_codes(OPERATING, 201)),
        body={"outcome": "rejected", "reason": "Out of scope."},
        effect=_status("revapi_tech", "decided"),
        done_by=OPERATING,
    ),
    "api:reviews_list": Rule(
        "get", ACCESS + "/reviews", by_role(403, anonymous=401, reviewer=200, administrator=200)
    ),
    "api:reviews_read": Rule(
        "get", OPEN, by_role(404, anonymous=401, reviewer=200, **_codes(OPERATING, 200))
    ),
    "api:reviews_unassign": Rule(
        "delete",
        OPEN,
        by_role(404, anonymous=401, reviewer=403, **_codes(OPERATING, 204)),
        effect=_unassigned,
        done_by=OPERATING,
    ),
    "api:reviews_conflict": Rule(
        "post",
        OPEN + "/conflict",
        REVIEWER_WRITES,
        body={"conflict": False},
        effect=_declared,
        done_by=frozenset({"reviewer"}),
    ),
    "api:reviews_submit": Rule(
        "post",
        READY + "/submit",
        REVIEWER_WRITES,
        body={"scores": {"excellence": 4, "impact": 4, "feasibility": 4}, "comments": "Fine."},
        effect=_scored,
        done_by=frozenset({"reviewer"}),
    ),
    "api:calls_ranking": Rule(
        "get",
        ACCESS + "/calls/mx-revapi-open/ranking",
        by_role(403, anonymous=401, **_codes(OPERATING, 200)),
    ),
}
