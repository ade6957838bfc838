"""Authorization rules of the advisor app's URLs (collected by core/tests/test_authorization.py)."""

from aifactory.advisor.models import Case, CaseEntry
from aifactory.advisor.services import cases as case_services
from aifactory.catalog.models import Offering
from aifactory.core.tests.matrix import ANON_401, API, LOGIN, ROLES, STAFF, Rule, by_role, expect

# --- support cases -----------------------------------------------------------------------------
# A case of organisation A: its members and the front desk (advisors, operators, administrators)
# see it; the outsider and the reviewer get 404, so ids reveal nothing.
CASE_VIEWERS = ["member", "manager", "owner", "advisor", "operator", "administrator"]
CASE_STAFF = ["advisor", "operator", "administrator"]
UNSEEN_CASE = {"outsider": 404, "reviewer": 404}
CASE_PAGE = "/cases/{w.case.pk}/"
CASE_API = API + "/cases/{w.case.reference}"


def setup(world):
    member = world.users["member"]
    world.case = case_services.case_open(
        actor=member, organisation=world.org, need="Wir brauchen Hilfe mit Angeboten."
    )
    world.linked_case = case_services.case_open(
        actor=member, organisation=world.org, need="Nous cherchons une formation en IA."
    )
    published = Offering.objects.get(external_id="matrix-published")
    case_services.case_link_offering(
        actor=world.users["advisor"], case=world.linked_case, offering=published
    )
    readiness_setup(world)


def _case(w) -> Case:
    return Case.objects.get(pk=w.case.pk)


def _wrote(w, role):
    return CaseEntry.objects.filter(case=w.case, body=f"matrix {role}").exists()


def _closed(w, role):
    return _case(w).status == "closed"


def _assigned_to_role(w, role):
    return w.users[role] is not None and _case(w).assigned_to_id == w.users[role].pk


def _assigned_to_advisor(w, role):
    return _case(w).assigned_to_id == w.users["advisor"].pk


def _triaged(w, role):
    return _case(w).stage == "fund"


def _linked(w, role):
    return _case(w).offerings.filter(external_id="matrix-published").exists()


def _unlinked(w, role):
    return not Case.objects.get(pk=w.linked_case.pk).offerings.exists()


def _opened(w, role):
    return Case.objects.filter(subject=f"matrix {role}").exists()


def _message(w, role):
    return {"body": f"matrix {role}"}


def pages(code: int) -> dict[str, int]:
    """Pages answer a redirect (302) after an action; HTTP 403/404 otherwise."""
    return {r: code for r in CASE_VIEWERS}


WRITERS = frozenset(CASE_VIEWERS)
RUNNERS = frozenset(CASE_STAFF)
MEMBERS_403 = {"member": 403, "manager": 403, "owner": 403}

RULES: dict[str, Rule] = {
    # --- portal pages ------------------------------------------------------------------------
    "advisor:case_list": Rule(
        "get",
        "/cases/",
        expect(200, LOGIN),
        shows_org={r: r in ("member", "manager", "owner") for r in ROLES if r != "anonymous"},
    ),
    "advisor:case_create": Rule("get", "/cases/new/", expect(200, LOGIN)),
    "advisor:case_detail": Rule("get", CASE_PAGE, expect(404, LOGIN, pages(200), UNSEEN_CASE)),
    "advisor:case_message": Rule(
        "post",
        CASE_PAGE + "messages/",
        expect(404, LOGIN, pages(302)),
        body=_message,
        effect=_wrote,
        done_by=WRITERS,
    ),
    "advisor:case_note": Rule(
        "post",
        CASE_PAGE + "notes/",
        expect(404, LOGIN, pages(302), MEMBERS_403),
        body=lambda w, role: {"body": f"matrix {role}", "visibility": "internal"},
        effect=_wrote,
        done_by=RUNNERS,
    ),
    "advisor:case_status": Rule(
        "post",
        CASE_PAGE + "status/",
        expect(404, LOGIN, pages(302)),
        body={"status": "closed", "reason": "withdrawn"},
        effect=_closed,
        done_by=WRITERS,
    ),
    "advisor:case_assign": Rule(
        "post",
        CASE_PAGE + "assign/",
        expect(404, LOGIN, pages(302), MEMBERS_403),
        body={"assignee": "me"},
        effect=_assigned_to_role,
        done_by=RUNNERS,
    ),
    "advisor:case_triage": Rule(
        "post",
        CASE_PAGE + "triage/",
        expect(404, LOGIN, pages(302), MEMBERS_403),
        body={"stage": "fund", "sector": "finance"},
        effect=_triaged,
        done_by=RUNNERS,
    ),
    "advisor:case_link": Rule(
        "post",
        CASE_PAGE + "offerings/",
        expect(404, LOGIN, pages(302), MEMBERS_403),
        body={"offering": "matrix-published"},
        effect=_linked,
        done_by=RUNNERS,
    ),
    "advisor:case_unlink": Rule(
        "post",
        "/cases/{w.linked_case.pk}/offerings/{w.offerings[published].pk}/unlink/",
        expect(404, LOGIN, pages(302), MEMBERS_403),
        effect=_unlinked,
        done_by=RUNNERS,
    ),
    "advisor:inbox": Rule(
        "get",
        "/advisor/inbox/",
        by_role(403, **LOGIN, advisor=200, operator=200, administrator=200),
        shows_org={r: r in CASE_STAFF for r in ROLES if r in STAFF},
    ),
    # --- API ---------------------------------------------------------------------------------
    "api:cases_list": Rule(
        "get",
        API + "/cases",
        expect(200, ANON_401),
        shows_org={r: r in CASE_VIEWERS for r in ROLES if r != "anonymous"},
    ),
    "api:cases_create": Rule(
        "post",
        API + "/cases",
        by_role(403, **ANON_401, member=201, manager=201, owner=201),
        body=lambda w, role: {
            "organisation": str(w.org.pk),
            "need": "Wir suchen eine Förderung für ein KI-Projekt.",
            "subject": f"matrix {role}",
        },
        effect=_opened,
        done_by=frozenset({"member", "manager", "owner"}),
    ),
    "api:cases_read": Rule("get", CASE_API, expect(404, ANON_401, pages(200), UNSEEN_CASE)),
    "api:cases_message": Rule(
        "post",
        CASE_API + "/messages",
        expect(404, ANON_401, pages(201)),
        body=_message,
        effect=_wrote,
        done_by=WRITERS,
    ),
    "api:cases_note": Rule(
        "post",
        CASE_API + "/notes",
        expect(404, ANON_401, pages(201), MEMBERS_403),
        body=lambda w, role: {"body": f"matrix {role}", "visibility": "shared"},
        effect=_wrote,
        done_by=RUNNERS,
    ),
    "api:cases_assign": Rule(
        "post",
        CASE_API + "/assign",
        expect(404, ANON_401, pages(200), MEMBERS_403),
        body=lambda w, role: {"assignee": w.users["advisor"].email},
        effect=_assigned_to_advisor,
        done_by=RUNNERS,
    ),
    "api:cases_triage": Rule(
        "post",
        CASE_API + "/triage",
        expect(404, ANON_401, pages(200), MEMBERS_403),
        body={"stage": "fund"},
        effect=_triaged,
        done_by=RUNNERS,
    ),
    "api:cases_status": Rule(
        "post",
        CASE_API + "/status",
        expect(404, ANON_401, pages(200)),
        body={"status": "closed", "reason": "withdrawn"},
        effect=_closed,
        done_by=WRITERS,
    ),
    "api:cases_link": Rule(
        "post",
        CASE_API + "/offerings",
        expect(404, ANON_401, pages(200), MEMBERS_403),
        body={"offering": "matrix-published"},
        effect=_linked,
        done_by=RUNNERS,
    ),
    "api:cases_unlink": Rule(
        "delete",
        API + "/cases/{w.linked_case.reference}/offerings/matrix-published",
        expect(404, ANON_401, pages(200), MEMBERS_403),
        effect=_unlinked,
        done_by=RUNNERS,
    ),
}

# Readiness assessments: their rules and records live in matrix_readiness.py.
from .matrix_readiness import READINESS_RULES, readiness_setup  # noqa: E402

RULES.update(READINESS_RULES)
