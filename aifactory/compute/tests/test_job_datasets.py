"""Jobs that read datasets: the grant is checked at submission, each use is in the publisher's
access log, and the files are copied into the job's folder for the job's user alone."""

import json
import os
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from aifactory.compute import services
from aifactory.compute.models import JobState
from aifactory.compute.selectors import job_logs
from aifactory.data import services as data_services
from aifactory.data.models import AccessLogEntry
from aifactory.data.tests.data_helpers import *  # noqa: F403 - the fixtures: data_storage, publisher
from aifactory.data.tests.data_helpers import CSV, add_csv_version, make_dataset

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import sync_until

SCRIPT = 'cat "$AIFACTORY_DATASET_METERS"\necho "manifest=$AIFACTORY_DATASETS"\n'


def public_meters(publisher, access="public"):
    dataset = make_dataset(
        publisher["org"], slug="meters", access_rights=access, publish=True, title={"en": "Meters"}
    )
    add_csv_version(dataset)
    return dataset


def submit(team, project, cluster, capture, **more):
    with capture(execute=True):
        return services.job_submit(
            actor=team["member"],
            project=project,
            cluster=cluster,
            script=SCRIPT,
            time_limit_minutes=5,
            **more,
        )


def test_a_job_reads_a_public_dataset_copied_into_its_folder(
    team, project, cluster, accounts, publisher, live_jobs, django_capture_on_commit_callbacks
):
    dataset = public_meters(publisher)
    job = submit(team, project, cluster, django_capture_on_commit_callbacks, datasets=["meters"])
    live_jobs.append(job)
    assert job.datasets[0]["slug"] == "meters" and job.datasets[0]["version"] == 1
    sync_until(cluster, job)
    assert job.state == JobState.COMPLETED, job.reason
    out = job_logs(None, job, 10_000)["stdout"]
    assert CSV in out
    manifest = json.loads(out.split("manifest=", 1)[1])
    staged = Path(manifest["meters"]["files"]["data.csv"])
    assert staged == Path(job.workdir) / "datasets" / "meters" / "data.csv"
    info = staged.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    if os.geteuid() == 0:  # the job ran as another user (never root), who owns its copy
        assert info.st_uid == Path(job.workdir).stat().st_uid != 0
    entry = AccessLogEntry.objects.get(dataset=dataset, action="job")
    assert entry.user == team["member"] and job.reference in entry.detail


def test_a_restricted_dataset_needs_a_grant_for_the_project_organisation(
    team, project, cluster, accounts, publisher, live_jobs, django_capture_on_commit_callbacks
):
    dataset = public_meters(publisher, access="restricted")
    with pytest.raises(ValidationError) as refused:
        submit(team, project, cluster, django_capture_on_commit_callbacks, datasets=["meters"])
    assert "request access" in str(refused.value.message_dict["datasets"])
    assert not AccessLogEntry.objects.filter(dataset=dataset).exists()
    request = data_services.request_create(
        actor=team["member"],
        dataset=dataset,
        organisation=team["org"],
        project=project.code,
        purpose="Forecast the load of the grid.",
        duration_days=30,
        accept_conditions=True,
    )
    data_services.request_approve(actor=publisher["steward"], request=request)
    job = submit(team, project, cluster, django_capture_on_commit_callbacks, datasets=["meters"])
    live_jobs.append(job)
    sync_until(cluster, job)
    assert CSV in job_logs(None, job, 10_000)["stdout"]
    assert AccessLogEntry.objects.get(dataset=dataset, action="job").grant is not None


def test_unknown_internal_and_bad_references_are_refused_by_name(
    team, project, cluster, accounts, publisher, django_capture_on_commit_callbacks
):
    make_dataset(publisher["org"], slug="internal-meters", access_rights="internal", publish=True)
    for refs, says in (
        (["nothing-here"], "There is no dataset nothing-here"),
        (["internal-meters"], "There is no dataset internal-meters"),
        (["Bad Name!"], "is not a dataset name"),
        ("meters", "Give a list"),
    ):
        with pytest.raises(ValidationError) as refused:
            submit(team, project, cluster, django_capture_on_commit_callbacks, datasets=refs)
        assert says in " ".join(refused.value.message_dict["datasets"])


def test_a_version_can_be_pinned_and_resubmission_keeps_it(
    team, project, cluster, accounts, publisher, live_jobs, django_capture_on_commit_callbacks
):
    dataset = public_meters(publisher)
    add_csv_version(dataset, CSV + "4,Clervaux,55.0,2024-01-04\n")
    job = submit(team, project, cluster, django_capture_on_commit_callbacks, datasets=["meters@1"])
    live_jobs.append(job)
    sync_until(cluster, job)
    out = job_logs(None, job, 10_000)["stdout"]
    assert CSV in out and "Clervaux" not in out
    with django_capture_on_commit_callbacks(execute=True):
        again = services.job_resubmit(actor=team["member"], job=job)
    live_jobs.append(again)
    assert again.datasets == job.datasets
    newest = submit(team, project, cluster, django_capture_on_commit_callbacks, datasets=["meters"])
    live_jobs.append(newest)
    assert newest.datasets[0]["version"] == 2


def test_the_api_takes_datasets_and_names_the_field_when_refused(
    team, project, cluster, accounts, publisher, api, live_jobs
):
    public_meters(publisher, access="restricted")
    body = {"project": project.code, "cluster": cluster.name, "script": SCRIPT, "time": "0:05:00"}
    member = api(team["member"])
    response = member.post("/jobs", {**body, "datasets": ["meters"]})
    assert response.status_code == 422, response.content
    assert "request access" in " ".join(response.json()["errors"]["datasets"])
    response = member.post("/jobs", {**body, "datasets": []})
    assert response.status_code == 201 and response.json()["datasets"] == []


def test_the_api_cli_and_page_show_the_files_but_never_the_storage_key(
    team, project, cluster, accounts, publisher, api, live_jobs, django_capture_on_commit_callbacks
):
    public_meters(publisher)
    job = submit(team, project, cluster, django_capture_on_commit_callbacks, datasets=["meters"])
    live_jobs.append(job)
    stored = job.datasets[0]["files"][0]
    key = stored["key"]
    files = [{"name": "data.csv", "sha256": stored["sha256"], "size": len(CSV.encode())}]
    shown = [{"slug": "meters", "version": 1, "files": files}]
    for path in (f"/jobs/{job.reference}", "/jobs"):
        response = api(team["member"]).get(path)
        assert response.status_code == 200 and key not in response.content.decode()
        assert "data.csv" in response.content.decode()
    assert api(team["member"]).get(f"/jobs/{job.reference}").json()["datasets"] == shown
    out = StringIO()
    call_command("jobs", "show", job.reference, "--json", stdout=out)
    assert key not in out.getvalue() and json.loads(out.getvalue())["datasets"] == shown
    out = StringIO()
    call_command("jobs", "show", job.reference, stdout=out)
    assert "dataset meters@1" in out.getvalue() and stored["sha256"] in out.getvalue()
    assert key not in out.getvalue()
    client = Client()
    client.force_login(team["member"])
    client.cookies["django_language"] = "de"
    page = client.get(f"/jobs/{job.reference}/").content.decode()
    assert "Version 1" in page and key not in page
