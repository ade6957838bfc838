"""Usage ingestion in windows and chunks, and GPU efficiency where the cluster reports it.

- ``sacct --json`` is read piece by piece (the parser against the standard library on the
  cluster's real captured answers, cut at every size);
- a catch-up reads the accounting one day at a time and moves the watermark past a day only
  once it is stored: sacct failing, or dying half-way through its answer, in the third window
  leaves the watermark at the end of the second; the next run reads on from there and every
  job is counted once;
- gres/gpuutil and gres/gpumem, where Slurm records them, reach the job's efficiency, its page
  and the API; a GPU job without them shows "not reported by this cluster".

What stands in for slurmdbd is the cluster's ``sacct`` command: a script that answers ``--json
-S -E`` from a file of jobs (copies of the real record in scripts/slurm/examples/sacct.json),
selecting the jobs that ran in the window as sacct does, and that fails on request. The GPU
entries are added to that real record the way Slurm writes TRES usage; this cluster's Slurm
(22.05.8, no NVML) never writes them, so that part is tested on constructed input only."""

import copy
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from aifactory.compute import services
from aifactory.compute.backends import backend_for
from aifactory.compute.backends.base import BackendUnavailable
from aifactory.compute.backends.slurm import sacct_jobs, usage_line
from aifactory.compute.models import Job, JobState, UsageRecord
from aifactory.compute.services.usage import OVERLAP, WINDOW, WINDOWS_PER_RUN

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import make_cluster

EXAMPLES = Path(__file__).resolve().parents[3] / "scripts" / "slurm" / "examples"

SACCT = """#!{python}
import json, sys, time
from datetime import datetime, timezone
from pathlib import Path

here = Path(__file__).parent
args = sys.argv[1:]


def when(text):
    if text == "now":
        return time.time()
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    return moment.replace(tzinfo=timezone.utc).timestamp()


start, end = when(args[args.index("-S") + 1]), when(args[args.index("-E") + 1])
with open(here / "calls.log", "a") as log:
    log.write(f"{{start:.0f}} {{end:.0f}}\\n")
document = json.loads((here / "accounting.json").read_text())
# As sacct: the jobs that ran at some time in the window (a running job has end 0).
jobs = [
    job for job in document["jobs"]
    if job["time"]["start"] <= end and (job["time"]["end"] == 0 or job["time"]["end"] >= start)
]
text = json.dumps({{"meta": document["meta"], "errors": [], "jobs": jobs}}, indent=2)
failure = here / "fail.json"
if failure.exists():
    rule = json.loads(failure.read_text())
    if start >= rule["from"]:
        if rule["mode"] == "truncate":  # dies half-way through its answer
            sys.stdout.write(text[: len(text) // 2])
            sys.stdout.flush()
        sys.stderr.write("sacct: error: Problem talking to the database: Connection refused\\n")
        sys.exit(1)
sys.stdout.write(text + "\\n")
"""


def real_sacct() -> dict:
    return json.loads((EXAMPLES / "sacct.json").read_text())


def job_record(template: dict, job_id: int, account: str, start: int, elapsed: int) -> dict:
    """A copy of the cluster's real sacct record, moved to another id, account and time."""
    job = copy.deepcopy(template)
    job.update(job_id=job_id, account=account, user="pi_lab")
    job["association"].update(account=account, user="pi_lab")
    job["state"]["current"] = "COMPLETED"
    job["time"].update(start=start, eligible=start, submission=start - 5, elapsed=elapsed)
    job["time"]["end"] = start + elapsed
    return job


@pytest.fixture
def fake_slurm(db, compute_dir):
    """A Slurm cluster (CLI mode) whose sacct is the stand-in above; returns (cluster, folder)."""
    folder = compute_dir / "sacct"
    folder.mkdir()
    script = folder / "sacct"
    script.write_text(SACCT.format(python=sys.executable))
    script.chmod(0o755)
    config = {
        "mode": "cli",
        "sacct": str(script),
        "workdir_root": str(compute_dir),
        "create_workdir": False,
        "timeout_seconds": 20,
    }
    return make_cluster(name="fake", backend="slurm", config=config), folder


def write_accounting(folder: Path, jobs: list[dict]) -> None:
    meta = real_sacct()["meta"]
    (folder / "accounting.json").write_text(json.dumps({"meta": meta, "errors": [], "jobs": jobs}))


def calls(folder: Path) -> list[tuple[int, int]]:
    text = (folder / "calls.log").read_text() if (folder / "calls.log").exists() else ""
    return [tuple(int(v) for v in line.split()) for line in text.splitlines()]


# --- reading sacct's answer piece by piece ------------------------------------------------------


@pytest.mark.parametrize("name", ["sacct.json", "sacct_failed_exit3.json"])
def test_sacct_answer_read_in_pieces_equals_the_whole(name):
    document = json.loads((EXAMPLES / name).read_text())
    many = {**document, "jobs": document["jobs"] * 5}
    for text in (
        (EXAMPLES / name).read_text(),  # as sacct printed it (indented)
        json.dumps(many, separators=(",", ":")),
        json.dumps({"jobs": document["jobs"], "meta": document["meta"], "errors": []}),
    ):
        expected = json.loads(text)["jobs"]
        for size in (1, 2, 3, 7, 100, 4096, len(text)):
            pieces = (text[i : i + size] for i in range(0, len(text), size))
            assert list(sacct_jobs(pieces)) == expected, size
    assert list(sacct_jobs(iter(['{"jobs": []}\n']))) == []
    assert list(sacct_jobs(iter(["{}"]))) == []


@pytest.mark.parametrize(
    "text",
    ["", "not json", '{"jobs": [{"job_id": 1}', '{"jobs": [{"job_id": tru}]}', '{"jobs": []} x'],
)
def test_sacct_answer_that_is_not_json_is_refused(text):
    for size in (1, 4, 1000):
        with pytest.raises(ValueError):
            list(sacct_jobs(text[i : i + size] for i in range(0, len(text), size)))


def script_cluster(folder: Path, name: str, body: str, timeout: int = 20):
    """A Slurm cluster (CLI mode) whose sacct is the shell script ``body``."""
    script = folder / f"sacct-{name}"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    config = {
        "mode": "cli",
        "sacct": str(script),
        "workdir_root": str(folder),
        "create_workdir": False,
        "timeout_seconds": timeout,
    }
    return make_cluster(name=name, backend="slurm", config=config)


def test_sacct_stopped_when_the_reader_stops_and_timed_out_when_silent(db, compute_dir):
    template = real_sacct()["jobs"][0]
    now = int(timezone.now().timestamp())
    jobs = [job_record(template, 100 + k, "acct", now - 900, 60) for k in range(3)]
    document = compute_dir / "three.json"
    document.write_text(json.dumps({"jobs": jobs}, indent=2))
    pid_file = compute_dir / "sacct.pid"
    # Prints its answer, then would keep the pipe open for a minute.
    talker = script_cluster(
        compute_dir, "talker", f"echo $$ > {pid_file}\ncat {document}\nexec sleep 60\n"
    )
    lines = backend_for(talker).accounting(timezone.now() - timedelta(hours=1))
    assert next(lines).external_id == "100"
    pid = int(pid_file.read_text())
    lines.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not left behind

    silent = script_cluster(compute_dir, "silent", "exec sleep 60\n", timeout=1)
    with pytest.raises(BackendUnavailable, match="did not answer in 1 s"):
        list(backend_for(silent).accounting(timezone.now() - timedelta(hours=1)))
    broken = script_cluster(compute_dir, "broken", 'echo \'{"jobs": [{"job_id": 1\'\n')
    with pytest.raises(BackendUnavailable, match="not JSON"):
        list(backend_for(broken).accounting(timezone.now() - timedelta(hours=1)))


# --- windows and the watermark -----------------------------------------------------------------


def history(allocation, since, count=12):
    """``count`` half-hour jobs with 1 GPU spread over the 3.5 days from ``since``, none
    starting within an hour of a window's edge."""
    template = real_sacct()["jobs"][0]
    first = int(since.timestamp())
    jobs = []
    for k in range(count):
        start = first + 3600 + k * int((WINDOW * 3.5).total_seconds() - 7200) // count
        edges = [first + int(WINDOW.total_seconds()) * n for n in range(5)]
        if any(abs(start - edge) < 3600 for edge in edges):
            start += 7200
        jobs.append(job_record(template, 7000 + k, allocation.slurm_account, start, 1800))
    return jobs


@pytest.mark.parametrize("mode", ["exit", "truncate"])
def test_failure_in_a_later_window_keeps_what_was_stored_and_counts_once(
    fake_slurm, allocation, mode
):
    cluster, folder = fake_slurm
    mark = timezone.now() - WINDOW * 3.5
    type(cluster).objects.filter(pk=cluster.pk).update(usage_watermark=mark)
    cluster.refresh_from_db()
    since = cluster.usage_watermark - OVERLAP
    jobs = history(allocation, since)
    write_accounting(folder, jobs)
    third = since + 2 * WINDOW  # sacct fails from the third window on
    (folder / "fail.json").write_text(json.dumps({"from": int(third.timestamp()), "mode": mode}))

    with pytest.raises(BackendUnavailable, match="Problem talking to the database"):
        services.usage_ingest(cluster)
    cluster.refresh_from_db()
    assert cluster.usage_watermark == since + 2 * WINDOW  # past the two stored windows only
    assert len(calls(folder)) == 3
    before = {str(j["job_id"]) for j in jobs if j["time"]["start"] < third.timestamp()}
    stored = set(UsageRecord.objects.values_list("external_id", flat=True))
    assert before and before <= stored  # the first two windows are all there
    if mode == "exit":
        assert stored == before
    assert len(stored) < len(jobs)

    (folder / "fail.json").unlink()
    (folder / "calls.log").unlink()
    result = services.usage_ingest(cluster)
    cluster.refresh_from_db()
    # The next run starts where the failed one stopped (minus the overlap), not from scratch.
    assert calls(folder)[0][0] == int((since + 2 * WINDOW - OVERLAP).timestamp())
    assert cluster.usage_watermark > timezone.now() - timedelta(minutes=1)
    assert result["lines"] >= len(jobs) - len(before)
    records = UsageRecord.objects.filter(cluster=cluster)
    assert sorted(records.values_list("external_id", flat=True)) == sorted(
        str(j["job_id"]) for j in jobs
    )  # every job once
    assert records.aggregate(h=Sum("gpu_hours"))["h"] == len(jobs) * 0.5  # 1 GPU × 30 min each
    totals = services.usage_totals(allocation)
    # Read everything again from the start: nothing changes.
    type(cluster).objects.filter(pk=cluster.pk).update(usage_watermark=mark)
    cluster.refresh_from_db()
    services.usage_ingest(cluster)
    assert services.usage_totals(allocation) == totals
    assert UsageRecord.objects.filter(cluster=cluster).count() == len(jobs)


def test_a_catch_up_reads_one_day_at_a_time(fake_slurm, allocation):
    cluster, folder = fake_slurm
    mark = timezone.now() - WINDOW * 3.5
    type(cluster).objects.filter(pk=cluster.pk).update(usage_watermark=mark)
    cluster.refresh_from_db()
    since = cluster.usage_watermark - OVERLAP
    write_accounting(folder, history(allocation, since))
    services.usage_ingest(cluster)
    windows = calls(folder)
    assert len(windows) == 4
    assert [start for start, _end in windows] == [
        int((since + n * WINDOW).timestamp()) for n in range(4)
    ]
    assert all(end - start == WINDOW.total_seconds() for start, end in windows[:3])
    # Next cycle: one window from the watermark minus the overlap.
    services.usage_ingest(cluster)
    assert len(calls(folder)) == 5


def test_a_long_catch_up_goes_on_over_several_cycles(fake_slurm, allocation):
    cluster, folder = fake_slurm
    mark = timezone.now() - WINDOW * (WINDOWS_PER_RUN + 3.5)
    type(cluster).objects.filter(pk=cluster.pk).update(usage_watermark=mark)
    cluster.refresh_from_db()
    since = cluster.usage_watermark - OVERLAP
    write_accounting(folder, [])
    services.usage_ingest(cluster)
    cluster.refresh_from_db()
    assert len(calls(folder)) == WINDOWS_PER_RUN
    first_run_mark = since + WINDOWS_PER_RUN * WINDOW
    assert cluster.usage_watermark == first_run_mark
    services.usage_ingest(cluster)  # the rest: from the watermark (minus the overlap) to now
    cluster.refresh_from_db()
    second = calls(folder)[WINDOWS_PER_RUN:]
    assert second[0][0] == int((first_run_mark - OVERLAP).timestamp())
    assert 4 <= len(second) <= 5  # 3.5 days and the overlaps
    assert cluster.usage_watermark > timezone.now() - timedelta(minutes=1)


def test_backend_window_leaves_out_jobs_that_ran_outside_it(fake_slurm, allocation):
    cluster, folder = fake_slurm
    since = timezone.now() - WINDOW * 3.5
    jobs = history(allocation, since)
    write_accounting(folder, jobs)
    backend = backend_for(cluster)
    until = since + WINDOW
    lines = list(backend.accounting(since, until))
    expected = {str(j["job_id"]) for j in jobs if j["time"]["start"] <= until.timestamp()}
    assert {line.external_id for line in lines} == expected and 0 < len(expected) < len(jobs)


# --- GPU efficiency ----------------------------------------------------------------------------


def with_gpu_tres(job: dict, util: int, mem_bytes: int) -> dict:
    """The record with gres/gpuutil (percent) and gres/gpumem (bytes) in its batch step's
    measured usage (sacct's "requested": TRESUsageIn max/min/average/total), as Slurm writes
    them for a TRES with AccountingStorageTRES=gres/gpu and the gpu/nvml plugin."""
    job = copy.deepcopy(job)
    measured = job["steps"][0]["tres"]["requested"]
    for kind in ("max", "min", "average", "total"):
        for name, tres_id, count in (("gpumem", 1002, mem_bytes), ("gpuutil", 1003, util)):
            entry = {"type": "gres", "name": name, "id": tres_id, "count": count}
            if kind in ("max", "min"):
                entry.update(task=0, node="localhost")
            measured[kind].append(entry)
    return job


def test_gpu_use_where_the_cluster_reports_it(fake_slurm, team, project, allocation, api):
    cluster, folder = fake_slurm
    services.cluster_account_set(actor=None, cluster=cluster, user=team["pi"], username="pi_lab")
    real = real_sacct()["jobs"][0]
    now = int(timezone.now().timestamp())
    measured = with_gpu_tres(
        job_record(real, 8001, allocation.slurm_account, now - 3000, 1200), 73, 3 * 1024**3
    )
    plain = job_record(real, 8002, allocation.slurm_account, now - 3000, 1200)
    write_accounting(folder, [measured, plain])

    line = usage_line(measured)
    assert (line.gpu_util_percent, line.gpu_mem_mb_max, line.gpus) == (73.0, 3072.0, 1)
    assert (usage_line(plain).gpu_util_percent, usage_line(plain).gpu_mem_mb_max) == (None, None)

    jobs = {}
    for external_id in ("8001", "8002"):
        jobs[external_id] = Job.objects.create(
            reference=f"GPU{external_id}",
            project=project,
            allocation=allocation,
            cluster=cluster,
            partition="main",
            user=team["pi"],
            username="pi_lab",
            name="train",
            script="python train.py",
            gpus=1,
            cpus=1,
            mem_mb=256,
            time_limit_minutes=30,
            state=JobState.COMPLETED,
            external_id=external_id,
            submitted_at=timezone.now(),
            exit_code=0,
        )
    # The records start before the rows were made here: read from an hour before them.
    type(cluster).objects.filter(pk=cluster.pk).update(
        usage_watermark=timezone.now() - timedelta(hours=1)
    )
    cluster.refresh_from_db()
    services.usage_ingest(cluster)
    for job in jobs.values():
        job.refresh_from_db()
    assert jobs["8001"].efficiency.get("gpu") == 0.73, jobs["8001"].efficiency
    assert jobs["8001"].efficiency["gpu_memory_mb"] == 3072.0
    assert "cpu" in jobs["8002"].efficiency and "gpu" not in jobs["8002"].efficiency

    client = Client()
    client.force_login(team["pi"])
    page = client.get("/jobs/GPU8001/status/").content.decode()
    assert 'id="job-efficiency-gpu">73%<' in page
    assert 'id="job-efficiency-gpu_memory_mb">3,072 MB<' in page
    assert "not reported by this cluster" not in page
    page = client.get("/jobs/GPU8002/").content.decode()
    assert "not reported by this cluster" in page and 'id="job-efficiency-cpu"' in page
    body = api(team["pi"]).get("/jobs/GPU8001").json()
    assert body["efficiency"]["gpu"] == 0.73 and body["efficiency"]["gpu_memory_mb"] == 3072.0
    assert "gpu" not in api(team["pi"]).get("/jobs/GPU8002").json()["efficiency"]
