"""The projects API: who sees what, members, change requests and the external import."""

import json
from datetime import date, timedelta

from django.test import Client

from aifactory.access.models import ChangeRequest, Project
from aifactory.access.services import projects as services

from .projects_helpers import *  # noqa: F403 - the fixtures
from .projects_helpers import external, open_project


def test_list_and_read_by_role(api, team, project):
    assert api(team["outsider"]).get("/projects").json()["items"] == []
    for who in ("pi", "manager", "member", "org_manager", "operator"):
        items = api(team[who]).get("/projects").json()["items"]
        assert [p["code"] for p in items] == [project.code], who
    assert api(team["outsider"]).get(f"/projects/{project.code}").status_code == 404
    assert api().get("/projects").status_code == 401
    body = api(team["member"]).get(f"/projects/{project.pk}").json()
    assert {m["user"]["email"]: m["role"] for m in body["members"]}["pi@lab.example"] == "pi"
    allocation = body["allocations"][0]
    assert len(allocation["tranches"]) == 12
    assert sum(t["amounts"]["gpu_hours"] for t in allocation["tranches"]) == 1200
    assert allocation["slurm_account"] and allocation["tranche_policy"] == "monthly_carry"
    assert set(body) >= {"members", "allocations", "change_requests", "organisation"}


def test_current_tranche_and_available_today(api, team):
    today = date.today()
    project = open_project(
        team,
        policy="none",
        start=today,
        end=today + timedelta(days=30),
        resources={"gpu_hours": 28},
    )
    allocation = api(team["pi"]).get(f"/projects/{project.code}").json()["allocations"][0]
    assert allocation["current_tranche"] == 0
    assert allocation["available"] == {"gpu_hours": 28}


def test_members_api(api, team, project):
    path = f"/projects/{project.code}/members"
    assert api(team["member"]).post(path, {"email": "newcomer@lab.example"}).status_code == 403
    response = api(team["pi"]).post(path, {"email": "newcomer@lab.example", "role": "member"})
    assert response.status_code == 201, response.content
    assert api(team["pi"]).post(path, {"email": "nobody@x.example"}).json()["errors"]["email"]
    assert api(team["pi"]).post(path, {"email": "newcomer@lab.example"}).status_code == 409
    newcomer = team["newcomer"].pk
    response = api(team["operator"]).patch(f"{path}/{newcomer}", {"role": "manager"})
    assert response.json()["role"] == "manager"
    assert api(team["pi"]).delete(f"{path}/{team['pi'].pk}").status_code == 409
    assert api(team["pi"]).delete(f"{path}/{newcomer}").status_code == 204
    assert api(team["pi"]).delete(f"{path}/{newcomer}").status_code == 404
    assert len(api(team["member"]).get(path).json()) == 3


def test_change_request_cycle(api, team, project):
    path = f"/projects/{project.code}/change-requests"
    payload = {
        "kind": "resources",
        "details": {"resources": {"gpu_hours": 300}},
        "reason": "More runs",
    }
    assert api(team["member"]).post(path, payload).status_code == 403
    response = api(team["manager"]).post(path, payload)
    assert response.status_code == 201, response.content
    change_id = response.json()["id"]
    assert api(team["operator"]).get("/projects/change-requests").json()[0]["id"] == change_id
    assert api(team["pi"]).get("/projects/change-requests").status_code == 403
    assert api(team["pi"]).post(f"{path}/{change_id}/approve", {}).status_code == 403
    response = api(team["operator"]).post(f"{path}/{change_id}/approve", {"note": "fine"})
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert (
        api(team["operator"]).post(f"{path}/{change_id}/refuse", {"reason": "x"}).status_code == 409
    )
    body = api(team["pi"]).get(f"/projects/{project.code}").json()
    assert body["allocations"][0]["resources"]["gpu_hours"] == 1500
    assert body["change_requests"][0]["status"] == "approved"


def test_change_request_bad_input(api, team, project):
    path = f"/projects/{project.code}/change-requests"
    response = api(team["pi"]).post(
        path, {"kind": "extension", "details": {"end": "2026-01-01"}, "reason": "r"}
    )
    assert response.status_code == 422 and "details.end" in response.json()["errors"]
    response = api(team["pi"]).post(path, {"kind": "extension", "reason": "r", "colour": 1})
    assert response.status_code == 422
    other = open_project(team)
    allocation = other.allocations.get().pk
    response = api(team["pi"]).post(
        path,
        {
            "kind": "extension",
            "details": {"end": "2027-06-01"},
            "reason": "r",
            "allocation": str(allocation),
        },
    )
    assert response.status_code == 422 and "allocation" in response.json()["errors"]
    change = services.change_request_create(
        actor=team["pi"],
        project=project,
        kind="extension",
        details={"end": "2027-06-01"},
        reason="r",
    )
    response = api(team["operator"]).post(f"{path}/{change.pk}/refuse", {"reason": ""})
    assert response.status_code == 422 and "reason" in response.json()["errors"]
    # A change request is reached through its own project only.
    response = api(team["operator"]).post(
        f"/projects/{other.code}/change-requests/{change.pk}/refuse", {"reason": "no"}
    )
    assert response.status_code == 404
    assert ChangeRequest.objects.get(pk=change.pk).status == "requested"


def test_import_external(api, team):
    response = api(team["operator"]).post("/projects/import-external", external())
    assert response.status_code == 201, response.content
    assert response.json()["created"] is True
    assert response.json()["project"]["external_id"] == "EHPC-AI-2026-001"
    response = api(team["operator"]).post("/projects/import-external", external(title="Renamed"))
    assert response.status_code == 200 and response.json()["project"]["title"] == "Renamed"
    assert api(team["pi"]).post("/projects/import-external", external()).status_code == 403
    response = api(team["operator"]).post(
        "/projects/import-external", external(pi="", resources={})
    )
    assert response.status_code == 422
    assert {"pi", "resources"} <= set(response.json()["errors"])
    assert Project.objects.count() == 1


def test_import_rejects_a_body_that_is_not_json(team):
    from aifactory.accounts import services as accounts

    _token, secret = accounts.token_create(user=team["operator"], name="t")
    response = Client().post(
        "/api/v1/projects/import-external",
        data="{nope",
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 400
    assert json.loads(response.content)["detail"].startswith("The body is not valid JSON")
