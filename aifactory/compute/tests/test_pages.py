"""The compute pages: my jobs, the submission form with its budget preview and refusals, a job's
page with its polled status partial, cancel and resubmit, a project's usage with its charts and
CSV, and the operators' clusters page. Jobs run for real on the local backend."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from aifactory.compute import services
from aifactory.compute.models import Job, JobState

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import sync_until, usage


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def submit(team, project, cluster, who="member", **kwargs):
    kwargs.setdefault("script", "echo hello")
    kwargs.setdefault("time_limit_minutes", 10)
    return services.job_submit(actor=team[who], project=project, cluster=cluster, **kwargs)


def form_data(project, cluster, **more):
    data = {
        "project": project.code,
        "cluster": cluster.name,
        "partition": "",
        "template": "",
        "script": "echo hello from the portal",
        "name": "",
        "gpus": "0",
        "cpus": "1",
        "mem_mb": "512",
        "time_limit_minutes": "10",
    }
    data.update(more)
    return data


# --- my jobs -----------------------------------------------------------------------------------


def test_job_list_shows_my_projects_jobs_with_filters(team, project, cluster, accounts):
    job = submit(team, project, cluster, name="first")
    done = submit(team, project, cluster, name="second")
    services.job_cancel(actor=team["member"], job=done)
    page = client_for(team["member"]).get("/jobs/").content.decode()
    assert job.reference in page and done.reference in page and 'id="job-new-link"' in page
    assert page.index(done.reference) < page.index(job.reference)  # newest first
    page = client_for(team["member"]).get("/jobs/?state=cancelled").content.decode()
    assert done.reference in page and job.reference not in page
    # HTMX asks for the table only.
    fragment = client_for(team["member"]).get(
        f"/jobs/?project={project.code}", headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.content.decode() and job.reference in fragment.content.decode()
    # Operators see every job; outsiders none, and no link to submit.
    assert job.reference in client_for(team["operator"]).get("/jobs/").content.decode()
    page = client_for(team["outsider"]).get("/jobs/").content.decode()
    assert job.reference not in page and 'id="job-new-link"' not in page
    assert Client().get("/jobs/").status_code == 302


def test_menu_shows_jobs_to_project_members_and_operators(team, project):
    assert ">Jobs<" in client_for(team["member"]).get("/dashboard/").content.decode()
    page = client_for(team["operator"]).get("/dashboard/").content.decode()
    assert ">Jobs<" in page and ">Clusters<" in page
    page = client_for(team["outsider"]).get("/dashboard/").content.decode()
    assert ">Jobs<" not in page and ">Clusters<" not in page
    page = client_for(team["member"]).get(f"/projects/{project.code}/").content.decode()
    assert f"/projects/{project.code}/usage/" in page and f"/jobs/?project={project.code}" in page


# --- the submission form -----------------------------------------------------------------------


def test_form_has_defaults_and_previews_the_cost_against_the_budget(team, project, cluster):
    page = client_for(team["member"]).get("/jobs/new/").content.decode()
    assert f'<option value="{project.code}" selected' in page
    assert f'<option value="{cluster.name}" selected' in page
    assert 'option value="main" selected' in page  # the allocation's partition
    # 60 minutes × 1 core by default: 1 CPU core hour of the 20 granted; no GPU.
    assert 'id="job-preview"' in page and 'id="budget-fits"' in page
    assert 'data-resource="gpu_hours"' in page and 'data-resource="cpu_core_hours"' in page
    assert "20.00" in page  # what remains of the CPU core hours


def test_preview_shows_the_refusal_with_the_numbers(team, project, cluster, allocation):
    usage(cluster, allocation, "u1", gpu_hours="2.5")
    data = form_data(project, cluster, gpus="2", time_limit_minutes="300", preview="1")
    response = client_for(team["member"]).post("/jobs/new/", data)
    page = response.content.decode()
    assert response.status_code == 200 and 'id="budget-refusal"' in page
    # 2 GPUs × 5 hours = 10 GPU hours; 7.50 remain of the 10.
    assert "up to 10.00, but only 7.50 remain" in page
    assert not Job.objects.exists()  # a preview submits nothing


def test_preview_through_htmx_answers_the_form_only(team, project, cluster):
    data = form_data(project, cluster, gpus="1", time_limit_minutes="120", preview="1")
    response = client_for(team["member"]).post("/jobs/new/", data, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    assert page.lstrip().startswith('<form method="post"') and 'id="job-form"' in page
    assert "At most 2.00 GPU hours" in page


def test_a_project_with_its_budget_used_shows_the_block(team, project, cluster, allocation):
    usage(cluster, allocation, "u1", gpu_hours=10)
    page = client_for(team["member"]).get("/jobs/new/").content.decode()
    assert 'id="budget-exhausted"' in page and "GPU hours" in page
    # A job that needs GPUs is refused on submission, with the numbers.
    data = form_data(project, cluster, gpus="1")
    response = client_for(team["member"]).post("/jobs/new/", data)
    assert response.status_code == 422
    assert "does not fit in the allocation" in response.content.decode()
    assert not Job.objects.exists()


def test_template_parameters_with_defaults_and_help(team, project, cluster, accounts):
    page = client_for(team["member"]).get("/jobs/new/?template=text-classifier").content.decode()
    assert 'id="template-params"' in page and 'name="params.text_column"' in page
    assert 'value="text"' in page  # the default of text_column
    assert "The column with the text." in page  # its help
    assert 'name="script"' not in page
    # A required parameter left empty: 422 with the error next to the field.
    data = form_data(project, cluster, template="text-classifier", script="")
    response = client_for(team["member"]).post("/jobs/new/", data)
    assert response.status_code == 422
    assert 'id="id_params.data_error"' in response.content.decode()
    assert not Job.objects.exists()
    # A template job goes through with its parameters.
    data = form_data(project, cluster, template="script", script="", **{"params.script": "echo t"})
    data["gpus"] = "1"
    response = client_for(team["pi"]).post("/jobs/new/", data)
    job = Job.objects.get()
    assert response.status_code == 302 and job.template == "script"
    assert job.params == {"script": "echo t"} and job.gpus == 1 and job.user == team["pi"]


def test_submission_errors_name_the_field(team, project, cluster, accounts):
    client = client_for(team["member"])
    response = client.post("/jobs/new/", form_data(project, cluster, time_limit_minutes="700"))
    page = response.content.decode()
    assert response.status_code == 422
    assert "offers at most 600" in page and "has-error" in page
    response = client.post("/jobs/new/", form_data(project, cluster, script="  "))
    assert response.status_code == 422 and "Give a script or choose a template." in (
        response.content.decode()
    )
    # The manager has no cluster username: refused with the reason, nothing written.
    response = client_for(team["manager"]).post("/jobs/new/", form_data(project, cluster))
    assert response.status_code == 422 and "no username on the cluster" in (
        response.content.decode()
    )
    # Someone outside the project cannot pick it.
    response = client_for(team["outsider"]).get("/jobs/new/")
    assert 'id="no-allocation"' in response.content.decode()
    response = client_for(team["outsider"]).post("/jobs/new/", form_data(project, cluster))
    assert response.status_code == 422
    assert not Job.objects.exists()


def test_scripts_from_a_browser_lose_their_carriage_returns(team, project, cluster, accounts):
    """Browsers end a textarea's lines with CRLF; bash would run "sleep 1\r" and fail."""
    data = form_data(project, cluster, script="echo one\r\nsleep 1\r\n")
    assert client_for(team["member"]).post("/jobs/new/", data).status_code == 302
    params = {"params.script": "echo two\r\necho three\r\n"}
    data = form_data(project, cluster, template="script", script="", **params)
    assert client_for(team["member"]).post("/jobs/new/", data).status_code == 302
    own, templated = Job.objects.get(template=""), Job.objects.get(template="script")
    assert own.script == "echo one\nsleep 1\n" and "\r" not in templated.script
    assert templated.params == {"script": "echo two\necho three\n"}


# --- a job, live -------------------------------------------------------------------------------


def test_submit_then_watch_the_job_run_and_finish(
    team, project, cluster, accounts, live_jobs, django_capture_on_commit_callbacks
):
    client = client_for(team["member"])
    data = form_data(project, cluster, script="echo hello from the portal; echo oops >&2")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/jobs/new/", data)
    job = Job.objects.get()
    live_jobs.append(job)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.reference}/"
    page = client.get(response["Location"]).content.decode()
    assert job.reference in page and 'id="job-cancel"' in page and 'id="job-resubmit"' in page
    # Not final: the status partial polls itself.
    partial = client.get(f"/jobs/{job.reference}/status/").content.decode()
    assert 'hx-trigger="every 3s"' in partial and "<html" not in partial
    sync_until(cluster, job)
    assert job.state == JobState.COMPLETED
    partial = client.get(f"/jobs/{job.reference}/status/").content.decode()
    assert "hx-trigger" not in partial  # final: the polling stops
    assert "hello from the portal" in partial and "oops" in partial
    assert 'id="job-exit-code">0<' in partial and 'id="job-energy"' in partial
    page = client.get(f"/jobs/{job.reference}/").content.decode()
    assert 'id="job-cancel"' not in page and "Efficiency" in page
    assert "PUE 1.2" in page or "PUE 1,2" in page  # the assumptions


def test_job_pages_are_for_the_projects_members_and_operators(team, project, cluster, accounts):
    job = submit(team, project, cluster)
    for who in ("member", "pi", "manager", "operator"):
        assert client_for(team[who]).get(f"/jobs/{job.reference}/").status_code == 200, who
    for url in (f"/jobs/{job.reference}/", f"/jobs/{job.reference}/status/"):
        assert client_for(team["outsider"]).get(url).status_code == 404
    assert client_for(team["outsider"]).post(f"/jobs/{job.reference}/cancel/").status_code == 404
    assert Client().get(f"/jobs/{job.reference}/").status_code == 302


def test_cancel_and_resubmit(team, project, cluster, accounts):
    job = submit(team, project, cluster)
    client = client_for(team["member"])
    response = client.post(f"/jobs/{job.reference}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    # Cancelling again: the refusal as a message, nothing changes.
    page = client.post(f"/jobs/{job.reference}/cancel/", follow=True).content.decode()
    assert "has already ended" in page
    response = client.post(f"/jobs/{job.reference}/resubmit/")
    new = Job.objects.get(resubmitted_from=job)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{new.reference}/"
    assert new.script == job.script and new.user == team["member"]
    # An operator sees the job but submits to no project.
    assert client_for(team["operator"]).post(f"/jobs/{job.reference}/resubmit/").status_code == 403


def test_a_project_member_cannot_cancel_someone_elses_job(team, project, cluster, accounts):
    job = submit(team, project, cluster, who="pi")
    page = client_for(team["member"]).get(f"/jobs/{job.reference}/").content.decode()
    assert 'id="job-cancel"' not in page
    assert client_for(team["member"]).post(f"/jobs/{job.reference}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.PENDING_SUBMISSION


# --- usage -------------------------------------------------------------------------------------


def test_usage_page_with_charts_budget_energy_and_csv(team, project, cluster, allocation):
    now = timezone.now()
    usage(
        cluster,
        allocation,
        "u1",
        gpu_hours=2,
        cpu_core_hours=4,
        billing=6,
        end=now,
        user=team["member"],
        username="member_lab",
        energy_kwh="1.5",
        co2_kg="0.15",
    )
    usage(
        cluster,
        allocation,
        "u2",
        gpu_hours=1,
        billing=2,
        end=now - timedelta(days=1),
        user=team["pi"],
        username="pi_lab",
        energy_kwh="0.5",
        co2_kg="0.05",
    )
    response = client_for(team["member"]).get(f"/projects/{project.code}/usage/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("<svg") >= 2 and 'id="usage-by-day"' in page and 'id="usage-by-user"' in page
    assert 'data-value="8.000000"' in page or 'data-value="6.000000"' in page
    assert "member@lab.example" in page and "pi@lab.example" in page
    assert 'id="usage-energy">2.000 kWh' in page and 'id="usage-co2">0.200 kg' in page
    assert "PUE" in page and "g CO2e/kWh" in page  # the assumptions
    assert f'id="budget-{allocation.pk}"' in page and "30.0%" in page  # 3 of 10 GPU hours
    response = client_for(team["member"]).get(f"/projects/{project.code}/usage.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["day", "gpu_hours", "cpu_core_hours", "billing", "energy_kwh", "co2_kg"]
    assert len(rows) == 3 and rows[2][1] == "2.000000" and rows[1][1] == "1.000000"
    # The organisation's manager oversees the project; an outsider does not see it.
    org_manager = team["pi"]  # owner of the organisation and PI
    assert client_for(org_manager).get(f"/projects/{project.code}/usage/").status_code == 200
    for url in (f"/projects/{project.code}/usage/", f"/projects/{project.code}/usage.csv"):
        assert client_for(team["outsider"]).get(url).status_code == 404


def test_chart_escapes_labels(team, project, cluster, allocation):
    usage(cluster, allocation, "u1", gpu_hours=1, billing=1, username="<script>x</script>")
    page = client_for(team["member"]).get(f"/projects/{project.code}/usage/").content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


# --- clusters ----------------------------------------------------------------------------------


def test_clusters_page_for_operators(team, cluster, accounts):
    page = client_for(team["operator"]).get("/clusters/").content.decode()
    assert f'id="cluster-{cluster.name}"' in page and "member_lab" in page and "main" in page
    assert client_for(team["member"]).get("/clusters/").status_code == 403


def test_pages_in_german(team, project, cluster, allocation, accounts):
    usage(cluster, allocation, "u1", gpu_hours=1, billing=2, user=team["member"])
    job = submit(team, project, cluster)
    client = client_for(team["member"])
    headers = {"Accept-Language": "de"}
    expected = {
        "/jobs/": "Meine Jobs",
        "/jobs/new/": "Was dieser Job kosten kann",
        f"/jobs/{job.reference}/": "Der Job hat den Scheduler noch nicht erreicht.",
        f"/projects/{project.code}/usage/": "Wie Energie und CO2 geschätzt werden",
    }
    for url, text in expected.items():
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and text in response.content.decode(), url
    page = client_for(team["operator"]).get("/clusters/", headers=headers).content.decode()
    assert "Cluster-Benutzernamen" in page


# --- in a real browser -------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_submit_a_template_job_and_watch_it_finish(
    page, transactional_db, team, project, cluster, accounts, live_jobs, tmp_path
):
    """A member chooses a template (its parameters appear), sees the cost change with the time
    limit, submits, and watches the job run to its end on the local backend."""
    from playwright.sync_api import expect

    from aifactory.conftest import PASSWORD

    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(team["member"].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    page.locator("#job-new-link").click()
    expect(page.locator("#budget-fits")).to_be_visible()
    page.wait_for_load_state()  # HTMX is set up once the page has loaded
    page.get_by_label("Template").select_option("script")
    expect(page.locator("#template-params")).to_be_visible()  # swapped in by HTMX
    page.locator("#template-params textarea").fill("echo trained in the browser")
    page.get_by_label("CPU cores").fill("2")
    page.get_by_label("Time limit (minutes)").fill("1200")
    page.get_by_label("Time limit (minutes)").press("Tab")  # a change: the preview follows
    expect(page.locator("#budget-refusal")).to_contain_text("only 20.00 remain")
    expect(page.locator("#template-params textarea")).to_have_value("echo trained in the browser")
    page.get_by_label("Time limit (minutes)").fill("15")
    page.get_by_label("Time limit (minutes)").press("Tab")
    expect(page.locator("#budget-fits")).to_be_visible()
    page.locator("#job-submit").click()
    expect(page.locator("h1")).to_contain_text("J-")
    job = Job.objects.get()
    live_jobs.append(job)
    assert job.template == "script" and job.time_limit_minutes == 15 and job.cpus == 2
    sync_until(cluster, job)
    expect(page.locator("#job-stdout")).to_contain_text("trained in the browser", timeout=15_000)
    expect(page.locator("#job-exit-code")).to_have_text("0")
