"""Fixtures for tests against the real single-node Slurm that scripts/slurm/up.sh starts
(`make test` and CI start it when they run as root on Debian).

Without the cluster the tests skip with the reason, loudly; under CI=true they fail instead. The
cluster persists between runs, so every run uses accounts and job keys of its own (random
suffixes) and removes its accounts at the end.
"""

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from aifactory.compute.backends.base import JobSpec, Limits
from aifactory.compute.backends.slurm import FINAL, SlurmBackend
from aifactory.compute.models import Cluster

REST_URL = os.environ.get("SLURM_TEST_REST_URL", "http://127.0.0.1:6820")
JWT_KEY = os.environ.get("SLURM_TEST_JWT_KEY", "/var/spool/slurm/statesave/jwt_hs256.key")
CLUSTER_NAME = os.environ.get("SLURM_CLUSTER", "aifactory")
USERS = ("aifuser1", "aifuser2")
# Reads the job list; any user's token sees all jobs on this cluster (no PrivateData).
ADMIN_USER = "slurmrest"
PARTITION = "gpu"


def _unavailable_reason() -> str | None:
    """Why the Slurm tests cannot run here, or None."""
    if not shutil.which("scontrol"):
        return "the Slurm client is not installed (scripts/slurm/up.sh installs it, as root)"
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, timeout=15, check=False
        )
    except subprocess.TimeoutExpired:
        return "`scontrol ping` did not answer in 15 s"
    if "UP" not in ping.stdout:
        return f"`scontrol ping`: {(ping.stdout + ping.stderr).strip() or 'no answer'}"
    try:
        httpx.get(f"{REST_URL}/slurm/v0.0.38/ping", timeout=5)
    except httpx.HTTPError as exc:
        return f"slurmrestd at {REST_URL} does not answer ({exc})"
    if os.geteuid() != 0:
        return "the tests act as the cluster's users (JWT key, working folders) and need root"
    if not os.access(JWT_KEY, os.R_OK):
        return f"cannot read the JWT key {JWT_KEY}"
    for user in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"there is no user {user} (scripts/slurm/up.sh makes it)"
    return None


_REASON: list = []


def require_slurm() -> None:
    if not _REASON:
        _REASON.append(_unavailable_reason())
    reason = _REASON[0]
    if reason is None:
        return
    message = (
        f"the real Slurm cluster is not available: {reason}. Start it as root on Debian 12 with "
        "scripts/slurm/up.sh (`make test` and .ci/run do)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(f"!!! SKIPPED: {message}")


def slurm_config(workdir_root: str, **more) -> dict:
    """A cluster's backend settings for this machine's test cluster."""
    return {
        "mode": "rest",
        "rest_url": REST_URL,
        "api_version": "v0.0.38",
        "jwt_key_path": JWT_KEY,
        "cluster_name": CLUSTER_NAME,
        "admin_user": ADMIN_USER,
        "workdir_root": workdir_root,
        "timeout_seconds": 20,
        **more,
    }


def make_backend(workdir_root: str, **more) -> SlurmBackend:
    cluster = Cluster(name="slurm-test", backend="slurm", config=slurm_config(workdir_root, **more))
    return SlurmBackend(cluster)


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def job_spec(account: str, script: str, **fields) -> JobSpec:
    values = {
        "job_key": unique("t"),
        "username": USERS[0],
        "account": account,
        "partition": PARTITION,
        "script": script,
        "gpus": 0,
        "cpus": 1,
        "mem_mb": 128,
        "time_limit_minutes": 2,
        "workdir": "",
        "environment": {},
    }
    values.update(fields)
    return JobSpec(**values)


def wait_for(backend, ids, done, *, timeout: float = 90, every: float = 0.3) -> dict:
    """Poll statuses of all ids in one call each time until done(statuses) is true."""
    end = time.monotonic() + timeout
    while True:
        statuses = backend.statuses(list(ids))
        if done(statuses):
            return statuses
        if time.monotonic() > end:
            raise AssertionError(f"Slurm jobs not there after {timeout} s: {statuses}")
        time.sleep(every)


def all_final(ids):
    return lambda statuses: all(i in statuses and statuses[i].state in FINAL for i in ids)


def sacct_rows(ids, fields: str) -> dict[str, list[str]]:
    """Plain `sacct -X -P` (the job lines) for the ids: {id: [field, ...]}."""
    result = subprocess.run(
        [
            "sacct",
            "-X",
            "-P",
            "-n",
            "-M",
            CLUSTER_NAME,
            "-o",
            f"jobidraw,{fields}",
            "-j",
            ",".join(ids),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return {line.split("|")[0]: line.split("|")[1:] for line in result.stdout.splitlines()}


@pytest.fixture(scope="session")
def slurm_workdir_root():
    """Where the jobs' working folders go: readable by everyone, as /tmp/pytest-of-root is not."""
    require_slurm()
    root = tempfile.mkdtemp(prefix="aifactory-slurm-tests-", dir="/tmp")
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_backend(slurm_workdir_root):
    return make_backend(slurm_workdir_root)


@pytest.fixture
def slurm_cluster(db, slurm_workdir_root):
    """The test cluster as an operator configures it in the portal (with its one partition),
    for tests of the services on the real Slurm. Accounts: slurm_accounts, or the services."""
    from aifactory.compute import services

    cluster = services.cluster_create(
        actor=None,
        name="slurm",
        backend="slurm",
        title="Single-node Slurm",
        config=slurm_config(slurm_workdir_root),
        rates={"gpu_hour": 1, "cpu_hour": 0},
    )
    services.partition_set(
        actor=None, cluster=cluster, name=PARTITION, gpus_per_node=2, gpu_type="fake",
        cpus_per_node=2, mem_gb_per_node=16, max_time_minutes=60, is_default=True,
    )  # fmt: skip
    return cluster


@pytest.fixture(scope="session")
def slurm_accounts(slurm_backend):
    """make(label, usernames, limits) provisions an account of this run; all are cancelled
    and removed at the end."""
    made = []

    def make(label: str, usernames=USERS, limits=None) -> str:
        account = unique(f"aift_{label}_")
        slurm_backend.provision(account, list(usernames), limits or Limits(None, None))
        made.append(account)
        return account

    yield make
    drop_accounts(made)


def drop_accounts(made: list[str]) -> None:
    """Cancel the accounts' jobs and delete them: Slurm removes an account only once no job of it
    is left (the users' default account is scripts/slurm/up.sh's "sandbox", never one of these)."""
    if not made:
        return
    accounts = ",".join(made)
    subprocess.run(["scancel", "-A", accounts], capture_output=True, timeout=30, check=False)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        left = subprocess.run(
            ["squeue", "-h", "-A", accounts], capture_output=True, text=True, timeout=30
        ).stdout
        if not left.strip():
            break
        time.sleep(0.5)
    subprocess.run(
        ["sacctmgr", "-i", "delete", "account", *made], capture_output=True, timeout=60, check=False
    )


def owner(path) -> str:
    return pwd.getpwuid(Path(path).stat().st_uid).pw_name
