"""Job submission through the API to the real single-node Slurm: latency and jobs per second
(issue 5).

Each submission is ``POST /api/v1/jobs`` with a bearer token, through Django's test client in
this process (the whole request: token check, validation, the budget check under the
allocation's row lock, the job, its event and audit record written, then — after the commit —
the job handed to Slurm: a JWT minted for the user, its working folder made and chowned, and
``POST /slurm/v0.0.38/job/submit`` to slurmrestd), and counts only when the answer is 201 and the
job got a Slurm job id. Jobs are tiny (``true``, 1 CPU, 128 MB, 1 minute) on the cluster that
scripts/slurm/up.sh runs on this machine, in an account of their own that the portal provisions
(``allocation_provision``, ``sacctmgr``) with the cluster user aifuser1.

Baseline in the same run: the backend's ``submit()`` alone (slurmrestd and the working folder,
no portal around it) for ``--baseline`` jobs, so the portal's share can be told from Slurm's.

Afterwards every job of the account is cancelled, and the account is removed from Slurm. Needs
root (JWT key, working folders owned by the job's user) and the cluster up; like the Slurm tests
it stops with the reason when it is not.

    .venv/bin/python benchmarks/compute/submit.py [--jobs 200] [--baseline 50] [--clients 1]
        [--profile N]
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BenchError,
    Busy,
    Stopwatch,
    machine,
    make_world,
    percentile,
    pids_named,
    say,
    setup_django,
    table,
)

SCRIPT = "true\n"


def summary(label: str, latencies: list[float], wall: float, errors: int, clients: int) -> list:
    ms = [v * 1000 for v in latencies]
    return [
        label,
        len(latencies),
        errors,
        clients,
        f"{percentile(ms, 50):.1f}",
        f"{percentile(ms, 95):.1f}",
        f"{max(ms):.1f}",
        f"{len(latencies) / wall:.1f}",
    ]


def submit_through_api(secret: str, body: dict, count: int, clients: int) -> tuple:
    """``count`` POSTs split over ``clients`` threads; (latencies, wall, errors, references)."""
    from django.db import connection
    from django.test import Client

    latencies, references, errors = [], [], []
    lock = threading.Lock()
    per_client = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def work(n: int) -> None:
        client = Client(HTTP_HOST="localhost")
        headers = {"Authorization": f"Bearer {secret}"}
        try:
            for _ in range(n):
                payload = {**body, "idempotency_key": secrets.token_hex(8)}
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/jobs",
                    data=json.dumps(payload),
                    content_type="application/json",
                    headers=headers,
                )
                took = time.perf_counter() - started
                data = response.json() if response.status_code < 500 else {}
                with lock:
                    if response.status_code == 201 and data.get("external_id"):
                        latencies.append(took)
                        references.append(data["reference"])
                    else:
                        errors.append(f"{response.status_code}: {str(data)[:300]}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in per_client if n]
    with Stopwatch() as watch:
        if clients == 1:  # in this thread (a profiler sees it)
            work(count)
        else:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    return latencies, watch.wall, errors, references


def submit_backend_alone(cluster, account: str, username: str, partition: str, count: int):
    from aifactory.compute.backends import backend_for
    from aifactory.compute.backends.base import BackendError, JobSpec

    backend = backend_for(cluster)
    latencies, errors, ids = [], [], []
    with Stopwatch() as watch:
        for _ in range(count):
            key = f"base{secrets.token_hex(6)}"
            spec = JobSpec(
                job_key=key, username=username, account=account, partition=partition,
                script=SCRIPT, gpus=0, cpus=1, mem_mb=128,
                time_limit_minutes=1, workdir=backend.workdir_for(key), environment={},
            )  # fmt: skip
            started = time.perf_counter()
            try:
                ids.append(backend.submit(spec))
                latencies.append(time.perf_counter() - started)
            except BackendError as exc:
                errors.append(str(exc))
    return latencies, watch.wall, errors, ids


def clean_up(account: str) -> str:
    """Cancel the account's jobs, wait until none is left, remove the account."""
    subprocess.run(["scancel", "-A", account], capture_output=True, timeout=60, check=False)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        left = subprocess.run(
            ["squeue", "-h", "-A", account], capture_output=True, text=True, timeout=30
        ).stdout
        if not left.strip():
            break
        time.sleep(0.5)
    # Slurm refuses to remove an account while a job of it is still finishing: try again.
    text = ""
    while True:
        removed = subprocess.run(
            ["sacctmgr", "-i", "delete", "account", account],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        text = " ".join((removed.stdout + removed.stderr).split())
        listed = subprocess.run(
            ["sacctmgr", "-n", "-P", "list", "account", f"account={account}", "format=account"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.strip()
        if not listed:
            return f"removed the Slurm account {account}"
        if time.monotonic() > end + 60:
            return f"could NOT remove the Slurm account {account}: {text[:300]}"
        time.sleep(2)


def run(args) -> int:
    data_dir = tempfile.mkdtemp(prefix="aifactory-bench-submit-")
    workdir_root = tempfile.mkdtemp(prefix="aifactory-bench-slurm-", dir="/tmp")
    os.chmod(workdir_root, 0o755)
    account = ""
    try:
        vendor = setup_django(data_dir, args.database_url)
        from aifactory.compute.tests import slurm_helpers as slurm

        reason = slurm._unavailable_reason()
        if reason:
            raise BenchError(
                f"the real Slurm cluster is not available: {reason} (scripts/slurm/up.sh)"
            )
        from django.db.models import Count

        from aifactory.accounts import services as accounts
        from aifactory.compute import services
        from aifactory.compute.models import Job

        config = slurm.slurm_config(workdir_root)
        world = make_world(
            "slurm-bench", "slurm", config, partition=slurm.PARTITION, username=slurm.USERS[0]
        )
        cluster, allocation = world["cluster"], world["allocation"]
        account = allocation.slurm_account
        say(f"provisioning the Slurm account {account} for {slurm.USERS[0]}")
        services.allocation_provision(
            actor=world["operator"], allocation=allocation, cluster=cluster
        )
        _token, secret = accounts.token_create(user=world["pi"], name="benchmark")
        body = {
            "project": world["project"].code,
            "cluster": cluster.name,
            "partition": slurm.PARTITION,
            "script": SCRIPT,
            "cpus": 1,
            "mem_mb": 128,
            "time_limit_minutes": 1,
            "name": "bench",
        }
        say("warm-up: 3 submissions through the API")
        warm = submit_through_api(secret, body, 3, 1)
        if warm[2]:
            raise BenchError(f"warm-up submission failed: {warm[2][0]}")

        daemons = pids_named(
            "slurmctld", "slurmd", "slurmdbd", "slurmrestd", "slurmstepd", "mariadbd", "munged"
        )
        busy = Busy(apart={"Slurm daemons and MariaDB": daemons})
        busy.add_database_backend()
        busy.__enter__()
        say(f"baseline: {args.baseline} submissions through the backend alone")
        base = submit_backend_alone(
            cluster, account, slurm.USERS[0], slurm.PARTITION, args.baseline
        )
        say(f"API: {args.jobs} submissions, {args.clients} client(s)")
        api = submit_through_api(secret, body, args.jobs, args.clients)
        busy.__exit__(None, None, None)

        if args.profile:
            import cProfile
            import io
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            submit_through_api(secret, body, args.profile, 1)
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(60)
            say(f"=== profile of {args.profile} API submissions (cumulative)\n{text.getvalue()}")

        states = dict(
            Job.objects.filter(reference__in=api[3])
            .values_list("state")
            .annotate(n=Count("id"))
            .order_by()
        )
        rows = []
        if base[0]:
            rows.append(
                summary("baseline: backend.submit() alone", base[0], base[1], len(base[2]), 1)
            )
        if api[0]:
            rows.append(summary("POST /api/v1/jobs", api[0], api[1], len(api[2]), args.clients))
        print(machine(vendor))
        print(busy.line())
        print(
            f"Slurm: {subprocess.run(['sinfo', '-V'], capture_output=True, text=True).stdout.strip()}"
            f" on this machine (slurmctld, slurmdbd, slurmrestd share the 2 CPUs); jobs `true`, "
            f"1 CPU, 128 MB, 1 min; account {account}"
        )
        print()
        print(
            table(
                ["submission", "jobs", "errors", "clients", "p50 ms", "p95 ms", "max ms", "jobs/s"],
                rows,
            )
        )
        print()
        if base[0] and api[0]:
            p50_api, p50_base = percentile(api[0], 50), percentile(base[0], 50)
            print(
                f"the portal adds {1000 * (p50_api - p50_base):.1f} ms at p50 to Slurm's own "
                f"submission ({1000 * p50_base:.1f} ms); states right after: {states}"
            )
        for error in (base[2] + api[2])[:5]:
            print(f"ERROR: {error}")
        return 1 if base[2] or api[2] else 0
    except BenchError as exc:
        say(f"error: {exc}")
        return 2
    finally:
        if account:
            say(f"clean-up: cancelling the jobs of {account} and removing it")
            say(clean_up(account))
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(workdir_root, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="API submissions (default 200)")
    parser.add_argument(
        "--baseline", type=int, default=50, help="backend-alone submissions (default 50)"
    )
    parser.add_argument("--clients", type=int, default=1, help="concurrent API clients")
    parser.add_argument(
        "--profile", type=int, default=0, help="also profile N more API submissions (stderr)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL database to drop and recreate (name must contain 'bench'); "
        "default: DATABASE_URL, else SQLite in a temporary folder",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.baseline < 0 or args.clients < 1:
        parser.error("--jobs and --clients must be at least 1, --baseline 0 or more")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
