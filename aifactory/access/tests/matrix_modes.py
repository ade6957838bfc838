"""Authorization rules of the access app (modes), merged in matrix_rules.py.

Active modes and open calls are public; pools are for the staff; operators and administrators
alone create and edit modes, pools and calls, and open and close calls. A draft call is
invisible (404) to everyone else.
"""

from aifactory.access.models import AccessMode, Call, CapacityPool
from aifactory.access.services import modes as services
from aifactory.core.tests.matrix import ANON_401, API, STAFF, Rule, by_role

OPERATING = frozenset({"operator", "administrator"})
OPERATORS = {"operator": 200, "administrator": 200}
CREATED = {"operator": 201, "administrator": 201}
PAGE_DONE = {"operator": 302, "administrator": 302}
STAFF_200 = {r: 200 for r in STAFF}
ACCESS = API + "/access"


def setup(world):
    operator = world.users["operator"]
    world.mx_pool = services.pool_create(
        actor=operator,
        data={
            "code": "mx-pool",
            "name": "Matrix pool",
            "share_percent": 50,
            "capacity": {"gpu_hours": 1000},
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
        },
    )
    world.mx_mode = services.mode_create(
        actor=operator,
        data={
            "code": "mx-mode",
            "name": {"en": "Matrix mode"},
            "pool": "mx-pool",
            "limits": {"gpu_hours": {"max": 100}},
            "durations_months": [1],
            "has_cutoffs": True,
            "decision_days": 3,
        },
    )
    for code in ("mx-draft", "mx-open"):
        call = services.call_create(
            actor=operator,
            data={"code": code, "mode": "mx-mode", "title": code, "opens_at": "2026-01-01"},
        )
        if code == "mx-open":
            services.call_open(actor=operator, call=call)


def _exists(model, code_of):
    return lambda w, role: model.objects.filter(code=code_of(role)).exists()


def _mode_days(w, role):
    return AccessMode.objects.get(code="mx-mode").decision_days == 7


def _call_status(code, status):
    return lambda w, role: Call.objects.get(code=code).status == status


def _cutoffs_set(w, role):
    return Call.objects.get(code="mx-open").cutoffs == ["2026-03-01"]


def _pool_renamed(w, role):
    return CapacityPool.objects.get(code="mx-pool").name == "Renamed"


def _new_code(role):
    return f"mx-new-{role}"


RULES: dict[str, Rule] = {
    # --- API ---------------------------------------------------------------------------------
    "api:modes_list": Rule("get", ACCESS + "/modes", by_role(200)),
    "api:modes_read": Rule("get", ACCESS + "/modes/mx-mode", by_role(200)),
    "api:modes_create": Rule(
        "post",
        ACCESS + "/modes",
        by_role(403, **ANON_401, **CREATED),
        body=lambda w, role: {
            "code": _new_code(role),
            "name": "New mode",
            "pool": "mx-pool",
            "limits": {"gpu_hours": {"max": 10}},
            "durations_months": [1],
            "decision_days": 2,
        },
        effect=_exists(AccessMode, _new_code),
        done_by=OPERATING,
    ),
    "api:modes_update": Rule(
        "patch",
        ACCESS + "/modes/mx-mode",
        by_role(403, **ANON_401, **OPERATORS),
        body={"decision_days": 7},
        effect=_mode_days,
        done_by=OPERATING,
    ),
    "api:calls_list": Rule("get", ACCESS + "/calls?open=true", by_role(200)),
    "api:calls_read": Rule("get", ACCESS + "/calls/mx-draft", by_role(404, **OPERATORS)),
    "api:calls_create": Rule(
        "post",
        ACCESS + "/calls",
        by_role(403, **ANON_401, **CREATED),
        body=lambda w, role: {
            "code": _new_code(role),
            "mode": "mx-mode",
            "title": "New call",
            "opens_at": "2026-02-01T09:00",
        },
        effect=_exists(Call, _new_code),
        done_by=OPERATING,
    ),
    "api:calls_update": Rule(
        "patch",
        ACCESS + "/calls/mx-open",
        by_role(403, **ANON_401, **OPERATORS),
        body={"cutoffs": ["2026-03-01"]},
        effect=_cutoffs_set,
        done_by=OPERATING,
    ),
    "api:calls_open": Rule(
        "post",
        ACCESS + "/calls/mx-draft/open",
        by_role(404, **ANON_401, **OPERATORS),
        effect=_call_status("mx-draft", "open"),
        done_by=OPERATING,
    ),
    "api:calls_close": Rule(
        "post",
        ACCESS + "/calls/mx-open/close",
        by_role(403, **ANON_401, **OPERATORS),
        effect=_call_status("mx-open", "closed"),
        done_by=OPERATING,
    ),
    "api:pools_list": Rule("get", ACCESS + "/pools", by_role(403, **ANON_401, **STAFF_200)),
    "api:pools_read": Rule("get", ACCESS + "/pools/mx-pool", by_role(403, **ANON_401, **STAFF_200)),
    "api:pools_create": Rule(
        "post",
        ACCESS + "/pools",
        by_role(403, **ANON_401, **CREATED),
        body=lambda w, role: {
            "code": _new_code(role),
            "name": "New pool",
            "share_percent": 10,
            "capacity": {"gpu_hours": 5},
            "period_start": "2027-01-01",
            "period_end": "2027-12-31",
        },
        effect=_exists(CapacityPool, _new_code),
        done_by=OPERATING,
    ),
    "api:pools_update": Rule(
        "patch",
        ACCESS + "/pools/mx-pool",
        by_role(403, **ANON_401, **OPERATORS),
        body={"name": "Renamed"},
        effect=_pool_renamed,
        done_by=OPERATING,
    ),
    # --- pages -------------------------------------------------------------------------------
    "access:modes": Rule("get", "/access/", by_role(200)),
    "access:manage": Rule("get", "/access/manage/", by_role(403, anonymous=302, **OPERATORS)),
    "access:mode_create": Rule(
        "get", "/access/modes/new/", by_role(403, anonymous=302, **OPERATORS)
    ),
    "access:mode_edit": Rule(
        "get", "/access/modes/mx-mode/edit/", by_role(403, anonymous=302, **OPERATORS)
    ),
    "access:pool_create": Rule(
        "get", "/access/pools/new/", by_role(403, anonymous=302, **OPERATORS)
    ),
    "access:pool_detail": Rule(
        "get", "/access/pools/mx-pool/", by_role(403, anonymous=302, **STAFF_200)
    ),
    "access:pool_edit": Rule(
        "get", "/access/pools/mx-pool/edit/", by_role(403, anonymous=302, **OPERATORS)
    ),
    "access:call_create": Rule(
        "get", "/access/calls/new/", by_role(403, anonymous=302, **OPERATORS)
    ),
    "access:call_edit": Rule(
        "get", "/access/calls/mx-open/edit/", by_role(403, anonymous=302, **OPERATORS)
    ),
    "access:call_open": Rule(
        "post",
        "/access/calls/mx-draft/open/",
        by_role(404, anonymous=302, **PAGE_DONE),
        effect=_call_status("mx-draft", "open"),
        done_by=OPERATING,
    ),
    "access:call_close": Rule(
        "post",
        "/access/calls/mx-open/close/",
        by_role(403, anonymous=302, **PAGE_DONE),
        effect=_call_status("mx-open", "closed"),
        done_by=OPERATING,
    ),
}
