"""The demo compute: a local cluster the demo allocations name, ready for the founder to submit."""

from django.core.management import call_command

from aifactory.access.models import Allocation
from aifactory.compute.models import Cluster, ClusterAccount
from aifactory.compute.services.jobs import job_submit

from .helpers import compute_dir, sync_until  # noqa: F401 - compute_dir is a fixture


def test_demo_cluster_lets_the_founder_run_a_job(db, compute_dir):  # noqa: F811
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # a second run changes nothing
    cluster = Cluster.objects.get(name="meluxina-ai")
    assert cluster.backend == "local" and cluster.is_demo
    assert cluster.partitions.get(is_default=True).name == "gpu"
    assert ClusterAccount.objects.filter(cluster=cluster).count() == 2
    allocation = Allocation.objects.filter(
        cluster="meluxina-ai", project__title="Orbital land-cover models"
    ).get()
    founder = allocation.project.members.get(role="pi").user
    job = job_submit(
        actor=founder,
        project=allocation.project,
        cluster=cluster,
        script="echo hello from the demo",
        time_limit_minutes=5,
    )
    job = sync_until(cluster, job)
    assert job.state == "completed", (job.state, job.reason)
