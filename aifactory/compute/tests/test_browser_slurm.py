"""In a real browser, on the real single-node Slurm (scripts/slurm/up.sh): a start-up's member
signs in, submits a template job from the portal, watches it run and complete on the job page,
and sees its usage and energy on the project's usage page.

The cluster is configured as an operator does (slurm_helpers.slurm_cluster: slurmrestd with a JWT
per user), the member's cluster username is aifuser1, and the project's Slurm account with its
limits is provisioned through the service. The job page polls the job's state; this test is the
worker: it runs the cluster's sync (a real one, against Slurm) from the test thread, as the local
browser test in test_pages.py does. Without the cluster the test skips loudly (fails under
CI=true)."""

import subprocess
import time
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from aifactory.access.models import MemberRole
from aifactory.access.services import projects as project_services
from aifactory.compute import services
from aifactory.compute.models import FINAL_STATES, Job, JobState, UsageRecord

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import sync_until
from .slurm_helpers import *  # noqa: F403 - the Slurm fixtures
from .slurm_helpers import CLUSTER_NAME, PARTITION, USERS, require_slurm, sacct_rows


@pytest.fixture(autouse=True)
def _real_slurm():
    """First of all, before a browser starts: the real cluster is there, or the test skips."""
    require_slurm()


@pytest.fixture
def slurm_project(team, slurm_cluster):
    """A start-up's project with a live allocation on the Slurm cluster; the member runs jobs as
    aifuser1; the allocation's Slurm account and limits are provisioned for real, and removed
    (with any job of it left) at the end."""
    today = timezone.localdate()
    project = project_services.project_create(
        actor=team["operator"],
        organisation=team["org"],
        title="Orbital imagery",
        members=[(team["pi"], MemberRole.PI), (team["member"], MemberRole.MEMBER)],
        allocation={
            "resources": {"gpu_hours": 10, "cpu_core_hours": 20},
            "start": today,
            "end": today + timedelta(days=30),
            "tranche_policy": "none",
            "cluster": slurm_cluster.name,
            "partition": PARTITION,
        },
    )
    services.cluster_account_set(
        actor=team["operator"], cluster=slurm_cluster, user=team["member"], username=USERS[0]
    )
    allocation = project.allocations.get()
    limits = services.allocation_provision(
        actor=team["operator"], allocation=allocation, cluster=slurm_cluster
    )
    assert (limits.gpu_minutes, limits.cpu_minutes) == (600, 1200)
    yield project
    _remove_account(allocation.slurm_account)


def _remove_account(account: str) -> None:
    subprocess.run(["scancel", "-A", account], capture_output=True, timeout=30, check=False)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        left = subprocess.run(
            ["squeue", "-h", "-A", account], capture_output=True, text=True, timeout=30
        ).stdout
        if not left.strip():
            break
        time.sleep(0.5)
    subprocess.run(
        ["sacctmgr", "-i", "delete", "account", account],
        capture_output=True,
        timeout=30,
        check=False,
    )


def sync_until_usage(cluster, job, timeout=60.0) -> UsageRecord:
    """Sync until the job's accounting (sacct) has reached the portal."""
    deadline = time.monotonic() + timeout
    while True:
        services.cluster_sync(cluster)
        record = UsageRecord.objects.filter(cluster=cluster, external_id=job.external_id).first()
        if record is not None and record.end is not None:
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"no usage of {job.reference} after {timeout}s")
        time.sleep(0.5)


def rounded(value: Decimal, places: int) -> str:
    """As the template's floatformat shows it (half up)."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


@pytest.mark.browser
def test_browser_submit_a_template_job_to_slurm_and_see_usage_and_energy(
    page, transactional_db, team, slurm_cluster, slurm_project, live_jobs
):
    from playwright.sync_api import expect

    from aifactory.conftest import PASSWORD

    project = slurm_project
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(team["member"].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    page.locator("#job-new-link").click()
    expect(page.get_by_label("Cluster", exact=True)).to_have_value(slurm_cluster.name)
    expect(page.get_by_label("Partition", exact=True)).to_have_value(PARTITION)  # the allocation's
    expect(page.locator("#budget-fits")).to_be_visible()
    page.wait_for_load_state()  # HTMX is set up once the page has loaded
    page.get_by_label("Template").select_option("script")
    expect(page.locator("#template-params")).to_be_visible()  # swapped in by HTMX
    page.locator("#template-params textarea").fill(
        'echo "trained by $(id -un) in Slurm job $SLURM_JOB_ID on ${CUDA_VISIBLE_DEVICES:+a GPU}"\n'
        "sleep 8\n"
    )
    page.get_by_label("GPUs", exact=True).fill("1")
    page.get_by_label("Memory (MB)").fill("256")
    page.get_by_label("Time limit (minutes)").fill("5")
    page.get_by_label("Time limit (minutes)").press("Tab")  # a change: the preview follows
    expect(page.locator("#budget-fits")).to_be_visible()
    expect(page.locator("#job-preview")).to_contain_text("0.08")  # 1 GPU × 5 minutes
    page.locator("#job-submit").click()
    expect(page.locator("h1")).to_contain_text("J-")

    # The portal handed the job to slurmrestd as aifuser1 before it answered.
    job = Job.objects.get(project=project)
    live_jobs.append(job)
    assert job.template == "script" and job.username == USERS[0] and job.external_id
    assert job.state != JobState.PENDING_SUBMISSION, job.last_error
    status = page.locator("#job-status")

    # The worker's sync sees it run; the page, polling, follows.
    sync_until(slurm_cluster, job, states={JobState.RUNNING, *FINAL_STATES}, timeout=120)
    if job.state == JobState.RUNNING:
        expect(status).to_have_attribute("data-state", "running", timeout=15_000)
        expect(page.locator("#job-state")).to_contain_text(job.node or "—")
    sync_until(slurm_cluster, job, timeout=120)
    assert job.state == JobState.COMPLETED, (job.state, job.reason)
    expect(status).to_have_attribute("data-state", "completed", timeout=15_000)
    expect(page.locator("#job-stdout")).to_contain_text(
        f"trained by {USERS[0]} in Slurm job {job.external_id} on a GPU"
    )
    expect(page.locator("#job-exit-code")).to_have_text("0")

    # Usage from sacct: the portal's record is what Slurm accounted for the job.
    record = sync_until_usage(slurm_cluster, job)
    elapsed, account, user = sacct_rows([job.external_id], "elapsedraw,account,user")[
        job.external_id
    ]
    assert (record.account, record.username, record.job_id) == (account, user, job.pk)
    assert account == project.allocations.get().slurm_account and user == USERS[0]
    assert record.gpu_hours == (Decimal(elapsed) / 3600).quantize(record.gpu_hours)
    assert record.energy_kwh > 0 and record.co2_kg > 0
    assert CLUSTER_NAME  # sacct read the test cluster (-M)

    page.reload()
    expect(page.locator("#job-energy")).to_contain_text("kWh")
    page.goto(f"/projects/{project.code}/usage/")
    totals = UsageRecord.objects.filter(allocation__project=project).aggregate(
        kwh=Sum("energy_kwh"), co2=Sum("co2_kg"), gpu=Sum("gpu_hours")
    )
    expect(page.locator("#usage-energy")).to_have_text(f"{rounded(totals['kwh'], 3)} kWh")
    expect(page.locator("#usage-co2")).to_have_text(f"{rounded(totals['co2'], 3)} kg CO2e")
    expect(page.locator("#usage-totals")).to_contain_text(rounded(totals["gpu"], 2))
    expect(page.locator("#chart-by-user")).to_contain_text(team["member"].email)
    expect(page.locator("#usage-assumptions")).to_contain_text("PUE")
