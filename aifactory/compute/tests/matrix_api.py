"""Authorization rules of the compute API, merged in matrix_rules.py.

A cluster ``matrix`` on the local backend and a project on it: organisation A's owner is its PI,
its member a plain member, both with cluster usernames; the member has a job waiting to be
submitted (the tests run no commit hooks, so it never reaches the backend). Any signed-in person
sees the clusters; operators and administrators configure them, see every job and every project
but submit to none; the organisation's manager sees the project and its usage but is no project
member, so not its jobs; the outsider, the advisor and the reviewer see neither (404)."""

from datetime import timedelta

from django.utils import timezone

from aifactory.access.models import MemberRole
from aifactory.access.services import projects as project_services
from aifactory.compute import services
from aifactory.compute.models import Cluster, ClusterAccount, Job, JobState, Partition
from aifactory.core.tests.matrix import API, Rule, only
from aifactory.core.tests.matrix import api_expect as expect

OPERATORS = ["operator", "administrator"]
SUBMITTERS = ["owner", "member"]  # the project's PI and member, with cluster usernames
JOB_VIEWERS = [*SUBMITTERS, *OPERATORS]
PROJECT_VIEWERS = [*SUBMITTERS, "manager", *OPERATORS]
JOB = API + "/jobs/{w.compute_job.reference}"
USAGE = API + "/projects/{w.compute_project.code}/usage"


def setup(world):
    operator = world.users["operator"]
    world.cluster = services.cluster_create(actor=operator, name="matrix", backend="local")
    services.partition_set(
        actor=operator, cluster=world.cluster, name="main", cpus_per_node=4, mem_gb_per_node=8
    )
    today = timezone.localdate()
    world.compute_project = project_services.project_create(
        actor=operator,
        organisation=world.org,
        title="Matrix compute",
        members=[(world.users["owner"], MemberRole.PI), (world.users["member"], MemberRole.MEMBER)],
        allocation={
            "resources": {"gpu_hours": 100, "cpu_core_hours": 100},
            "start": today - timedelta(days=1),
            "end": today + timedelta(days=60),
            "tranche_policy": "none",
            "cluster": "matrix",
            "partition": "main",
        },
    )
    for role in SUBMITTERS:
        services.cluster_account_set(
            actor=operator, cluster=world.cluster, user=world.users[role], username=f"m_{role}"
        )
    world.compute_job = services.job_submit(
        actor=world.users["member"],
        project=world.compute_project,
        cluster=world.cluster,
        script="echo matrix",
        time_limit_minutes=5,
        name="matrix job",
    )


def _cluster_made(w, role):
    return Cluster.objects.filter(name=f"m-{role}").exists()


def _partition_set(w, role):
    return Partition.objects.filter(cluster=w.cluster, name="extra").exists()


def _account_set(w, role):
    return ClusterAccount.objects.filter(cluster=w.cluster, user=w.host).exists()


def _submitted(w, role):
    return Job.objects.filter(name=f"matrix {role}").exists()


def _cancelled(w, role):
    return Job.objects.get(pk=w.compute_job.pk).state == JobState.CANCELLED


def _resubmitted(w, role):
    return Job.objects.filter(resubmitted_from=w.compute_job).exists()


RULES: dict[str, Rule] = {
    "api:clusters_list": Rule("get", API + "/clusters", expect(200)),
    "api:cluster_read": Rule("get", API + "/clusters/matrix", expect(200)),
    "api:clusters_create": Rule(
        "post",
        API + "/clusters",
        expect(403, only(201, OPERATORS)),
        body=lambda w, role: {"name": f"m-{role}", "backend": "local"},
        effect=_cluster_made,
        done_by=frozenset(OPERATORS),
    ),
    "api:cluster_partition_set": Rule(
        "post",
        API + "/clusters/matrix/partitions",
        expect(403, only(201, OPERATORS)),
        body={"name": "extra", "cpus_per_node": 2},
        effect=_partition_set,
        done_by=frozenset(OPERATORS),
    ),
    "api:cluster_account_set": Rule(
        "post",
        API + "/clusters/matrix/accounts",
        expect(403, only(201, OPERATORS)),
        body={"email": "host@matrix.test", "username": "m_host"},
        effect=_account_set,
        done_by=frozenset(OPERATORS),
    ),
    "api:jobs_list": Rule("get", API + "/jobs", expect(200)),
    "api:job_templates_list": Rule("get", API + "/jobs/templates", expect(200)),
    # Those who see the project but are no member of it are refused (403); the rest do not see
    # it (404).
    "api:jobs_submit": Rule(
        "post",
        API + "/jobs",
        expect(404, only(403, PROJECT_VIEWERS), only(201, SUBMITTERS)),
        body=lambda w, role: {
            "project": w.compute_project.code,
            "cluster": "matrix",
            "script": "echo matrix",
            "time": "0:05:00",
            "name": f"matrix {role}",
        },
        effect=_submitted,
        done_by=frozenset(SUBMITTERS),
    ),
    "api:job_read": Rule("get", JOB, expect(404, only(200, JOB_VIEWERS))),
    "api:job_logs": Rule("get", JOB + "/logs", expect(404, only(200, JOB_VIEWERS))),
    # The job is the member's: they, the project's PI and operators cancel it.
    "api:job_cancel": Rule(
        "post",
        JOB + "/cancel",
        expect(404, only(200, JOB_VIEWERS)),
        effect=_cancelled,
        done_by=frozenset(JOB_VIEWERS),
    ),
    "api:job_resubmit": Rule(
        "post",
        JOB + "/resubmit",
        expect(404, only(403, OPERATORS), only(201, SUBMITTERS)),
        body={},
        effect=_resubmitted,
        done_by=frozenset(SUBMITTERS),
    ),
    "api:project_usage": Rule("get", USAGE, expect(404, only(200, PROJECT_VIEWERS))),
    "api:project_usage_csv": Rule("get", USAGE + ".csv", expect(404, only(200, PROJECT_VIEWERS))),
}
