"""Fixtures of the compute service tests: people around a project with a live allocation (opened
through the access services), a cluster on the real local backend with a partition, cluster
usernames, and helpers to wait for the sync and to write usage records.

Import with ``from .helpers import *`` to get the fixtures."""

import os
import shutil
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from aifactory.access.models import MemberRole
from aifactory.access.services import projects as project_services
from aifactory.compute import services
from aifactory.compute.models import FINAL_STATES, Job, UsageRecord

__all__ = [
    "slurm_down",
    "compute_dir",
    "team",
    "cluster",
    "project",
    "allocation",
    "accounts",
    "live_jobs",
]


def slurm_down_config(folder: Path) -> dict:
    """A Slurm cluster whose slurmrestd and sacct cannot be reached (port 9 is closed, no sacct):
    every call is BackendUnavailable, as during an outage. The JWT key is real, so submission
    really tries the network."""
    key = folder / "jwt.key"
    key.write_bytes(os.urandom(32))
    return {
        "mode": "rest",
        "rest_url": "http://127.0.0.1:9",
        "jwt_key_path": str(key),
        "workdir_root": "/tmp/aifactory-slurm-down",
        "create_workdir": False,
        "timeout_seconds": 2,
        "sacct": "/nonexistent/sacct",
        "squeue": "/nonexistent/squeue",
    }


@pytest.fixture
def slurm_down(db, compute_dir):
    return make_cluster(name="down", backend="slurm", config=slurm_down_config(compute_dir))


@pytest.fixture
def compute_dir(settings):
    # Under /tmp (which anybody may pass through), so the job's user reaches its folder when the
    # tests run as root and the jobs as nobody.
    folder = Path(tempfile.mkdtemp(prefix="aifactory-compute-", dir="/tmp"))
    os.chmod(folder, 0o711)
    settings.COMPUTE_DIR = folder
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def team(make_user, make_org, add_member):
    pi = make_user("pi@lab.example")
    org = make_org(owner=pi, legal_name="Lab S.A.", vat_number="LU15027442")
    manager = make_user("manager@lab.example")
    member = make_user("member@lab.example")
    for person in (manager, member):
        add_member(org, person)
    return {
        "org": org,
        "pi": pi,
        "manager": manager,
        "member": member,
        "operator": make_user("operator@factory.example", staff_role="operator"),
        "outsider": make_user("outsider@elsewhere.example"),
    }


def make_cluster(name="laptop", backend="local", config=None, **partition):
    cluster = services.cluster_create(
        actor=None,
        name=name,
        backend=backend,
        title="Test cluster",
        config={"max_jobs": 2, "kill_grace_seconds": 1} if config is None else config,
        rates={"gpu_hour": 2, "cpu_hour": "0.5"},
        power={"gpu_watts": 400, "node_watts": 600},
        pue="1.2",
        grid=100,
    )
    values = {
        "nodes": 1,
        "gpus_per_node": 2,
        "cpus_per_node": 4,
        "mem_gb_per_node": 8,
        "max_time_minutes": 600,
        "is_default": True,
    }
    values.update(partition)
    services.partition_set(actor=None, cluster=cluster, name="main", **values)
    return cluster


@pytest.fixture
def cluster(db, compute_dir):
    return make_cluster()


def open_project(team, cluster_name, *, resources=None, policy="none", start=None, end=None):
    today = timezone.localdate()
    return project_services.project_create(
        actor=team["operator"],
        organisation=team["org"],
        title="Climate LLM",
        members=[
            (team["pi"], MemberRole.PI),
            (team["manager"], MemberRole.MANAGER),
            (team["member"], MemberRole.MEMBER),
        ],
        allocation={
            "resources": resources or {"gpu_hours": 10, "cpu_core_hours": 20},
            "start": start or today - timedelta(days=10),
            "end": end or today + timedelta(days=100),
            "tranche_policy": policy,
            "cluster": cluster_name,
            "partition": "main",
        },
    )


@pytest.fixture
def project(team, cluster):
    return open_project(team, cluster.name)


@pytest.fixture
def allocation(project):
    return project.allocations.get()


@pytest.fixture
def accounts(team, cluster):
    """The PI and the member have usernames on the cluster; the manager has none."""
    return {
        "pi": services.cluster_account_set(
            actor=None, cluster=cluster, user=team["pi"], username="pi_lab"
        ),
        "member": services.cluster_account_set(
            actor=None, cluster=cluster, user=team["member"], username="member_lab"
        ),
    }


@pytest.fixture
def live_jobs():
    """Jobs started on a real backend; whatever still runs is cancelled at the end."""
    jobs: list[Job] = []
    yield jobs
    for job in jobs:
        job.refresh_from_db()
        if job.state not in FINAL_STATES and job.external_id:
            from aifactory.compute.backends import backend_for

            backend_for(job.cluster).cancel(job.external_id, job.username)


def sync_until(cluster, job, states=FINAL_STATES, timeout=30.0):
    """Run the cluster's sync until the job reaches one of the states (a real sync each time)."""
    deadline = time.monotonic() + timeout
    while True:
        services.cluster_sync(cluster)
        job.refresh_from_db()
        if job.state in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{job.reference} still {job.state} after {timeout}s")
        time.sleep(0.2)


def usage(cluster, allocation, external_id, *, gpu_hours=0, cpu_core_hours=0, end=None, **more):
    """A usage record as ingestion would write it: data standing for use on the cluster."""
    return UsageRecord.objects.create(
        cluster=cluster,
        external_id=external_id,
        step=more.pop("step", ""),
        allocation=allocation,
        account=allocation.slurm_account,
        end=end or timezone.now(),
        gpu_hours=Decimal(str(gpu_hours)),
        cpu_core_hours=Decimal(str(cpu_core_hours)),
        **more,
    )
