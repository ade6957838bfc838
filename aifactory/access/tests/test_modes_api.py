"""Access modes, calls and pools over /api/v1/access and through `aifactory access`."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from aifactory.access.demo import load_demo_access
from aifactory.access.models import AccessMode, Call

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def demo(db):
    load_demo_access()


@pytest.fixture
def operator(make_user):
    return make_user(staff_role="operator")


def test_anyone_reads_active_modes_and_open_calls(demo, api):
    anonymous = api()
    modes = anonymous.get("/access/modes").json()
    assert [m["code"] for m in modes][:2] == ["playground", "fast-lane"]
    fast = anonymous.get("/access/modes/fast-lane").json()
    assert fast["limits"]["gpu_hours"]["max"] == 50_000 and fast["reviews"] == ["technical"]
    calls = anonymous.get("/access/calls?open=true").json()
    assert len(calls) == 5 and {c["status"] for c in calls} == {"open"}
    large = [c for c in calls if c["mode"] == "large-scale"][0]
    assert len(large["cutoffs"]) == 4
    assert anonymous.get(f"/access/calls/{large['code']}").json()["code"] == large["code"]


def test_inactive_modes_and_draft_calls_are_for_operators(demo, api, operator, make_user):
    AccessMode.objects.filter(code="national").update(is_active=False)
    Call.objects.filter(mode__code="playground").update(status="draft")
    draft = Call.objects.get(mode__code="playground").code
    for client in (api(), api(make_user())):
        assert "national" not in [m["code"] for m in client.get("/access/modes").json()]
        assert client.get("/access/modes/national").status_code == 404
        assert client.get(f"/access/calls/{draft}").status_code == 404
        assert draft not in str(client.get("/access/calls").json())
    staff = api(operator)
    assert staff.get("/access/modes/national").status_code == 200
    assert staff.get(f"/access/calls/{draft}").json()["status"] == "draft"


def test_pools_are_for_staff_with_usage(demo, api, operator, make_user):
    assert api().get("/access/pools").status_code == 401
    assert api(make_user()).get("/access/pools").status_code == 403
    pools = api(make_user(staff_role="advisor")).get("/access/pools").json()
    assert len(pools) == 2
    usage = pools[0]["usage"]["gpu_hours"]
    assert usage == {"capacity": 3_500_000, "committed": 0, "left": 3_500_000}


def test_operators_create_edit_open_and_close(demo, api, operator):
    client = api(operator)
    response = client.post(
        "/access/calls",
        {
            "code": "fast-autumn",
            "mode": "fast-lane",
            "title": {"en": "Fast Lane autumn"},
            "opens_at": "2026-09-01T09:00:00+02:00",
        },
    )
    assert response.status_code == 201 and response.json()["status"] == "draft"
    assert client.post("/access/calls/fast-autumn/close").status_code == 409
    assert client.post("/access/calls/fast-autumn/open").json()["status"] == "open"
    conflict = client.post("/access/calls/fast-autumn/open")
    assert conflict.status_code == 409 and conflict["Content-Type"] == PROBLEM
    assert "open" in conflict.json()["detail"]
    assert client.post("/access/calls/fast-autumn/close").json()["status"] == "closed"
    mode = client.patch("/access/modes/fast-lane", {"decision_days": 3}).json()
    assert mode["decision_days"] == 3
    pool = client.patch(f"/access/pools/{mode['pool']}", {"capacity": {"gpu_hours": 10}})
    assert pool.json()["usage"]["gpu_hours"]["left"] == 10


def test_bad_input_is_a_problem_naming_the_field(demo, api, operator):
    client = api(operator)
    response = client.patch(
        "/access/modes/fast-lane",
        {"limits": {"gpu_hours": {"min": 9, "max": 1}}, "durations_months": [], "decision_days": 0},
    )
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert set(response.json()["errors"]) == {"limits", "durations_months", "decision_days"}
    response = client.post("/access/modes", {"code": "x", "typo": 1})
    assert response.status_code == 422 and "typo" in response.json()["errors"]
    response = client.patch("/access/calls/fast-lane-2026", {"cutoffs": ["2026-05-01"]})
    assert response.status_code == 422 and "cutoffs" in response.json()["errors"]


def test_only_operators_write(demo, api, make_user):
    for role in ("", "advisor", "reviewer"):
        client = api(make_user(staff_role=role))
        assert client.patch("/access/modes/fast-lane", {"decision_days": 1}).status_code == 403
        assert client.post("/access/calls/fast-lane-2026/close").status_code == 403
    assert api().post("/access/calls/fast-lane-2026/close").status_code == 401
    assert AccessMode.objects.get(code="fast-lane").decision_days == 4


def run(*args) -> str:
    out = StringIO()
    call_command("access", *args, stdout=out)
    return out.getvalue()


def test_cli_lists_modes_calls_and_pools(demo):
    text = run("modes")
    assert "fast-lane" in text and "gpu_hours 0-50,000" in text and "4 working days" in text
    assert len(json.loads(run("modes", "--json"))) == 5
    Call.objects.filter(mode__code="national").update(status="closed")
    calls = json.loads(run("calls", "--open", "--json"))
    assert len(calls) == 4 and "national" not in [c["mode"] for c in calls]
    assert "cut-offs" in run("calls")
    pools = json.loads(run("pools", "--json"))
    assert pools[0]["usage"]["gpu_hours"]["left"] == 3_500_000
    assert "committed" in run("pools")


def test_cli_refuses_an_unknown_subcommand(db):
    with pytest.raises(CommandError):
        call_command("access", "nonsense")
