"""The local backend with real runner processes: outcomes, time limit, cancel, slots, logs,
accounting, never root, production refusal, unsafe names, a runner that dies."""

import os
import pwd
import shutil
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aifactory.compute.backends import backend_for
from aifactory.compute.backends import local_runner as runner
from aifactory.compute.backends.base import BackendRefused, JobSpec, Limits
from aifactory.compute.backends.local import LocalBackend
from aifactory.compute.models import FINAL_STATES, Cluster, JobState

AS_ROOT = os.geteuid() == 0
# Block until the test creates the file "go" in the job's working folder.
WAIT_FOR_GO = "echo started; while [ ! -e go ]; do sleep 0.05; done; echo released"


@pytest.fixture
def compute_dir(settings):
    # Under /tmp (which anybody may pass through), so the job's user reaches its folder.
    folder = Path(tempfile.mkdtemp(prefix="aifactory-compute-", dir="/tmp"))
    os.chmod(folder, 0o711)
    settings.COMPUTE_DIR = folder
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def started():
    """Every (backend, key) submitted; whatever still runs is cancelled at the end."""
    jobs = []
    yield jobs
    for backend, key in jobs:
        status = backend.statuses([key]).get(key)
        if status and status.state not in FINAL_STATES:
            backend.cancel(key, "")
    for backend, key in jobs:
        wait_for(backend, key, FINAL_STATES)


@pytest.fixture
def make_backend(db, compute_dir, started):
    def make(name="local-test", **config):
        config = {"seconds_per_minute": 60, "kill_grace_seconds": 1, **config}
        cluster = Cluster.objects.create(name=name, backend="local", config=config)
        backend = backend_for(cluster)
        backend.started = started
        return backend

    return make


def spec(key, script, **changes):
    fields = {
        "job_key": key,
        "username": "alice",
        "account": "p-climate",
        "partition": "",
        "script": script,
        "gpus": 0,
        "cpus": 1,
        "mem_mb": 512,
        "time_limit_minutes": 5,
        "workdir": "",
    }
    fields.update(changes)
    return JobSpec(**fields)


def submit(backend, key, script, **changes):
    external_id = backend.submit(spec(key, script, **changes))
    backend.started.append((backend, external_id))
    return external_id


def wait_for(backend, key, states, timeout=15):
    states = {str(s) for s in states}
    deadline = time.monotonic() + timeout
    while True:
        status = backend.statuses([key]).get(key)
        if status and status.state in states:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} is {status and status.state}, not in {sorted(states)}")
        time.sleep(0.05)


def wait_until(check, timeout=15):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def release(backend, key):
    Path(backend.workdir_for(key), "go").touch()


def test_job_completes_with_output_and_exit_code(make_backend):
    backend = make_backend()
    key = submit(backend, "J-0001", 'echo hello; echo oops >&2; echo "key=$AIFACTORY_JOB_KEY"; pwd')
    assert key == "J-0001"
    status = wait_for(backend, key, [JobState.COMPLETED])
    assert status.exit_code == 0
    assert status.node
    assert status.started_at <= status.ended_at
    logs = backend.logs(backend.workdir_for(key), key, tail_bytes=10_000)
    assert logs["stdout"] == f"hello\nkey=J-0001\n{backend.workdir_for(key)}\n"
    assert logs["stderr"] == "oops\n"


def test_job_that_fails_keeps_its_exit_code(make_backend):
    backend = make_backend()
    key = submit(backend, "J-0002", "echo before; exit 3")
    status = wait_for(backend, key, FINAL_STATES)
    assert (status.state, status.exit_code) == (JobState.FAILED, 3)
    assert backend.logs("", key, tail_bytes=100)["stdout"] == "before\n"


def test_time_limit_kills_the_job(make_backend):
    # One "minute" lasts half a second here.
    backend = make_backend(seconds_per_minute=0.5)
    key = submit(backend, "J-0003", "echo going; sleep 30 & wait", time_limit_minutes=1)
    status = wait_for(backend, key, FINAL_STATES, timeout=10)
    assert status.state == JobState.TIMEOUT
    assert (status.ended_at - status.started_at).total_seconds() < 5
    assert status.exit_code == 128 + signal.SIGTERM
    assert backend.logs("", key, tail_bytes=100)["stdout"] == "going\n"


def test_cancel_a_running_and_a_pending_job(make_backend):
    backend = make_backend(max_jobs=1)
    running = submit(backend, "J-0004", WAIT_FOR_GO)
    wait_for(backend, running, [JobState.RUNNING])
    pending = submit(backend, "J-0005", "echo never")
    assert wait_for(backend, pending, [JobState.PENDING]).reason in ("", "Resources")

    backend.cancel(pending, "alice")
    status = wait_for(backend, pending, FINAL_STATES)
    assert status.state == JobState.CANCELLED and status.started_at is None

    backend.cancel(running, "alice")
    status = wait_for(backend, running, FINAL_STATES)
    assert status.state == JobState.CANCELLED
    assert "released" not in backend.logs("", running, tail_bytes=100)["stdout"]
    backend.cancel(running, "alice")  # already over: nothing to do
    assert backend.statuses([running])[running].state == JobState.CANCELLED

    with pytest.raises(BackendRefused, match="no job J-9999"):
        backend.cancel("J-9999", "alice")


def test_sigterm_to_the_runner_cancels(make_backend):
    backend = make_backend()
    key = submit(backend, "J-0006", WAIT_FOR_GO)
    wait_for(backend, key, [JobState.RUNNING])
    os.kill(runner.read_status(backend.runs_dir / key)["runner_pid"], signal.SIGTERM)
    assert wait_for(backend, key, FINAL_STATES).state == JobState.CANCELLED


def test_concurrent_jobs_are_capped(make_backend):
    backend = make_backend(max_jobs=1)
    keys = [submit(backend, f"J-01{i}", WAIT_FOR_GO) for i in range(3)]

    def one_runs_two_wait_for_resources():
        found = backend.statuses(keys)
        states = sorted((s.state, s.reason) for s in found.values())
        return states == [("pending", "Resources")] * 2 + [("running", "")]

    def running():
        return [k for k, s in backend.statuses(keys).items() if s.state == JobState.RUNNING]

    wait_until(one_runs_two_wait_for_resources)
    for _ in range(3):
        wait_until(running)
        assert len(running()) == 1
        first = running()[0]
        release(backend, first)
        wait_for(backend, first, FINAL_STATES)

    found = backend.statuses(keys)
    assert {s.state for s in found.values()} == {JobState.COMPLETED}
    spans = sorted((s.started_at, s.ended_at) for s in found.values())
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))  # never two at once


def test_statuses_of_many_jobs_in_one_call(make_backend):
    backend = make_backend(max_jobs=6)
    keys = [submit(backend, f"J-02{i}", f"exit {i}") for i in range(6)]
    wait_until(lambda: all(s.state in FINAL_STATES for s in backend.statuses(keys).values()))
    found = backend.statuses([*keys, "J-unknown", "../runs/J-020", ".hidden", ""])
    assert sorted(found) == keys  # unknown and unsafe ids are left out
    assert [found[k].exit_code for k in keys] == list(range(6))
    assert found["J-020"].state == JobState.COMPLETED
    assert {found[k].state for k in keys[1:]} == {JobState.FAILED}


def test_logs_tail_and_no_path_traversal(make_backend):
    backend = make_backend()
    key = submit(backend, "J-0030", "for i in $(seq 1 2000); do echo line $i; done")
    other = submit(backend, "J-0031", "echo other")
    wait_for(backend, key, [JobState.COMPLETED])
    tail = backend.logs(backend.workdir_for(key), key, tail_bytes=30)["stdout"]
    assert len(tail.encode()) == 30 and tail.endswith("line 1999\nline 2000\n")
    assert backend.logs("", key, tail_bytes=0) == {"stdout": "", "stderr": ""}

    for workdir in ("/etc", str(backend.root), f"{backend.jobs_dir}/../runs/{key}", "/tmp"):
        with pytest.raises(BackendRefused, match="outside this cluster's jobs folder"):
            backend.logs(workdir, key, tail_bytes=100)
    with pytest.raises(BackendRefused, match="is not the folder of"):
        backend.logs(backend.workdir_for(other), key, tail_bytes=100)
    for external_id in ("../../etc", "J-0030/../J-0031", "/etc/passwd", ".x"):
        with pytest.raises(BackendRefused, match="external_id"):
            backend.logs("", external_id, tail_bytes=100)


def test_accounting_since_a_time(make_backend):
    backend = make_backend(max_jobs=3)
    early = submit(backend, "J-0040", "true", gpus=2, cpus=2, mem_mb=2048)
    wait_for(backend, early, FINAL_STATES)
    since = datetime.now(UTC)
    busy = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; exit 1"
    late = submit(backend, "J-0041", busy, gpus=1, cpus=4, time_limit_minutes=2)
    waiting = submit(backend, "J-0042", WAIT_FOR_GO, gpus=1)
    wait_for(backend, late, FINAL_STATES)
    wait_for(backend, waiting, [JobState.RUNNING])

    lines = {line.external_id: line for line in backend.accounting(since)}
    assert sorted(lines) == [late, waiting]  # the early one ended before `since`
    line = lines[late]
    assert (line.state, line.step, line.account, line.username) == (
        "failed",
        "",
        "p-climate",
        "alice",
    )
    assert (line.gpus, line.cpus, line.mem_mb_requested) == (1, 4, 512)
    assert line.start and line.end and line.start <= line.end
    assert line.elapsed_seconds == round((line.end - line.start).total_seconds())
    assert line.cpu_seconds_used > 0 and line.mem_mb_max > 0
    assert lines[waiting].state == "running" and lines[waiting].end is None

    everything = {line.external_id: line for line in backend.accounting(datetime(2020, 1, 1))}
    assert sorted(everything) == [early, late, waiting]
    assert (everything[early].gpus, everything[early].cpus) == (2, 2)
    assert everything[early].mem_mb_requested == 2048
    release(backend, waiting)
    wait_for(backend, waiting, [JobState.COMPLETED])
    assert backend.accounting(datetime.now(UTC)) == []
    assert (
        backend.provision("p-climate", ["alice"], Limits(gpu_minutes=60, cpu_minutes=None)) is None
    )


@pytest.mark.skipif(not AS_ROOT, reason="only root can switch users")
def test_jobs_never_run_as_root(make_backend, settings):
    backend = make_backend()
    key = submit(backend, "J-0050", "id -u; id -G; echo $HOME; touch mine")
    wait_for(backend, key, [JobState.COMPLETED])
    nobody = pwd.getpwnam("nobody")
    uid, groups, home = backend.logs("", key, tail_bytes=1000)["stdout"].splitlines()
    assert uid == str(nobody.pw_uid) and "0" not in groups.split()
    assert home == backend.workdir_for(key)
    assert Path(backend.workdir_for(key), "mine").stat().st_uid == nobody.pw_uid
    # The run folder with status and logs is not the job's to change.
    assert (backend.runs_dir / key).stat().st_uid == 0
    assert (backend.runs_dir / key).stat().st_mode & 0o077 == 0

    for run_as, message in (("no-such-user-x", "there is no user"), ("root", "is root")):
        other = make_backend(name=f"local-{run_as}", run_as=run_as)
        with pytest.raises(BackendRefused, match=message):
            other.submit(spec("J-0051", "id -u"))
        assert not (other.runs_dir / "J-0051").exists()


@pytest.mark.skipif(not AS_ROOT, reason="only root can switch users")
def test_a_closed_folder_above_is_explained(make_backend, settings, compute_dir):
    closed = compute_dir / "closed"
    closed.mkdir(mode=0o700)
    settings.COMPUTE_DIR = closed / "compute"
    backend = make_backend(name="local-closed")
    key = submit(backend, "J-0055", "cat job.sh > /dev/null && echo relative paths work")
    wait_for(backend, key, [JobState.COMPLETED])
    logs = backend.logs("", key, tail_bytes=1000)
    assert logs["stdout"] == "relative paths work\n"
    assert "AIFACTORY_COMPUTE_DIR" in logs["stderr"]


def test_refused_in_production_unless_allowed(make_backend, settings):
    settings.PRODUCTION = True
    with pytest.raises(BackendRefused, match="allow_in_production"):
        make_backend(name="local-prod")
    backend = make_backend(name="local-prod-ok", allow_in_production=True)
    assert isinstance(backend, LocalBackend)


def test_unsafe_names_and_bad_specs_are_refused(make_backend):
    backend = make_backend()
    for key in ("../escape", "a/b", ".hidden", "", "x" * 101, "J 1"):
        with pytest.raises(BackendRefused, match="job_key"):
            backend.submit(spec(key, "true"))
    with pytest.raises(BackendRefused, match="workdir"):
        backend.submit(spec("J-0060", "true", workdir="/tmp/elsewhere"))
    with pytest.raises(BackendRefused, match="time_limit_minutes"):
        backend.submit(spec("J-0060", "true", time_limit_minutes=0))
    with pytest.raises(BackendRefused, match="environment"):
        backend.submit(spec("J-0060", "true", environment={"BAD-NAME": "x"}))
    assert not backend.runs_dir.exists() or list(backend.runs_dir.iterdir()) == []
    assert not (backend.jobs_dir / "J-0060").exists()

    with pytest.raises(BackendRefused, match="max_jobs"):
        make_backend(name="local-bad", max_jobs=0)
    with pytest.raises(BackendRefused, match="unknown backend"):
        backend_for(Cluster(name="odd", backend="pbs"))

    # Its own folder, given explicitly, is fine; so is the job's environment.
    key = submit(
        backend,
        "J-0061",
        'echo "$GREETING"',
        workdir=backend.workdir_for("J-0061"),
        environment={"GREETING": "moien"},
    )
    wait_for(backend, key, [JobState.COMPLETED])
    assert backend.logs("", key, tail_bytes=100)["stdout"] == "moien\n"


def test_a_retried_submission_starts_nothing_twice(make_backend):
    backend = make_backend()
    key = submit(backend, "J-0070", "echo once >> count.txt")
    assert backend.submit(spec("J-0070", "echo once >> count.txt")) == key
    wait_for(backend, key, [JobState.COMPLETED])
    time.sleep(0.3)
    assert Path(backend.workdir_for(key), "count.txt").read_text() == "once\n"


def test_a_runner_that_died_is_a_node_failure(make_backend):
    backend = make_backend()
    key = submit(backend, "J-0080", WAIT_FOR_GO)
    wait_for(backend, key, [JobState.RUNNING])
    status = runner.read_status(backend.runs_dir / key)
    os.kill(status["runner_pid"], signal.SIGKILL)
    found = wait_for(backend, key, FINAL_STATES)
    assert (found.state, found.reason) == (JobState.NODE_FAIL, "the job's runner stopped")
    # The orphaned job was killed with it.
    wait_until(lambda: not Path(f"/proc/{status['pid']}").exists() or _zombie(status["pid"]))


def _zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def test_runner_states_are_the_models_states():
    assert {str(s) for s in FINAL_STATES} == runner.FINAL
    for name in ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
        assert getattr(runner, name) == JobState[name].value
