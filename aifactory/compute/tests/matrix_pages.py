"""Authorization rules of the compute pages, merged in matrix_rules.py.

A project of organisation A with a live allocation on a local cluster: its owner is the PI, its
member a plain project member (both have cluster usernames); the member submitted a job, which
stays waiting to be submitted (the test's transaction never commits, so nothing runs). The
organisation's manager is no project member: they see the project's usage (they oversee its
projects) but not its jobs. Operators and administrators see every job and the clusters; the
outsider, the advisor and the reviewer see none of it (404)."""

from datetime import timedelta

from django.utils import timezone

from aifactory.access.models import MemberRole
from aifactory.access.services import projects as project_services
from aifactory.compute import services
from aifactory.compute.models import Job, JobState
from aifactory.core.tests.matrix import LOGIN, Rule, expect, only

CLUSTER = "matrix-pages"
JOB = "/jobs/{w.pages_job.reference}/"
USAGE = "/projects/{w.pages_project.code}/usage"
JOB_VIEWERS = ["owner", "member", "operator", "administrator"]
PROJECT_VIEWERS = ["owner", "member", "manager", "operator", "administrator"]
OPERATORS = ["operator", "administrator"]


def setup(world):
    operator = world.users["operator"]
    cluster = services.cluster_create(
        actor=None, name=CLUSTER, backend="local", title="Matrix pages", config={"max_jobs": 1}
    )
    services.partition_set(
        actor=None,
        cluster=cluster,
        name="main",
        gpus_per_node=2,
        cpus_per_node=4,
        mem_gb_per_node=8,
        max_time_minutes=600,
        is_default=True,
    )
    today = timezone.localdate()
    world.pages_project = project_services.project_create(
        actor=operator,
        organisation=world.org,
        title="Matrix compute pages",
        members=[(world.users["owner"], MemberRole.PI), (world.users["member"], MemberRole.MEMBER)],
        allocation={
            "resources": {"gpu_hours": 100, "cpu_core_hours": 100},
            "start": today - timedelta(days=5),
            "end": today + timedelta(days=100),
            "tranche_policy": "none",
            "cluster": CLUSTER,
            "partition": "main",
        },
    )
    for role in ("owner", "member"):
        services.cluster_account_set(
            actor=None, cluster=cluster, user=world.users[role], username=f"{role}_matrix"
        )
    world.pages_job = services.job_submit(
        actor=world.users["member"],
        project=world.pages_project,
        cluster=cluster,
        script="echo matrix",
        time_limit_minutes=5,
    )


def _cancelled(w, role):
    return Job.objects.get(pk=w.pages_job.pk).state == JobState.CANCELLED


def _resubmitted(w, role):
    return Job.objects.filter(resubmitted_from=w.pages_job).exists()


def _submitted(w, role):
    return Job.objects.filter(name=f"matrix {role}").exists()


RULES: dict[str, Rule] = {
    "compute:job_list": Rule("get", "/jobs/", expect(200, LOGIN)),
    # The form answers everyone signed in; only members of a project with a live allocation
    # get a form (the others a note), and only they can submit (the POST below).
    "compute:job_new": Rule(
        "post",
        "/jobs/new/",
        expect(422, LOGIN, only(302, ["owner", "member"])),
        body=lambda w, role: {
            "project": w.pages_project.code,
            "cluster": CLUSTER,
            "script": "echo hello",
            "name": f"matrix {role}",
            "gpus": 0,
            "cpus": 1,
            "mem_mb": 512,
            "time_limit_minutes": 5,
        },
        effect=_submitted,
        done_by=frozenset({"owner", "member"}),
    ),
    "compute:job_detail": Rule("get", JOB, expect(404, LOGIN, only(200, JOB_VIEWERS))),
    "compute:job_status": Rule("get", JOB + "status/", expect(404, LOGIN, only(200, JOB_VIEWERS))),
    "compute:job_cancel": Rule(
        "post",
        JOB + "cancel/",
        expect(404, LOGIN, only(302, JOB_VIEWERS)),
        effect=_cancelled,
        done_by=frozenset(JOB_VIEWERS),
    ),
    "compute:job_resubmit": Rule(
        "post",
        JOB + "resubmit/",
        expect(404, LOGIN, only(403, OPERATORS), only(302, ["owner", "member"])),
        effect=_resubmitted,
        done_by=frozenset({"owner", "member"}),
    ),
    "compute:project_usage": Rule(
        "get", USAGE + "/", expect(404, LOGIN, only(200, PROJECT_VIEWERS))
    ),
    "compute:project_usage_csv": Rule(
        "get", USAGE + ".csv", expect(404, LOGIN, only(200, PROJECT_VIEWERS))
    ),
    "compute:cluster_list": Rule("get", "/clusters/", expect(403, LOGIN, only(200, OPERATORS))),
}
