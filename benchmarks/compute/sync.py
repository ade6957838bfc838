"""Status sync of many active jobs in one cycle, against one-call-per-job polling (issue 5).

Target: a sync cycle of 10,000 active jobs takes the portal under 2 s. Baseline, in the same run
and against the same server: polling ``GET /slurm/v0.0.38/job/{id}`` once per job.

What is real: the Slurm backend (``backends/slurm.py``: JWT minted per request from a key file,
httpx, JSON parsing, Slurm state mapping), ``services.cluster_sync`` (the query of the active
jobs, the comparison, ``job_apply_status`` with its row lock, save and JobEvent per changed job,
then usage ingestion) and the database (SQLite in a temporary folder, or PostgreSQL with
``--database-url``). What stands in for slurmctld: a small HTTP server (stdlib ``http.server``,
in a child process so its CPU does not share the portal's interpreter) that answers
``GET /slurm/v0.0.38/jobs`` and ``GET /slurm/v0.0.38/job/{id}`` the way slurmrestd 22.05 does,
each job a copy of the RUNNING job of scripts/slurm/examples/jobs_response.json (about 2.5 KB of
JSON each: 10,000 jobs are a 25 MB answer, built with ``json.dumps`` for every request, as
slurmrestd builds its answer every time). ``sacct`` is a script that prints an empty job list,
so the usage step of the cycle runs but ingests nothing (usage is benchmarks/compute/ingest.py).

Measured per cycle: wall time, the server's time to build its answer (reported apart),
portal time = wall − server build, the portal process's CPU time, and SQL queries. Cycles:
no change; 10 % of the jobs change state (pending → running: a JobEvent, node and start time
each); and a catch-up cycle where every remaining pending job starts. The baseline polls a
sample of jobs (``--sample``, default 500) one request each, doing the same comparison and
updates, and is extrapolated per job to all jobs — twice: through the backend's own request
helper (a new connection and a fresh JWT per request, as the backend would poll), and through one
keep-alive connection with one token (the cheapest per-job polling could be).

    .venv/bin/python benchmarks/compute/sync.py [--jobs 10000] [--rounds 3] [--sample 500]
        [--database-url postgres://postgres@127.0.0.1:5432/aifactory_bench_sync]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    BenchError,
    Busy,
    Stopwatch,
    machine,
    make_world,
    say,
    setup_django,
    table,
)

EXAMPLE = ROOT / "scripts" / "slurm" / "examples" / "jobs_response.json"
API = "v0.0.38"
FIRST_ID = 100_000
START_EPOCH = 1_795_900_000

# ----------------------------------------------------------------------------- the fake slurmrestd


class FakeSlurm:
    """Jobs as slurmctld holds them; answers are built per request (as slurmrestd does)."""

    def __init__(self, count: int):
        example = json.loads(EXAMPLE.read_text())
        self.meta = example["meta"]
        template = next(j for j in example["jobs"] if j["job_state"] == "RUNNING")
        self.jobs = {}
        for i in range(count):
            job = json.loads(json.dumps(template))
            job_id = FIRST_ID + i
            job.update(job_id=job_id, name=f"bench-{job_id}", account="bench", user_name="bench_pi")
            self._set(job, "PENDING")
            self.jobs[job_id] = job
        self.lock = threading.Lock()
        self.build_seconds = 0.0
        self.requests = 0

    @staticmethod
    def _set(job: dict, state: str) -> None:
        job["job_state"] = state
        if state == "PENDING":
            job.update(state_reason="Priority", nodes="", start_time=START_EPOCH + 3600)
            job["end_time"] = job["start_time"] + 3600
        else:
            job.update(state_reason="None", nodes="localhost")
            job["start_time"] = START_EPOCH + job["job_id"] % 600
            job["end_time"] = job["start_time"] + 3600
        job["exit_code"] = 0

    def answer(self, path: str) -> tuple[int, bytes]:
        started = time.perf_counter()
        prefix = f"/slurm/{API}/"
        with self.lock:
            if path == prefix + "jobs":
                body = {"meta": self.meta, "errors": [], "jobs": list(self.jobs.values())}
                status = 200
            elif path.startswith(prefix + "job/") and path[len(prefix) + 4 :].isdigit():
                job = self.jobs.get(int(path[len(prefix) + 4 :]))
                status = 200 if job else 500
                body = {"meta": self.meta, "errors": [], "jobs": [job]}
                if job is None:
                    body = {
                        "meta": self.meta,
                        "errors": [{"error_number": 2017, "error": "Invalid job id specified"}],
                        "jobs": [],
                    }
            else:
                return 404, b"{}"
            data = json.dumps(body, indent=None).encode()
            self.build_seconds += time.perf_counter() - started
            self.requests += 1
        return status, data

    def control(self, payload: dict) -> None:
        with self.lock:
            for state, ids in payload.items():
                for job_id in ids:
                    self._set(self.jobs[int(job_id)], state)


def serve(count: int) -> None:
    """The child process: print the port, answer until killed."""
    slurm = FakeSlurm(count)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive for the clients that want it
        disable_nagle_algorithm = True  # headers and body are two writes

        def log_message(self, *args):
            pass

        def _send(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/_stats":
                with slurm.lock:
                    stats = {"build_seconds": slurm.build_seconds, "requests": slurm.requests}
                self._send(200, json.dumps(stats).encode())
                return
            if not self.headers.get("X-SLURM-USER-TOKEN"):
                self._send(401, b'{"errors": [{"error": "Authentication failure"}]}')
                return
            self._send(*slurm.answer(self.path))

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            slurm.control(json.loads(self.rfile.read(length)))
            self._send(200, b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


class Server:
    def __init__(self, count: int):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(count)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise BenchError(f"the fake slurmrestd did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stats(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/_stats", timeout=30).json()

    def set_states(self, **states: list[int]) -> None:
        import httpx

        httpx.post(f"{self.url}/_control", json=states, timeout=60).raise_for_status()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


# ----------------------------------------------------------------------------- the portal side


def make_jobs(world: dict, count: int) -> None:
    """The portal's rows for the jobs the server knows: pending with Slurm's reason, as after
    their submission and a first sync."""
    from django.utils import timezone

    from aifactory.compute.models import Job, JobState

    now = timezone.now()
    rows = [
        Job(
            reference=f"B{FIRST_ID + i}",
            project=world["project"],
            allocation=world["allocation"],
            cluster=world["cluster"],
            partition="main",
            user=world["pi"],
            username="bench_pi",
            name=f"bench-{FIRST_ID + i}",
            script="true",
            cpus=1,
            mem_mb=256,
            time_limit_minutes=60,
            max_cost={"gpu_hours": 0, "cpu_core_hours": 1, "billing": 0.1},
            state=JobState.PENDING,
            reason="Priority",
            external_id=str(FIRST_ID + i),
            submitted_at=now,
        )
        for i in range(count)
    ]
    Job.objects.bulk_create(rows, batch_size=1000)


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def cycle(cluster, server: Server) -> dict:
    from django.db import connection

    from aifactory.compute.services import cluster_sync

    before = server.stats()
    counter = QueryCounter()
    with connection.execute_wrapper(counter), Stopwatch() as watch:
        result = cluster_sync(cluster)
    after = server.stats()
    if result.get("error"):
        raise BenchError(f"cluster_sync reported an error: {result['error']}")
    server_s = after["build_seconds"] - before["build_seconds"]
    return {
        "wall": watch.wall,
        "server": server_s,
        "portal": watch.wall - server_s,
        "cpu": watch.cpu,
        "queries": counter.count,
        "checked": result["checked"],
        "changed": result["changed"],
        "requests": after["requests"] - before["requests"] - 0,
    }


def poll_each(cluster, server: Server, sample: list, keep_alive: bool) -> dict:
    """The baseline: one request per job, then the same comparison and update as the sync."""
    import httpx
    from django.db import connection

    from aifactory.compute.backends import backend_for
    from aifactory.compute.services.sync import _same, job_apply_status

    backend = backend_for(cluster)
    admin = backend.config["admin_user"]
    client = httpx.Client(timeout=30) if keep_alive else None
    headers = {"X-SLURM-USER-NAME": admin, "X-SLURM-USER-TOKEN": backend._token(admin)}
    before = server.stats()
    counter = QueryCounter()
    changed = 0
    with connection.execute_wrapper(counter), Stopwatch() as watch:
        for job in sample:
            if keep_alive:
                response = client.get(
                    f"{server.url}/slurm/{API}/job/{job.external_id}", headers=headers
                )
                data = response.json()
            else:
                data = backend._rest("GET", f"job/{job.external_id}", user=admin)
            status = backend._status_of(data["jobs"][0])
            if not _same(job, status):
                job_apply_status(job, status)
                changed += 1
    after = server.stats()
    if client is not None:
        client.close()
    server_s = after["build_seconds"] - before["build_seconds"]
    return {
        "wall": watch.wall,
        "server": server_s,
        "portal": watch.wall - server_s,
        "cpu": watch.cpu,
        "queries": counter.count,
        "checked": len(sample),
        "changed": changed,
        "requests": after["requests"] - before["requests"],
    }


def run(args) -> int:
    data_dir = tempfile.mkdtemp(prefix="aifactory-bench-sync-")
    server = None
    try:
        say(f"fake slurmrestd: building {args.jobs:,} jobs")
        server = Server(args.jobs)
        vendor = setup_django(data_dir, args.database_url)
        key = Path(data_dir) / "jwt.key"
        key.write_bytes(os.urandom(32))
        sacct = Path(data_dir) / "sacct"
        sacct.write_text("#!/bin/sh\necho '{\"jobs\": []}'\n")
        sacct.chmod(0o755)
        config = {
            "mode": "rest",
            "rest_url": server.url,
            "api_version": API,
            "jwt_key_path": str(key),
            "admin_user": "slurmrest",
            "workdir_root": data_dir,
            "create_workdir": False,
            "timeout_seconds": 60,
            "sacct": str(sacct),
            "squeue": "/nonexistent/squeue",
        }
        world = make_world("bench", "slurm", config, username="bench_pi")
        cluster = world["cluster"]
        say(f"portal: {args.jobs:,} job rows ({vendor})")
        make_jobs(world, args.jobs)

        from aifactory.compute.backends import backend_for
        from aifactory.compute.models import Job, JobEvent, JobState

        ids = [FIRST_ID + i for i in range(args.jobs)]
        step = max(1, args.jobs // 10)
        rows = []

        def add(label: str, m: dict, per: int | None = None) -> None:
            rows.append(
                [
                    label,
                    f"{m['checked']:,}",
                    f"{m['changed']:,}",
                    m["requests"],
                    f"{m['wall']:.3f}",
                    f"{m['server']:.3f}",
                    f"**{m['portal']:.3f}**" if per is None else f"{m['portal']:.3f}",
                    f"{m['cpu']:.3f}",
                    m["queries"],
                ]
            )

        busy = Busy([server.proc.pid])
        busy.add_database_backend()
        busy.__enter__()
        say("warm-up cycle")
        warm = cycle(cluster, server)
        if warm["checked"] != args.jobs or warm["changed"] != 0:
            raise BenchError(f"warm-up: expected {args.jobs} checked and 0 changed, got {warm}")

        # statuses() alone: HTTP + JSON + parsing, no database.
        backend = backend_for(cluster)
        before = server.stats()
        with Stopwatch() as alone:
            found = backend.statuses([str(i) for i in ids])
        alone_server = server.stats()["build_seconds"] - before["build_seconds"]
        if len(found) != args.jobs:
            raise BenchError(f"statuses() found {len(found)} of {args.jobs} jobs")

        nochange, change = [], []
        for r in range(args.rounds):
            say(f"round {r + 1}: cycle without changes")
            m = cycle(cluster, server)
            if m["changed"] != 0 or m["checked"] != args.jobs:
                raise BenchError(f"no-change cycle changed {m['changed']} jobs")
            nochange.append(m)
        for r in range(args.rounds):
            starting = ids[r * step : (r + 1) * step]
            server.set_states(RUNNING=starting)
            say(f"round {r + 1}: cycle with {len(starting):,} jobs starting")
            m = cycle(cluster, server)
            if m["changed"] != len(starting):
                raise BenchError(f"expected {len(starting)} changes, the sync made {m['changed']}")
            change.append(m)
        events = JobEvent.objects.filter(to_state=JobState.RUNNING).count()
        if events != args.rounds * step:
            raise BenchError(f"expected {args.rounds * step} JobEvents, found {events}")

        def best(ms):
            return min(ms, key=lambda m: m["portal"])

        def median(ms):
            return sorted(ms, key=lambda m: m["portal"])[len(ms) // 2]

        add("one call: no change (median)", median(nochange))
        add("one call: no change (best)", best(nochange))
        add("one call: 10% start (median)", median(change))
        rows.append(
            [
                "statuses() alone (HTTP + JSON + parsing)",
                f"{args.jobs:,}",
                "–",
                1,
                f"{alone.wall:.3f}",
                f"{alone_server:.3f}",
                f"{alone.wall - alone_server:.3f}",
                f"{alone.cpu:.3f}",
                0,
            ]
        )

        # The baseline, on a sample: no change, then 10% of the sample starting.
        active = list(
            Job.objects.filter(cluster=cluster, state=JobState.PENDING).order_by("external_id")
        )
        sample = active[: args.sample]
        base = {}
        for keep_alive in (False, True):
            name = "keep-alive" if keep_alive else "backend"
            say(f"baseline ({name}): {len(sample)} requests, no change")
            base[(name, "no change")] = poll_each(cluster, server, sample, keep_alive)
        changing = [int(j.external_id) for j in sample[: max(1, len(sample) // 10)]]
        server.set_states(RUNNING=changing)
        say(f"baseline (backend): {len(sample)} requests, {len(changing)} starting")
        base[("backend", "10% start")] = poll_each(cluster, server, sample, False)
        for (name, what), m in base.items():
            n = m["checked"]
            scale = args.jobs / n
            label = f"per job ({name}): {what}, {n} jobs × {scale:g}"
            scaled = {
                k: (m[k] * scale if k in ("wall", "server", "portal", "cpu") else m[k]) for k in m
            }
            scaled["checked"] = args.jobs
            scaled["changed"] = int(m["changed"] * scale)
            scaled["requests"] = int(m["requests"] * scale)
            scaled["queries"] = int(m["queries"] * scale)
            add(label, scaled, per=n)
            m["scaled"] = scaled

        # The catch-up cycle: every job still pending starts.
        left = list(
            Job.objects.filter(cluster=cluster, state=JobState.PENDING).values_list(
                "external_id", flat=True
            )
        )
        server.set_states(RUNNING=[int(i) for i in left])
        say(f"catch-up cycle: {len(left):,} jobs starting")
        catch = cycle(cluster, server)
        add("one call: catch-up, all pending start", catch)
        busy.__exit__(None, None, None)

        print(machine(vendor))
        print(busy.line())
        print(
            f"jobs: {args.jobs:,} active; server answer for all jobs: "
            f"{warm['requests']} request(s); rounds: {args.rounds}; baseline sample: {len(sample)}"
        )
        print()
        print(
            table(
                [
                    "cycle",
                    "jobs",
                    "changed",
                    "requests",
                    "wall s",
                    "server s",
                    "portal s",
                    "portal CPU s",
                    "SQL",
                ],
                rows,
            )
        )
        print()
        target = median(nochange)["portal"]
        target_change = median(change)["portal"]
        for what, mine in (("no change", target), ("10% start", target_change)):
            other = base[("backend", what)]["scaled"]["portal"]
            print(
                f"{what}: portal {mine:.3f} s per cycle -> target < 2 s "
                f"{'met' if mine < 2 else 'MISSED'}; one call per job would take {other:.1f} s "
                f"(backend's requests, extrapolated): {other / mine:.0f}x"
            )
        ka = base[("keep-alive", "no change")]["scaled"]["portal"]
        print(
            f"no change, per-job polling over one keep-alive connection: {ka:.1f} s: {ka / target:.0f}x"
        )
        return 0
    except BenchError as exc:
        say(f"error: {exc}")
        return 2
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="active jobs (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3, help="cycles of each kind (default 3)")
    parser.add_argument(
        "--sample", type=int, default=500, help="jobs the per-job baseline polls (default 500)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL database to drop and recreate (name must contain 'bench'); "
        "default: DATABASE_URL, else SQLite in a temporary folder",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if args.jobs < 10 or args.rounds < 1 or args.sample < 10:
        parser.error("--jobs and --sample must be at least 10, --rounds at least 1")
    if args.rounds > 8:
        parser.error("--rounds: at most 8 (each starts 10% of the jobs)")
    if args.sample > args.jobs - args.rounds * (args.jobs // 10):
        parser.error("--sample: larger than the jobs still pending after the rounds")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
