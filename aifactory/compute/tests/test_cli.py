"""`aifactory clusters ...` and `aifactory jobs ...`: strict parsing with errors naming the option,
and the whole path from the shell on the real local backend (a template job that trains)."""

import json
import os
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aifactory.compute import services
from aifactory.compute.cli_clusters import parse_mem, parse_time
from aifactory.compute.models import Cluster, ClusterAccount, Job, JobState, Partition
from aifactory.core.models import AuditEvent
from aifactory.core.tests import processes

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import make_cluster, open_project, sync_until
from .test_job_templates import write_reviews


def run(command, *args) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def refused(command, *args) -> str:
    with pytest.raises(CommandError) as exc:
        run(command, *args)
    return str(exc.value)


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,minutes",
    [
        ("90", 90),
        ("2:00:00", 120),
        ("02:30:00", 150),
        ("1-12:00:00", 2160),
        ("1-2", 1560),
        ("0-0:45", 45),
        ("1:30", 2),  # MM:SS, seconds round up to a whole minute
        ("0:0:59", 1),
        (" 60 ", 60),
    ],
)
def test_time_limits(text, minutes):
    assert parse_time(text) == minutes


@pytest.mark.parametrize(
    "text",
    ["", "abc", "0", "0:00:00", "-5", "1.5", "2:60:00", "1:00:60", "1-24:00:00", "1h", "1:2:3:4"],
)
def test_bad_time_limits_name_the_option(text):
    with pytest.raises(CommandError, match="^--time: "):
        parse_time(text)


@pytest.mark.parametrize(
    "text,mb",
    [("512M", 512), ("16G", 16384), ("16g", 16384), ("16GB", 16384), ("1T", 1048576), ("512", 512)],
)
def test_memory_sizes(text, mb):
    assert parse_mem(text) == mb


@pytest.mark.parametrize("text", ["", "0G", "16Q", "1.5G", "-1G", "G", "16 G B", "16K"])
def test_bad_memory_sizes_name_the_option(text):
    with pytest.raises(CommandError, match="^--mem: "):
        parse_mem(text)


# --- clusters ----------------------------------------------------------------------------------


def test_clusters_add_list_partition_account(db, team, compute_dir):
    out = run(
        "clusters", "add", "gpu-box", "--backend", "local", "--title", "The GPU box",
        "--config", "max_jobs=3", "allow_in_production=false",
        "--rate-gpu-hour", "2.5", "--rate-cpu-hour", "0.1", "--gpu-watts", "350",
        "--node-watts", "500", "--pue", "1.3", "--grid", "80", "--sync-seconds", "10",
    )  # fmt: skip
    assert "added cluster gpu-box" in out
    cluster = Cluster.objects.get(name="gpu-box")
    assert cluster.config == {"max_jobs": 3, "allow_in_production": False}
    assert (str(cluster.rate_gpu_hour), cluster.gpu_watts, str(cluster.pue)) == (
        "2.5000",
        350,
        "1.30",
    )
    assert AuditEvent.objects.get(action="cluster.create").actor_repr == "system"

    out = run(
        "clusters", "partition", "gpu-box", "gpu", "--gpus-per-node", "2",
        "--cpus-per-node", "16", "--mem-gb", "64", "--gpu-type", "fake", "--max-time", "1-00:00:00",
    )  # fmt: skip
    assert "gpu-box:gpu (default) saved" in out
    run("clusters", "partition", "gpu-box", "cpu", "--gpus-per-node", "0",
        "--cpus-per-node", "8", "--mem-gb", "32", "--default")  # fmt: skip
    assert Partition.objects.get(name="gpu").max_time_minutes == 1440
    assert Partition.objects.get(is_default=True).name == "cpu"

    out = run("clusters", "account", "gpu-box", "--user", "PI@lab.example", "--username", "kim")
    assert "runs jobs on gpu-box as kim" in out
    assert ClusterAccount.objects.get(cluster=cluster).user == team["pi"]

    rows = json.loads(run("clusters", "list", "--json"))
    assert [r["name"] for r in rows] == ["gpu-box"]
    assert rows[0]["accounts"] == 1 and rows[0]["sync_seconds"] == 10
    assert [(p["name"], p["default"]) for p in rows[0]["partitions"]] == [
        ("cpu", True),
        ("gpu", False),
    ]
    text = run("clusters", "list")
    assert "gpu-box" in text and "2 GPU fake" in text and "default" in text


def test_clusters_errors_name_the_option(db, team, compute_dir):
    run("clusters", "add", "box", "--backend", "local")
    assert refused("clusters", "add", "box", "--backend", "local").startswith("NAME: ")
    assert refused("clusters", "add", "Bad Name", "--backend", "local").startswith("NAME: ")
    assert "--backend" in refused("clusters", "add", "x", "--backend", "pbs")
    assert refused(
        "clusters", "add", "x", "--backend", "local", "--config", "max_job=2"
    ).startswith("--config max_job: Unknown setting")
    assert refused("clusters", "add", "x", "--backend", "local", "--config", "max_jobs").startswith(
        "--config: use KEY=VALUE"
    )
    assert refused("clusters", "add", "x", "--backend", "local", "--pue", "0.5").startswith(
        "--pue: "
    )
    assert refused("clusters", "add", "x", "--backend", "local", "--gpu-watts", "lots").startswith(
        "--gpu-watts: "
    )
    assert refused(
        "clusters", "add", "x", "--backend", "slurm", "--config", "mode=rest"
    ).startswith("--config workdir_root: ")
    assert not Cluster.objects.filter(name="x").exists()
    part = ["--gpus-per-node", "0", "--cpus-per-node", "4", "--mem-gb", "8"]
    assert refused("clusters", "partition", "nope", "p", *part).startswith("cluster: no cluster")
    assert refused("clusters", "partition", "box", "p", *part[:4], "--mem-gb", "x").startswith(
        "--mem-gb: "
    )
    assert refused("clusters", "partition", "box", "p", *part, "--max-time", "2:70:00").startswith(
        "--max-time: "
    )
    assert "--cpus-per-node" in refused("clusters", "partition", "box", "p", "--gpus-per-node", "0")
    assert refused(
        "clusters", "account", "box", "--user", "pi@lab.example", "--username", "root"
    ) == ("--username: Jobs never run as root or slurm.")
    assert refused("clusters", "account", "box", "--user", "who@x.example", "--username", "a") == (
        "--user: no person with the address 'who@x.example'"
    )
    assert not Partition.objects.exists() and not ClusterAccount.objects.exists()


def test_clusters_sync_runs_one_cycle(cluster):
    assert cluster.last_sync_at is None
    out = run("clusters", "sync", cluster.name)
    assert out.startswith(f"synced {cluster.name}: submitted 0")
    cluster.refresh_from_db()
    assert cluster.last_sync_at is not None and cluster.last_sync_error == ""
    assert json.loads(run("clusters", "sync", cluster.name, "--json"))["checked"] == 0


# --- jobs --------------------------------------------------------------------------------------


def submit_args(project, cluster, *more, user="member@lab.example"):
    return ["jobs", "submit", "--project", project.code, "--cluster", cluster.name,
            "--time", "10", "--user", user, *more]  # fmt: skip


def test_jobs_templates_are_listed():
    text = run("jobs", "templates")
    assert "text-classifier: Fine-tune a text classifier" in text
    assert "--param data=<str>  (required)" in text
    assert "--param runtime=<apptainer|enroot>  (default 'apptainer')" in text
    rows = json.loads(run("jobs", "templates", "--json"))
    assert [r["name"] for r in rows] == [
        "text-classifier",
        "batch-inference",
        "container",
        "script",
    ]


def test_submit_errors_name_the_option(team, cluster, project, accounts, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    base = submit_args(project, cluster)
    assert refused(*base).startswith("SCRIPT: give a script file or --template")
    assert refused(*base, str(script), "--template", "script").startswith("SCRIPT: ")
    assert refused(*base, str(tmp_path / "missing.sh")).startswith("SCRIPT: no such file")
    assert refused(*base, str(script), "--param", "a=1").startswith("--param: parameters go with")
    assert refused(*base, str(script), "--mem", "16Q").startswith("--mem: use a size")
    assert refused(*base, str(script), "--time", "9:99").startswith("--time: ")  # the last wins
    assert refused(*base, "--template", "nope").startswith("--template: No such template")
    message = refused(*base, "--template", "text-classifier", "--param", "seed=x", "colour=red")
    assert "--param data: This parameter is required." in message
    assert "--param seed: Enter a whole number." in message
    assert "--param colour: Unknown parameter" in message
    assert refused(*base, "--template", "script", "--param", "script=a", "script=b") == (
        "--param script: given twice"
    )
    assert refused(*base, str(script), "--mem", "64G").startswith("--mem: The partition main")
    assert refused(*base, str(script), "--gpus", "two").startswith("--gpus: ")
    assert refused(*base, str(script), "--partition", "big").startswith("--partition: ")
    assert refused(*submit_args(project, cluster, str(script), user="x@y.example")).startswith(
        "--user: no person"
    )
    assert refused(
        *submit_args(project, cluster, str(script), user="outsider@elsewhere.example")
    ) == ("--user: outsider@elsewhere.example may not do that (job.submit)")
    assert refused(
        *submit_args(project, cluster, str(script), user="manager@lab.example")
    ).startswith("--cluster: You have no username on the cluster laptop")
    message = refused(*base, str(script), "--gpus", "2", "--time", "6:00:00")
    assert message.startswith("--time: The job does not fit in the allocation's budget.")
    assert "up to 12.00, but only 10.00 remain" in message
    assert not Job.objects.exists()


def test_submit_list_show_logs_cancel_from_the_shell(
    team, cluster, project, accounts, tmp_path, live_jobs, django_capture_on_commit_callbacks
):
    script = tmp_path / "job.sh"
    script.write_text("echo hello from the shell\necho oops >&2\n")
    with django_capture_on_commit_callbacks(execute=True):
        out = run(*submit_args(project, cluster, str(script), "--mem", "512M", "--name", "hello"))
    job = Job.objects.get()
    live_jobs.append(job)
    assert out.startswith(f"{job.reference} ")
    assert "as member_lab" in out and "CPU core h" in out
    assert (job.mem_mb, job.time_limit_minutes, job.name, job.user) == (
        512, 10, "hello", team["member"],
    )  # fmt: skip
    assert AuditEvent.objects.get(action="job.submit").actor == team["member"]
    sync_until(cluster, job)
    assert job.state == JobState.COMPLETED

    rows = json.loads(run("jobs", "list", "--project", project.code, "--json"))
    assert [(r["reference"], r["state"]) for r in rows] == [(job.reference, "completed")]
    assert job.reference in run("jobs", "list", "--state", "completed")
    assert run("jobs", "list", "--state", "running") == "no jobs\n"
    shown = json.loads(run("jobs", "show", job.reference, "--json"))
    assert [e["to"] for e in shown["events"]][-1] == "completed"
    assert shown["script"] == script.read_text()
    assert "pending_submission ->" in run("jobs", "show", str(job.id))
    logs = run("jobs", "logs", job.reference)
    assert "==> stdout <==\nhello from the shell\n" in logs and "oops" in logs
    assert refused("jobs", "show", "J-1999-00001") == "REF: no job 'J-1999-00001'"

    # Cancel: an ended job is refused; a running one is cancelled for its owner.
    assert "has already ended" in refused(
        "jobs", "cancel", job.reference, "--user", "member@lab.example"
    )
    script.write_text("sleep 60\n")
    with django_capture_on_commit_callbacks(execute=True):
        run(*submit_args(project, cluster, str(script)))
    sleeper = Job.objects.exclude(pk=job.pk).get()
    live_jobs.append(sleeper)
    assert refused("jobs", "cancel", sleeper.reference, "--user", "outsider@elsewhere.example") == (
        "--user: outsider@elsewhere.example may not do that (job.cancel)"
    )
    run("jobs", "cancel", sleeper.reference, "--user", "pi@lab.example")
    sync_until(cluster, sleeper)
    assert sleeper.state == JobState.CANCELLED
    assert AuditEvent.objects.get(action="job.cancel").actor == team["pi"]


def test_a_template_job_trains_a_classifier_on_the_local_backend(
    team, cluster, project, accounts, live_jobs, django_capture_on_commit_callbacks
):
    # The CSV where the job's user (nobody, when the tests run as root) can read it.
    folder = Path(tempfile.mkdtemp(prefix="aifactory-cli-", dir="/tmp"))
    os.chmod(folder, 0o755)
    data = folder / "reviews.csv"
    write_reviews(data)
    os.chmod(data, 0o644)
    with django_capture_on_commit_callbacks(execute=True):
        out = run(
            *submit_args(project, cluster, "--template", "text-classifier", "--cpus", "2"),
            "--param", f"data={data}", "test_size=0.25",
        )  # fmt: skip
    job = Job.objects.get()
    live_jobs.append(job)
    assert out.startswith(job.reference)
    assert (job.template, job.params["test_size"]) == ("text-classifier", "0.25")
    sync_until(cluster, job, timeout=120)
    logs = run("jobs", "logs", job.reference)
    assert job.state == JobState.COMPLETED, logs
    assert "accuracy " in logs and "on 60 held-out rows" in logs
    metrics = json.loads((Path(job.workdir) / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9 and metrics["test_rows"] == 60
    assert (Path(job.workdir) / "model.joblib").stat().st_size > 0


# --- the worker --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_worker_syncs_the_clusters_periodically(team, compute_dir, live_jobs):
    # compute registers clusters_sync_due as a periodic task; a real worker runs it.
    cluster = make_cluster()
    services.cluster_update(actor=None, cluster=cluster, sync_seconds=1)
    project = open_project(team, cluster.name)
    services.cluster_account_set(actor=None, cluster=cluster, user=team["member"], username="m")
    job = services.job_submit(
        actor=team["member"], project=project, cluster=cluster, script="echo synced",
        time_limit_minutes=5,
    )  # fmt: skip
    live_jobs.append(job)
    syncs = []

    def finished():
        cluster.refresh_from_db()
        if cluster.last_sync_at and cluster.last_sync_at not in syncs:
            syncs.append(cluster.last_sync_at)
        job.refresh_from_db()
        return job.state == JobState.COMPLETED and len(syncs) >= 2

    worker = processes.start(
        "worker", "--interval", "0.1",
        COMPUTE_SYNC_SECONDS="1", AIFACTORY_COMPUTE_DIR=str(compute_dir),
    )  # fmt: skip
    try:
        done = processes.wait_for(finished, timeout=60)
    finally:
        output = processes.stop(worker)
    assert done, (job.state, syncs, output)
    assert cluster.last_sync_error == ""
    assert "synced" in run("jobs", "logs", job.reference)
