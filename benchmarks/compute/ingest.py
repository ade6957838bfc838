"""Usage ingestion of 100,000 ``sacct`` records: time and peak memory, twice (issue 5).

What is real: the Slurm backend's accounting (``SlurmBackend.accounting``: it runs the cluster's
``sacct`` command with ``--json -a -S <since> -E now``, reads its output from the pipe a megabyte
at a time, parses each job as it arrives and maps it to a UsageLine) and ``services.usage_ingest``
(windows of a day, allocation by Slurm account, people by cluster username, hours, billing and
energy per record, upserts by (cluster, job id, step) in chunks of 2,000 as the lines arrive,
efficiency of the portal's own jobs, budget alerts) on a real database
(SQLite in a temporary folder, or PostgreSQL with ``--database-url``). What stands in for
slurmdbd: the cluster's ``sacct`` setting points at a two-line script that prints a generated
``sacct --json`` document of ``--records`` jobs (each a copy of the job in
scripts/slurm/examples/sacct.json with its batch step, about 4.6 KB of compact JSON: 100,000 jobs
are a 0.46 GB document; real sacct indents its output, which only makes it larger). The script
ignores ``-S`` and ``-E``, so the second run re-reads every record, as an overlap that covered them
all would; the cluster's watermark is set an hour back before the first run, so each run reads one
window (with no watermark a first run would read a day at a time from the allocation's start, and
this script would answer every day with all the records).

Records: 90 % in the project's Slurm account (charged to its allocation), 10 % in an account the
portal does not know (kept, with no allocation); ``--portal-share`` of them (default 10 %) are
jobs the portal submitted (their efficiency is computed and saved). States: mostly COMPLETED, some
FAILED, TIMEOUT and CANCELLED, 1 % RUNNING.

Passes, each in a fresh process so its peak memory is its own (VmHWM of the process, i.e. peak
RSS; with --tracemalloc also Python's traced peak, which slows everything down):

0. baseline (unless --no-baseline): the former way, sacct's whole output read, parsed at once
   and mapped into a list — what accounting() did before it streamed;
1. parse only: ``backend.accounting(since)`` — sacct's output read, parsed and mapped, and the
   lines counted (not kept);
2. first ingestion: ``usage_ingest(cluster)`` into an empty table;
3. second ingestion of the same records: must insert nothing and change no total.

    .venv/bin/python benchmarks/compute/ingest.py [--records 100000] [--portal-share 0.1]
        [--tracemalloc] [--database-url postgres://postgres@127.0.0.1:5432/aifactory_bench_ingest]
"""

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    BenchError,
    Busy,
    Stopwatch,
    machine,
    make_world,
    reset_peak_rss,
    rss_mb,
    say,
    setup_django,
    table,
)

EXAMPLE = ROOT / "scripts" / "slurm" / "examples" / "sacct.json"
FIRST_ID = 500_000
STATES = ["COMPLETED"] * 85 + ["FAILED"] * 6 + ["TIMEOUT"] * 4 + ["CANCELLED"] * 4 + ["RUNNING"]


def generate(path: Path, count: int, account: str, now: int, seed: int = 5) -> int:
    """Write a sacct --json document of ``count`` jobs; returns its size in bytes."""
    example = json.loads(EXAMPLE.read_text())
    template = json.dumps(example["jobs"][0])
    rng = random.Random(seed)
    with path.open("w") as out:
        out.write(json.dumps({"meta": example["meta"], "errors": []})[:-1])
        out.write(', "jobs": [')
        for i in range(count):
            job = json.loads(template)
            job_id = FIRST_ID + i
            state = rng.choice(STATES)
            cpus, gpus = rng.choice((1, 2, 4, 8)), rng.choice((0, 0, 1, 2))
            elapsed = rng.randint(30, 4 * 3600)
            start = now - rng.randint(3600, 20 * 86400)
            job.update(
                job_id=job_id,
                name=f"bench-{job_id}",
                account=account if i % 10 else "elsewhere_acct",
                user="bench_pi" if i % 3 else "stranger",
            )
            job["association"].update(account=job["account"], user=job["user"])
            job["state"]["current"] = state
            times = job["time"]
            times.update(
                start=start,
                eligible=start,
                submission=start - 5,
                elapsed=elapsed,
                end=0 if state == "RUNNING" else start + elapsed,
            )
            for entry in job["tres"]["allocated"] + job["tres"]["requested"]:
                if entry["type"] == "cpu":
                    entry["count"] = cpus
                elif entry["type"] == "gres":
                    entry["count"] = gpus
                elif entry["type"] == "mem":
                    entry["count"] = 1024 * cpus
            for step in job["steps"]:
                step["time"]["elapsed"] = elapsed
                step["time"]["total"] = {
                    "seconds": int(elapsed * cpus * rng.uniform(0.2, 1.0)),
                    "microseconds": 0,
                }
            out.write(("," if i else "") + json.dumps(job, separators=(",", ":")))
        out.write("]}\n")
    return path.stat().st_size


def make_portal_jobs(world: dict, count: int, share: float) -> int:
    from django.utils import timezone

    from aifactory.compute.models import Job, JobState

    every = round(1 / share) if share > 0 else 0
    if not every:
        return 0
    now = timezone.now()
    rows = [
        Job(
            reference=f"U{FIRST_ID + i}",
            project=world["project"],
            allocation=world["allocation"],
            cluster=world["cluster"],
            partition="main",
            user=world["pi"],
            username="bench_pi",
            name=f"bench-{FIRST_ID + i}",
            script="true",
            cpus=8,
            mem_mb=8192,
            time_limit_minutes=300,
            state=JobState.COMPLETED,
            external_id=str(FIRST_ID + i),
            submitted_at=now,
            ended_at=now,
            exit_code=0,
        )
        for i in range(every // 2, count, every)  # in the project's account
    ]
    Job.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


# ----------------------------------------------------------------------------- one pass (child)


def one_pass(args) -> None:
    """Run in a fresh process: one pass, a JSON line with its figures on stdout."""
    setup_django(args.data_dir, args.database_url, fresh=False)
    import tracemalloc

    from django.db import connection
    from django.db.models import Count, Sum

    from aifactory.compute.backends import backend_for
    from aifactory.compute.models import BudgetAlert, Cluster, Job, UsageRecord
    from aifactory.compute.services import usage_ingest

    cluster = Cluster.objects.get(name="bench")
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    gc.collect()
    before = rss_mb()
    if not reset_peak_rss():
        raise BenchError("cannot reset the peak RSS (/proc/self/clear_refs)")
    if args.tracemalloc:
        tracemalloc.start()
    rows_before = UsageRecord.objects.count()
    result = {"pass": args.one_pass}
    with connection.execute_wrapper(count), Stopwatch() as watch:
        if args.one_pass == "parse":
            from datetime import UTC, datetime

            lines = backend_for(cluster).accounting(datetime(2020, 1, 1, tzinfo=UTC))
            result["lines"] = sum(1 for _line in lines)
        elif args.one_pass == "whole":
            # The baseline: how accounting() read before it streamed (sacct's whole output as
            # one string, json.loads of all of it with the collector off, every line in a list).
            from aifactory.compute.backends.slurm import _loads, usage_line

            backend = backend_for(cluster)
            output = backend._run([backend.config["sacct"], "--json"], env=backend._env())
            jobs = _loads(output.stdout).get("jobs") or []
            lines = [line for line in map(usage_line, jobs) if line is not None]
            result["lines"] = len(lines)
        else:
            result.update(usage_ingest(cluster))
    peak = rss_mb("VmHWM")
    if args.tracemalloc:
        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
    totals = UsageRecord.objects.aggregate(
        rows=Count("id"), gpu=Sum("gpu_hours"), cpu=Sum("cpu_core_hours"), kwh=Sum("energy_kwh")
    )
    result.update(
        seconds=watch.wall,
        cpu_seconds=watch.cpu,
        rss_before_mb=before,
        peak_rss_mb=peak,
        queries=queries[0],
        rows_before=rows_before,
        rows_after=totals["rows"],
        charged=UsageRecord.objects.filter(allocation__isnull=False).count(),
        totals={k: str(totals[k]) for k in ("gpu", "cpu", "kwh")},
        efficiency_set=Job.objects.exclude(efficiency={}).count(),
        alerts=BudgetAlert.objects.count(),
    )
    print("RESULT " + json.dumps(result), flush=True)


def child(args, what: str) -> dict:
    cmd = [sys.executable, __file__, "--one-pass", what, "--data-dir", args.data_dir]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    if args.tracemalloc:
        cmd.append("--tracemalloc")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), "")
    if proc.returncode != 0 or not line:
        raise BenchError(f"pass {what} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def run(args) -> int:
    args.data_dir = tempfile.mkdtemp(prefix="aifactory-bench-ingest-")
    try:
        vendor = setup_django(args.data_dir, args.database_url)
        document = Path(args.data_dir) / "sacct.json"
        sacct = Path(args.data_dir) / "sacct"
        sacct.write_text(f"#!/bin/sh\nexec cat {document}\n")
        sacct.chmod(0o755)
        config = {
            "mode": "cli",
            "timeout_seconds": 3600,
            "sacct": str(sacct),
            "workdir_root": args.data_dir,
            "create_workdir": False,
        }
        world = make_world("bench", "slurm", config, username="bench_pi")
        account = world["allocation"].slurm_account
        from datetime import timedelta

        from django.utils import timezone

        from aifactory.compute.models import Cluster

        hour_ago = timezone.now() - timedelta(hours=1)  # one window per run (see the docstring)
        Cluster.objects.filter(pk=world["cluster"].pk).update(usage_watermark=hour_ago)
        say(f"generating a sacct --json document of {args.records:,} jobs")
        with Stopwatch() as gen:
            size = generate(document, args.records, account, int(time.time()))
        portal_jobs = make_portal_jobs(world, args.records, args.portal_share)
        say(f"{size / 1e6:.0f} MB in {gen.wall:.0f} s; {portal_jobs:,} portal jobs")
        host = machine(vendor)

        passes = {}
        busy = Busy().__enter__()  # the passes are children: counted once they end
        for what in (("whole",) if args.baseline else ()) + ("parse", "ingest", "ingest"):
            label = {
                "whole": "baseline: parse only, whole answer at once",
                "parse": "parse only",
                "ingest": "ingestion",
            }[what]
            if what == "ingest" and ("first ingestion" in passes):
                label = "second ingestion (same records)"
            elif what == "ingest":
                label = "first ingestion"
            say(f"pass: {label}")
            passes[label] = child(args, what)
        busy.__exit__(None, None, None)

        first, second = passes["first ingestion"], passes["second ingestion (same records)"]
        problems = []
        if passes["parse only"]["lines"] != args.records:
            problems.append(f"parse: {passes['parse only']['lines']} lines, not {args.records}")
        if first["rows_after"] != args.records:
            problems.append(f"first ingestion: {first['rows_after']} rows, not {args.records}")
        if second["rows_after"] != first["rows_after"]:
            problems.append(
                f"second ingestion inserted {second['rows_after'] - first['rows_after']} rows"
            )
        if second["totals"] != first["totals"]:
            problems.append(f"totals changed: {first['totals']} -> {second['totals']}")

        rows = []
        for label, m in passes.items():
            rows.append(
                [
                    label,
                    f"{m.get('lines', args.records):,}",
                    f"{m['rows_after'] - m['rows_before']:,}" if m["pass"] == "ingest" else "–",
                    f"{m['seconds']:.1f}",
                    f"{m['cpu_seconds']:.1f}",
                    f"{args.records / m['seconds']:,.0f}",
                    f"{m['rss_before_mb']:.0f}",
                    f"{m['peak_rss_mb']:.0f}",
                    f"{m['peak_rss_mb'] - m['rss_before_mb']:.0f}",
                    f"{m['traced_peak_mb']:.0f}" if "traced_peak_mb" in m else "–",
                    f"{m['queries']:,}",
                ]
            )
        print(host)
        print(busy.line())
        print(
            f"records: {args.records:,} jobs with one step each, sacct document {size / 1e6:.0f} MB "
            f"(compact JSON); {portal_jobs:,} of them submitted by the portal; "
            f"{first['charged']:,} charged to the allocation"
        )
        print()
        print(
            table(
                [
                    "pass",
                    "records",
                    "rows inserted",
                    "wall s",
                    "CPU s",
                    "records/s",
                    "RSS before MB",
                    "peak RSS MB",
                    "peak − before MB",
                    "traced peak MB",
                    "SQL",
                ],
                rows,
            )
        )
        print()
        print(
            f"totals after the first run {first['totals']}, after the second {second['totals']}; "
            f"efficiency saved on {second['efficiency_set']:,} portal jobs; "
            f"budget alerts: {second['alerts']}"
        )
        whole = passes.get("baseline: parse only, whole answer at once")
        if whole:
            if whole["lines"] != args.records:
                problems.append(f"baseline: {whole['lines']} lines, not {args.records}")
            parse = passes["parse only"]
            grown = [m["peak_rss_mb"] - m["rss_before_mb"] for m in (whole, parse, first)]
            print(
                f"against the baseline (same run): peak RSS {whole['peak_rss_mb']:.0f} MB "
                f"whole answer at once, {parse['peak_rss_mb']:.0f} MB streamed "
                f"({grown[0] / max(grown[1], 1):.0f}× less growth), "
                f"{first['peak_rss_mb']:.0f} MB for the whole first ingestion; parse CPU "
                f"{whole['cpu_seconds']:.1f} s whole, {parse['cpu_seconds']:.1f} s streamed"
            )
        if problems:
            for problem in problems:
                print(f"ERROR: {problem}")
            return 1
        print("idempotent: the second run inserted nothing and changed no total")
        return 0
    except BenchError as exc:
        say(f"error: {exc}")
        return 2
    finally:
        shutil.rmtree(args.data_dir, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="sacct jobs (default 100,000)")
    parser.add_argument(
        "--portal-share",
        type=float,
        default=0.1,
        help="share of the records that are jobs the portal submitted (default 0.1)",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python's allocations (slower)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL database to drop and recreate (name must contain 'bench'); "
        "default: DATABASE_URL, else SQLite in a temporary folder",
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the baseline pass (the whole answer at once, as before streaming: ~3 GB)",
    )
    parser.add_argument("--one-pass", choices=["whole", "parse", "ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.records < 10:
        parser.error("--records: at least 10")
    if not 0 <= args.portal_share <= 1:
        parser.error("--portal-share: between 0 and 1")
    if args.one_pass:
        try:
            one_pass(args)
        except BenchError as exc:
            say(f"error: {exc}")
            return 2
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
