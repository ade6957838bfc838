"""The `site` fixture of the behavioural tests (test_behaviour.py): one project with a live
allocation on a cluster of either backend, reached only through the services.

- ``local``: the embedded backend in a fresh compute folder, with ``seconds_per_minute`` so a
  1-minute time limit lasts a few seconds;
- ``slurm``: the real single-node cluster (scripts/slurm/up.sh) configured in the portal as an
  operator would, with a working-folder root of its own per test (job references restart with
  every test's database, folders on the cluster do not). Without Slurm the test skips loudly
  (fails under CI=true).

Each project gets a random code, so its Slurm account (``aifb_<hex>_<hex>``) is new; the accounts
are provisioned through ``allocation_provision`` and removed at the end of the session."""

import contextlib
import getpass
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from aifactory.access.models import MemberRole
from aifactory.access.services import projects as project_services
from aifactory.accounts.models import Membership
from aifactory.compute import services
from aifactory.compute.backends import backend_for
from aifactory.compute.backends.base import BackendError, Limits
from aifactory.compute.models import FINAL_STATES, Cluster, Job, UsageRecord
from aifactory.core.roles import OrgRole

from .helpers import make_cluster
from .slurm_helpers import PARTITION, USERS, drop_accounts, require_slurm, slurm_config

__all__ = ["backend_kind", "long_job", "site", "behaviour_slurm_accounts"]

BACKENDS = ["local", "slurm"]
# Local: one cluster minute is this many seconds, so time limits are short in real time.
SECONDS_PER_MINUTE = 2
FIGURES = {
    "rates": {"gpu_hour": 2, "cpu_hour": "0.5"},
    "power": {"gpu_watts": 400, "node_watts": 600},
    "pue": "1.2",
    "grid": 100,
}
RESOURCES = {"gpu_hours": 10, "cpu_core_hours": 20}


@dataclass
class Site:
    """A project on a cluster of one backend, and the ways the tests act on it."""

    kind: str
    cluster: Cluster
    team: dict
    usernames: dict  # role -> cluster username
    run_as: str  # the machine user the member's jobs really run as
    capture: object  # django_capture_on_commit_callbacks
    slurm_accounts: list
    project: object = None
    allocation: object = None
    limits: Limits | None = None
    jobs: list = field(default_factory=list)

    @property
    def backend(self):
        return backend_for(self.cluster)

    def open_project(self, resources=None):
        """A project with an allocation on this cluster, provisioned through the services."""
        today = timezone.localdate()
        project = project_services.project_create(
            actor=self.team["operator"],
            organisation=self.team["org"],
            title=f"aifb {secrets.token_hex(4)}",
            members=[
                (self.team["pi"], MemberRole.PI),
                (self.team["manager"], MemberRole.MANAGER),
                (self.team["member"], MemberRole.MEMBER),
            ],
            allocation={
                "resources": resources or RESOURCES,
                "start": today - timedelta(days=10),
                "end": today + timedelta(days=100),
                "tranche_policy": "none",
                "cluster": self.cluster.name,
                "partition": self.cluster.partitions.get().name,
            },
        )
        allocation = project.allocations.get()
        if self.kind == "slurm":
            self.slurm_accounts.append(allocation.slurm_account)
        limits = services.allocation_provision(
            actor=self.team["operator"], allocation=allocation, cluster=self.cluster
        )
        return project, allocation, limits

    def submit(self, *, actor=None, project=None, **fields) -> Job:
        """job_submit as the member (or ``actor``), handed to the backend on commit."""
        fields.setdefault("mem_mb", 512)
        with self.capture(execute=True):
            job = services.job_submit(
                actor=actor or self.team["member"],
                project=project or self.project,
                cluster=self.cluster,
                **fields,
            )
        job.refresh_from_db()
        self.jobs.append(job)
        return job

    def sync_until(self, jobs, states=FINAL_STATES, *, timeout=120.0, accounted=False):
        """Run real sync cycles until every job is in one of the states (and, with
        ``accounted``, until its final usage record is in: the accounting has its end)."""
        deadline = time.monotonic() + timeout
        while True:
            services.cluster_sync(self.cluster)
            for job in jobs:
                job.refresh_from_db()
            done = all(job.state in states for job in jobs)
            if done and accounted:
                done = all(
                    UsageRecord.objects.filter(
                        job=job, step="", state=job.state, end__isnull=False
                    ).exists()
                    for job in jobs
                )
            if done:
                return jobs
            if time.monotonic() > deadline:
                seen = {job.reference: (job.state, job.reason) for job in jobs}
                raise AssertionError(f"not there after {timeout} s: {seen}")
            time.sleep(0.3)


def _local(request) -> dict:
    request.getfixturevalue("compute_dir")
    cluster = make_cluster(
        config={
            "max_jobs": 2,
            "kill_grace_seconds": 1,
            "seconds_per_minute": SECONDS_PER_MINUTE,
        }
    )
    run_as = "nobody" if os.geteuid() == 0 else getpass.getuser()
    return {
        "cluster": cluster,
        "usernames": {"member": "member_lab", "pi": "pi_lab"},
        "run_as": run_as,
    }


def _slurm(request, name="slurm") -> dict:
    require_slurm()
    # Readable by everyone (the jobs' users pass through it); a fresh one per test.
    root = tempfile.mkdtemp(prefix="aifactory-behaviour-", dir="/tmp")
    os.chmod(root, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    cluster = services.cluster_create(
        actor=None,
        name=name,
        backend="slurm",
        title="Single-node Slurm",
        config=slurm_config(root),
        **FIGURES,
    )
    services.partition_set(
        actor=None, cluster=cluster, name=PARTITION, gpus_per_node=2, gpu_type="fake",
        cpus_per_node=2, mem_gb_per_node=16, max_time_minutes=60, is_default=True,
    )  # fmt: skip
    return {
        "cluster": cluster,
        "usernames": {"member": USERS[0], "pi": USERS[1]},
        "run_as": USERS[0],
    }


def _make_site(kind, made, team, capture, accounts) -> Site:
    for role, username in made["usernames"].items():
        services.cluster_account_set(
            actor=None, cluster=made["cluster"], user=team[role], username=username
        )
    site = Site(kind=kind, team=team, capture=capture, slurm_accounts=accounts, **made)
    site.project, site.allocation, site.limits = site.open_project()
    return site


def _cancel_running(site: Site) -> None:
    for job in site.jobs:
        job.refresh_from_db()
        if job.state not in FINAL_STATES and job.external_id:
            with contextlib.suppress(BackendError):
                site.backend.cancel(job.external_id, job.username)


@pytest.fixture(scope="module", params=BACKENDS)
def backend_kind(request):
    """The backend of the tests that follow; module-scoped, so pytest runs all the local tests,
    then all the Slurm ones (and the Slurm time-limit job starts with the first of those)."""
    return request.param


def _team(tag: str) -> dict:
    """People around an organisation, as the `team` fixture makes them, for module scope."""
    from aifactory.accounts import services as accounts

    def person(name, **more):
        user = accounts.user_create(
            email=f"{name}-{tag}@lab.example", password=None, email_verified=True, **more
        )
        accounts.terms_accept(user=user)
        return user

    pi = person("pi")
    org = accounts.organisation_create(
        actor=pi,
        data={
            "legal_name": f"Long Runs {tag} S.A.",
            "country": "LU",
            "kind": "sme",
            "sectors": ["crafts"],
            "staff_headcount": 5,
            "annual_turnover_eur": 500_000,
        },
    )
    team = {"org": org, "pi": pi, "operator": person("operator", staff_role="operator")}
    for role in ("manager", "member"):
        team[role] = person(role)
        Membership.objects.create(organisation=org, user=team[role], role=OrgRole.MEMBER)
    return team


@pytest.fixture(scope="module")
def long_job(request, backend_kind, django_db_setup, django_db_blocker):
    """On Slurm, (site, job): a job that will hit its 1-minute time limit, submitted through the
    services when the module's first Slurm test starts, so Slurm's 60-90 s pass while the other
    tests run; the time-limit test, the last one, watches it. Its rows live in a transaction of
    the module's own, around the tests' (which roll back to their savepoints), rolled back at
    the end: nothing is left in the database. None on the local backend (a minute lasts
    seconds there)."""
    if backend_kind != "slurm":
        yield None
        return
    require_slurm()
    accounts = request.getfixturevalue("behaviour_slurm_accounts")
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock():
            made = _slurm(request, name="slurm-long")
            team = _team(secrets.token_hex(3))
            site = _make_site("slurm", made, team, TestCase.captureOnCommitCallbacks, accounts)
            job = site.submit(script="echo waiting\nsleep 300\n", time_limit_minutes=1)
        yield site, job
    finally:
        with django_db_blocker.unblock():
            if "site" in locals():
                _cancel_running(site)
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def site(request, backend_kind, long_job, team, django_capture_on_commit_callbacks):
    """A project with a live allocation (10 GPU hours, 20 CPU core hours) on a cluster of the
    backend; the member and the PI have cluster usernames (the manager has none); the
    allocation is provisioned. Jobs still running at the end are cancelled."""
    if backend_kind == "slurm":
        made = _slurm(request)
        accounts = request.getfixturevalue("behaviour_slurm_accounts")
    else:
        made = _local(request)
        accounts = []
    site = _make_site(backend_kind, made, team, django_capture_on_commit_callbacks, accounts)
    yield site
    _cancel_running(site)


@pytest.fixture(scope="session")
def behaviour_slurm_accounts():
    """The Slurm accounts the behavioural tests provisioned: their jobs are cancelled and the
    accounts deleted at the end of the session."""
    made: list[str] = []
    yield made
    drop_accounts(made)
