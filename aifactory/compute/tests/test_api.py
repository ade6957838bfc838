"""The compute API: clusters (operators), job submission with its checks, idempotency, budget
refusal, real jobs on the local backend (detail, logs, cancel, resubmit), and a project's usage
with its CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from aifactory.access.models import MemberRole
from aifactory.access.services import projects as project_services
from aifactory.compute import services
from aifactory.compute.models import Cluster, ClusterAccount, Job, JobState
from aifactory.core.models import AuditEvent

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import sync_until, usage


def job_body(of_project, on_cluster, **more):
    body = {
        "project": of_project.code,
        "cluster": on_cluster.name,
        "script": "echo hello; echo oops >&2; sleep 1",
        "time": "0:10:00",
        "mem": "512M",
        "name": "api job",
    }
    body.update(more)
    return body


@pytest.fixture
def other_project(team, cluster, make_org):
    """A project of another organisation, run by the outsider, with a job of theirs queued."""
    today = timezone.localdate()
    project = project_services.project_create(
        actor=team["operator"],
        organisation=make_org(owner=team["outsider"], legal_name="Elsewhere S.A."),
        title="Other project",
        members=[(team["outsider"], MemberRole.PI)],
        allocation={
            "resources": {"gpu_hours": 10, "cpu_core_hours": 20},
            "start": today - timedelta(days=1),
            "end": today + timedelta(days=30),
            "tranche_policy": "none",
            "cluster": cluster.name,
            "partition": "main",
        },
    )
    services.cluster_account_set(
        actor=None, cluster=cluster, user=team["outsider"], username="outsider"
    )
    return project


# --- clusters ----------------------------------------------------------------------------------


def test_clusters_list_and_read(api, team, cluster):
    body = api(team["member"]).get("/clusters").json()
    assert [c["name"] for c in body] == ["laptop"]
    laptop = body[0]
    assert laptop["partitions"][0]["name"] == "main" and laptop["partitions"][0]["gpus_per_node"]
    assert laptop["rates"] == {"gpu_hour": 2.0, "cpu_hour": 0.5}
    assert laptop["energy"] == {
        "gpu_watts": 400,
        "node_watts": 600,
        "pue": 1.2,
        "grid_g_co2_per_kwh": 100,
    }
    assert laptop["config"] is None  # the backend settings are for operators
    assert api(team["operator"]).get("/clusters/laptop").json()["config"]["max_jobs"] == 2
    assert api(team["member"]).get("/clusters/nowhere").status_code == 404
    assert api().get("/clusters").status_code == 401
    services.cluster_update(actor=None, cluster=cluster, is_active=False)
    assert api(team["member"]).get("/clusters").json() == []
    assert api(team["member"]).get("/clusters/laptop").status_code == 404
    assert api(team["operator"]).get("/clusters/laptop").status_code == 200


def test_operators_configure_clusters(api, team, db, compute_dir):
    body = {
        "name": "gpu-box",
        "backend": "local",
        "title": "GPU box",
        "config": {"max_jobs": 1},
        "rates": {"gpu_hour": 3, "cpu_hour": "0.25"},
        "power": {"gpu_watts": 300, "node_watts": 500},
        "pue": "1.3",
        "grid": 80,
    }
    assert api(team["pi"]).post("/clusters", body).status_code == 403
    response = api(team["operator"]).post("/clusters", body)
    assert response.status_code == 201, response.content
    assert response.json()["rates"] == {"gpu_hour": 3.0, "cpu_hour": 0.25}
    assert api(team["operator"]).post("/clusters", body).status_code == 409
    bad = api(team["operator"]).post("/clusters", {**body, "name": "x2", "backend": "pbs"})
    assert bad.status_code == 422 and "backend" in bad.json()["errors"]
    typo = api(team["operator"]).post("/clusters", {**body, "name": "x3", "pue2": 1})
    assert typo.status_code == 422 and "pue2" in typo.json()["errors"]

    partition = {"name": "gpu", "gpus_per_node": 4, "cpus_per_node": 32, "mem_gb_per_node": 256}
    path = "/clusters/gpu-box/partitions"
    assert api(team["member"]).post(path, partition).status_code == 403
    response = api(team["operator"]).post(path, partition)
    assert response.status_code == 201 and response.json()["is_default"] is True
    response = api(team["operator"]).post(path, {**partition, "gpu_type": "H100"})
    assert response.status_code == 200 and response.json()["gpu_type"] == "H100"
    bad = api(team["operator"]).post(path, {**partition, "nodes": 0})
    assert bad.status_code == 422 and "nodes" in bad.json()["errors"]
    assert api(team["operator"]).post("/clusters/nowhere/partitions", partition).status_code == 404

    path = "/clusters/gpu-box/accounts"
    account = {"email": "member@lab.example", "username": "member_lab"}
    assert api(team["member"]).post(path, account).status_code == 403
    response = api(team["operator"]).post(path, account)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "cluster": "gpu-box",
        "email": "member@lab.example",
        "username": "member_lab",
        "source": "operator",
    }
    again = api(team["operator"]).post(path, {**account, "username": "m_lab"})
    assert again.status_code == 200 and again.json()["username"] == "m_lab"
    root = api(team["operator"]).post(path, {**account, "username": "root"})
    assert root.status_code == 422 and "username" in root.json()["errors"]
    nobody = api(team["operator"]).post(path, {**account, "email": "nobody@x.example"})
    assert nobody.status_code == 422 and "email" in nobody.json()["errors"]
    assert ClusterAccount.objects.get(cluster__name="gpu-box").username == "m_lab"
    assert Cluster.objects.get(name="gpu-box").partitions.count() == 1


# --- submission --------------------------------------------------------------------------------


def test_submit_runs_a_real_job_with_logs_and_usage(
    api, team, cluster, project, accounts, live_jobs, django_capture_on_commit_callbacks
):
    member = api(team["member"])
    with django_capture_on_commit_callbacks(execute=True):
        response = member.post("/jobs", job_body(project, cluster))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["time_limit_minutes"] == 10 and body["mem_mb"] == 512
    assert body["project"] == project.code and body["user"] == "member@lab.example"
    assert body["max_cost"]["cpu_core_hours"] == pytest.approx(10 / 60, abs=1e-6)
    job = Job.objects.get(reference=body["reference"])
    live_jobs.append(job)
    sync_until(cluster, job)

    detail = member.get(f"/jobs/{job.reference}").json()
    assert detail["state"] == "completed" and detail["exit_code"] == 0
    assert [e["to_state"] for e in detail["events"]][0] == "pending_submission"
    assert detail["events"][-1]["to_state"] == "completed"
    assert detail["started_at"] and detail["ended_at"] and detail["node"]
    assert set(detail["energy"]) >= {"energy_kwh", "co2_kg", "cpu_core_hours"}
    assert member.get(f"/jobs/{job.pk}").json()["reference"] == job.reference

    logs = member.get(f"/jobs/{job.reference}/logs?tail=100").json()
    assert logs["stdout"] == "hello\n" and logs["stderr"] == "oops\n"
    assert logs["reached_scheduler"] is True
    assert member.get(f"/jobs/{job.reference}/logs?tail=3").json()["stdout"] == "lo\n"
    bad = member.get(f"/jobs/{job.reference}/logs?tail=0")
    assert bad.status_code == 422 and "tail" in bad.json()["errors"]

    listed = member.get(f"/jobs?project={project.code}&state=completed").json()
    assert [j["reference"] for j in listed["items"]] == [job.reference] and listed["count"] == 1
    assert member.get("/jobs?state=running").json()["count"] == 0
    assert member.get(f"/jobs?project={project.pk}&cluster=laptop").json()["count"] == 1
    assert member.get("/jobs?cluster=elsewhere").json()["count"] == 0
    bad = member.get("/jobs?state=sleeping")
    assert bad.status_code == 422 and "state" in bad.json()["errors"]
    assert api(team["outsider"]).get("/jobs").json()["count"] == 0
    assert api(team["operator"]).get("/jobs").json()["count"] == 1

    # The sync ingested the job's usage from the backend's accounting.
    body = api(team["pi"]).get(f"/projects/{project.code}/usage").json()
    assert body["totals"]["cpu_core_hours"] > 0
    assert body["by_user"][0]["email"] == "member@lab.example"
    assert body["by_day"] and body["by_month"]
    live = body["allocations"][0]
    assert live["live"] is True
    assert live["budget"]["gpu_hours"]["remaining"] == 10
    assert live["budget"]["cpu_core_hours"]["used"] == body["totals"]["cpu_core_hours"]
    assert body["assumptions"][0]["energy"]["pue"] == 1.2 and "pue" in body["formula"]

    response = api(team["pi"]).get(f"/projects/{project.code}/usage.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["job"] == job.reference and row["user"] == "member@lab.example"
    assert row["username"] == "member_lab" and row["external_id"] == job.external_id
    assert float(row["cpu_core_hours"]) == pytest.approx(body["totals"]["cpu_core_hours"])
    assert row["start"] and row["end"] and float(row["energy_kwh"]) >= 0
    assert set(row) >= {"gpu_hours", "billing", "co2_kg"}


def test_submit_a_template_with_params(
    api, team, cluster, project, accounts, django_capture_on_commit_callbacks
):
    templates = api(team["member"]).get("/jobs/templates").json()
    names = [t["name"] for t in templates]
    assert "script" in names or len(names) >= 3
    plain = next(t for t in templates if t["params"])
    assert {"name", "kind", "required", "default"} <= set(plain["params"][0])
    bad = api(team["member"]).post(
        "/jobs",
        {
            "project": project.code,
            "cluster": cluster.name,
            "template": "no-such-template",
            "params": {},
            "time_limit_minutes": 5,
        },
    )
    assert bad.status_code == 422 and "template" in bad.json()["errors"]


def test_submit_refusals_name_the_field(api, team, cluster, project, accounts):
    member = api(team["member"])
    cases = [
        ({"mem": "lots"}, 422, "mem"),
        ({"mem": "16G", "mem_mb": 10}, 422, "mem"),
        ({"time": "two hours"}, 422, "time"),
        ({"time": "1:99:00"}, 422, "time"),
        ({"time": None, "time_limit_minutes": 0}, 422, "time_limit_minutes"),
        ({"gpus": 9}, 422, "gpus"),
        ({"gpus": "two"}, 422, "gpus"),
        ({"partition": "fast"}, 422, "partition"),
        ({"script": ""}, 422, "script"),
        ({"cpus": 2, "colour": "blue"}, 422, "colour"),
        ({"project": "NOPE-1"}, 404, "project"),
        ({"cluster": "nowhere"}, 404, "cluster"),
    ]
    for change, status, field in cases:
        response = member.post("/jobs", job_body(project, cluster, **change))
        assert response.status_code == status, (change, response.content)
        assert field in response.json()["errors"], (change, response.json())
    # The manager (a project manager) has no username on the cluster.
    response = api(team["manager"]).post("/jobs", job_body(project, cluster))
    assert response.status_code == 409 and "cluster" in response.json()["errors"]
    assert not Job.objects.exists()


def test_non_members_cannot_submit(api, team, cluster, project, accounts, other_project):
    # The project is invisible to the outsider (404); the member cannot submit to theirs.
    response = api(team["outsider"]).post("/jobs", job_body(project, cluster))
    assert response.status_code == 404 and "project" in response.json()["errors"]
    response = api(team["member"]).post("/jobs", job_body(other_project, cluster))
    assert response.status_code == 404
    # The operator sees every project but is no member of it.
    response = api(team["operator"]).post("/jobs", job_body(project, cluster))
    assert response.status_code == 403
    assert api().post("/jobs", job_body(project, cluster)).status_code == 401
    assert not Job.objects.exists()


def test_budget_refusal_is_409_with_the_numbers(api, team, cluster, project, accounts):
    response = api(team["member"]).post("/jobs", job_body(project, cluster, gpus=2, time="6:00:00"))
    assert response.status_code == 409, response.content
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert "12.00" in problem["detail"] and "10.00" in problem["detail"]
    assert "GPU hours" in problem["detail"]
    assert not Job.objects.exists()


def test_idempotency_key_returns_the_same_job(api, team, cluster, project, accounts):
    member = api(team["member"])
    first = member.post("/jobs", job_body(project, cluster, idempotency_key="run-1"))
    assert first.status_code == 201, first.content
    again = member.post("/jobs", job_body(project, cluster, idempotency_key="run-1"))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # The header does the same.
    member.headers["Idempotency-Key"] = "run-2"
    second = member.post("/jobs", job_body(project, cluster))
    third = member.post("/jobs", job_body(project, cluster))
    assert (second.status_code, third.status_code) == (201, 200)
    assert second.json()["id"] == third.json()["id"] != first.json()["id"]
    assert Job.objects.count() == 2
    assert AuditEvent.objects.filter(action="job.submit").count() == 2


def test_cancel_and_resubmit(
    api, team, cluster, project, accounts, live_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(team["pi"]).post(
            "/jobs", job_body(project, cluster, script="sleep 60", time="5")
        )
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    live_jobs.append(job)
    sync_until(cluster, job, states={JobState.RUNNING, JobState.PENDING})
    path = f"/jobs/{job.reference}"
    # A plain member may see the PI's job but not cancel it; the outsider does not see it.
    assert api(team["member"]).post(path + "/cancel").status_code == 403
    assert api(team["outsider"]).post(path + "/cancel").status_code == 404
    assert api(team["outsider"]).get(path + "/logs").status_code == 404
    response = api(team["manager"]).post(path + "/cancel")
    assert response.status_code == 200, response.content
    job = sync_until(cluster, job)
    assert job.state == JobState.CANCELLED
    again = api(team["pi"]).post(path + "/cancel")
    assert again.status_code == 409 and "ended" in again.json()["detail"]
    assert AuditEvent.objects.filter(action="job.cancel").count() == 1

    response = api(team["member"]).post(path + "/resubmit", {"idempotency_key": "re-1"})
    assert response.status_code == 201, response.content
    new = Job.objects.get(pk=response.json()["id"])
    live_jobs.append(new)
    assert new.resubmitted_from_id == job.pk and new.user == team["member"]
    assert response.json()["resubmitted_from"] == job.reference
    same = api(team["member"]).post(path + "/resubmit", {"idempotency_key": "re-1"})
    assert same.status_code == 200 and same.json()["id"] == str(new.pk)
    assert api(team["outsider"]).post(path + "/resubmit").status_code == 404
    assert api(team["member"]).post("/jobs/J-1999-00001/resubmit").status_code == 404
    api(team["member"]).post(f"/jobs/{new.reference}/cancel")


def test_logs_of_another_projects_job_are_404(api, team, cluster, project, accounts, other_project):
    theirs = services.job_submit(
        actor=team["outsider"],
        project=other_project,
        cluster=cluster,
        script="echo secret",
        time_limit_minutes=5,
    )
    assert api(team["member"]).get(f"/jobs/{theirs.reference}/logs").status_code == 404
    assert api(team["member"]).get(f"/jobs/{theirs.reference}").status_code == 404
    assert api(team["member"]).get(f"/jobs/{theirs.pk}").status_code == 404
    mine = api(team["outsider"]).get(f"/jobs/{theirs.reference}/logs")
    assert mine.status_code == 200  # not handed to the backend in this test: no logs yet
    assert mine.json() == {
        "reference": theirs.reference,
        "reached_scheduler": False,
        "tail_bytes": 10_000,
        "stdout": "",
        "stderr": "",
    }
    assert api(team["operator"]).get(f"/jobs/{theirs.reference}/logs").status_code == 200


def test_usage_is_for_project_viewers(api, team, cluster, project, allocation, other_project):
    usage(cluster, allocation, "42", gpu_hours=3, cpu_core_hours=5, billing=8, username="x")
    path = f"/projects/{project.code}/usage"
    body = api(team["member"]).get(path).json()
    assert body["totals"]["gpu_hours"] == 3 and body["totals"]["billing"] == 8
    assert body["allocations"][0]["budget"]["gpu_hours"]["remaining"] == 7
    assert body["by_user"][0]["username"] == "x"
    assert api(team["outsider"]).get(path).status_code == 404
    assert api(team["outsider"]).get(path + ".csv").status_code == 404
    assert api(team["member"]).get("/projects/NOPE/usage").status_code == 404
    rows = list(csv.reader(io.StringIO(api(team["operator"]).get(path + ".csv").content.decode())))
    assert rows[0][:4] == ["job", "external_id", "step", "user"]
    assert rows[1][1] == "42" and rows[1][0] == "" and rows[1][7] == "3.000000"
    empty = api(team["outsider"]).get(f"/projects/{other_project.code}/usage").json()
    assert empty["totals"]["gpu_hours"] == 0 and empty["by_user"] == []


def test_resubmit_body_is_optional_and_checked(api, team, cluster, project, accounts):
    job = services.job_submit(
        actor=team["member"], project=project, cluster=cluster, script="echo", time_limit_minutes=2
    )
    member = api(team["member"])
    path = f"/api/v1/jobs/{job.reference}/resubmit"
    # No body at all, as curl -X POST sends it.
    assert member.client.post(path, headers=member.headers).status_code == 201
    keyed = {**member.headers, "Idempotency-Key": "again-1"}
    first = member.client.post(path, headers=keyed)
    second = member.client.post(path, headers=keyed)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    typo = member.post(f"/jobs/{job.reference}/resubmit", {"idem": "x"})
    assert typo.status_code == 422 and "idem" in typo.json()["errors"]
    broken = member.client.post(
        path, data="{x", content_type="application/json", headers=member.headers
    )
    assert broken.status_code == 422 and "__all__" in broken.json()["errors"]
    assert Job.objects.filter(resubmitted_from=job).count() == 2
