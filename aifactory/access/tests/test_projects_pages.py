"""The project pages: my projects, a project's page with its forms, the operators' queue."""

from datetime import date, timedelta

from django.test import Client

from aifactory.access.models import ChangeRequest
from aifactory.access.services import projects as services

from .projects_helpers import *  # noqa: F403 - the fixtures
from .projects_helpers import open_project


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_my_projects_lists_mine_and_the_ones_i_oversee(team, project):
    page = client_for(team["member"]).get("/projects/")
    assert page.status_code == 200 and project.code in page.content.decode()
    page = client_for(team["org_manager"]).get("/projects/").content.decode()
    assert 'id="other-projects"' in page and project.code in page
    page = client_for(team["outsider"]).get("/projects/").content.decode()
    assert project.code not in page
    assert Client().get("/projects/").status_code == 302


def test_project_page_shows_allocation_tranche_and_forms_by_role(team):
    today = date.today()
    project = open_project(
        team,
        policy="none",
        start=today,
        end=today + timedelta(days=60),
        resources={"gpu_hours": 777},
    )
    page = client_for(team["member"]).get(f"/projects/{project.code}/").content.decode()
    assert "777" in page and project.allocations.get().slurm_account in page
    assert "change-request-form" not in page and "member-add" not in page
    page = client_for(team["manager"]).get(f"/projects/{project.code}/").content.decode()
    assert "change-request-form" in page and "member-add" not in page
    page = client_for(team["pi"]).get(f"/projects/{project.code}/").content.decode()
    assert "change-request-form" in page and "member-add" in page
    assert client_for(team["outsider"]).get(f"/projects/{project.code}/").status_code == 404


def test_project_title_is_escaped(team):
    project = services.project_create(
        actor=team["operator"],
        organisation=team["org"],
        title="<script>alert(1)</script>",
        members=[(team["pi"], "pi")],
        allocation={"resources": {"gpu_hours": 1}, "start": "2026-01-01", "end": "2026-01-31"},
    )
    page = client_for(team["pi"]).get(f"/projects/{project.code}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_request_and_decide_through_the_pages(team, project):
    manager = client_for(team["manager"])
    response = manager.post(
        f"/projects/{project.code}/change-requests/",
        {"kind": "resources", "gpu_hours": "250", "reason": "Bigger batch"},
    )
    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.details == {"resources": {"gpu_hours": 250}}
    # Bad input is shown on the form, nothing written.
    response = manager.post(
        f"/projects/{project.code}/change-requests/",
        {"kind": "extension", "end": "2026-03-01", "reason": "x"},
    )
    assert response.status_code == 200 and "after the current end" in response.content.decode()
    assert ChangeRequest.objects.count() == 1
    operator = client_for(team["operator"])
    queue = operator.get("/access/change-requests/").content.decode()
    assert f"change-{change.pk}" in queue
    assert client_for(team["pi"]).get("/access/change-requests/").status_code == 403
    url = f"/projects/{project.code}/change-requests/{change.pk}/"
    assert client_for(team["pi"]).post(url + "approve/", {}).status_code == 403
    response = operator.post(url + "refuse/", {"note": ""})
    assert response.status_code == 200
    change.refresh_from_db()
    assert change.status == "requested"
    response = operator.post(url + "approve/", {"note": "ok", "next": "queue"})
    assert response.status_code == 302 and response.url == "/access/change-requests/"
    change.refresh_from_db()
    assert change.status == "approved"
    assert project.allocations.get().resources["gpu_hours"] == 1450
    response = operator.post(url + "refuse/", {"note": "late"}, follow=True)
    assert "already" in response.content.decode()


def test_members_through_the_pages(team, project):
    pi = client_for(team["pi"])
    response = pi.post(
        f"/projects/{project.code}/members/", {"email": "nobody@x.example", "role": "member"}
    )
    assert response.status_code == 200 and "No one on the hub" in response.content.decode()
    response = pi.post(
        f"/projects/{project.code}/members/", {"email": "newcomer@lab.example", "role": "member"}
    )
    assert response.status_code == 302
    newcomer = team["newcomer"].pk
    pi.post(f"/projects/{project.code}/members/{newcomer}/role/", {"role": "manager"})
    assert project.members.get(user=team["newcomer"]).role == "manager"
    pi.post(f"/projects/{project.code}/members/{newcomer}/remove/")
    assert not project.members.filter(user=team["newcomer"]).exists()
    response = pi.post(f"/projects/{project.code}/members/{team['pi'].pk}/remove/", follow=True)
    assert "stays" in response.content.decode()
    assert (
        client_for(team["manager"])
        .post(
            f"/projects/{project.code}/members/",
            {"email": "newcomer@lab.example", "role": "member"},
        )
        .status_code
        == 403
    )
