"""The detached process that runs one job of the local backend.

Started by ``LocalBackend.submit`` as ``python -m aifactory.compute.backends.local_runner RUN_DIR``
in its own session. It forks once so the launcher returns at once, then: waits for one of the
cluster's ``max_jobs`` slots (file locks; ``pending`` with reason ``Resources`` meanwhile), runs
``bash job.sh`` in the job's working folder in its own process group, enforces the time limit,
honours a ``cancel`` request file or SIGTERM, and writes ``status.json`` atomically at each change.

It imports nothing from Django: everything it needs is in ``RUN_DIR/job.json``, written by the
backend. The run folder (control files, stdout/stderr) is separate from the working folder, so the
job, which owns its working folder, cannot forge its own status or point its logs elsewhere.
Whoever holds the exclusive lock on ``RUN_DIR/runner.lock`` is the live runner (the backend takes
it before starting us and we inherit it), so a runner that died is told apart from a slow one.
"""

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

# The JobState values (compute.models), repeated here because this process runs without Django.
PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TIMEOUT = "timeout"
NODE_FAIL = "node_fail"
FINAL = frozenset({COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL})

POLL_SECONDS = 0.1
SLOT_POLL_SECONDS = 0.2


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def read_status(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def write_status(run_dir: Path, **changes) -> dict:
    """Merge the changes into status.json, atomically (temp file + rename)."""
    status = read_status(run_dir)
    status.update(changes)
    status["updated_at"] = now_iso()
    tmp = run_dir / f".status.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(status, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, run_dir / "status.json")
    return status


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Runner:
    def __init__(self, run_dir: Path, job: dict):
        self.run_dir = run_dir
        self.job = job
        self.stop_requested = False

    def _on_signal(self, signum, frame):
        self.stop_requested = True

    def cancel_requested(self) -> bool:
        return self.stop_requested or (self.run_dir / "cancel").exists()

    def take_slot(self):
        """An open, locked slot file, or None when cancelled while waiting."""
        slots = Path(self.job["slots_dir"])
        slots.mkdir(parents=True, exist_ok=True)
        waiting = False
        while True:
            for i in range(int(self.job["max_jobs"])):
                fd = os.open(slots / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return fd
            if self.cancel_requested():
                return None
            if not waiting:
                write_status(self.run_dir, state=PENDING, reason="Resources")
                waiting = True
            time.sleep(SLOT_POLL_SECONDS)

    def popen_kwargs(self) -> dict:
        kwargs = {}
        if os.geteuid() == 0:
            uid, gid = self.job.get("run_uid"), self.job.get("run_gid")
            if uid is None or gid is None or int(uid) == 0:
                raise RuntimeError("refusing to run a job as root: no run_as user in job.json")
            kwargs.update(user=int(uid), group=int(gid), extra_groups=[])
        return kwargs

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        write_status(self.run_dir, runner_pid=os.getpid())
        slot = self.take_slot()
        if slot is None:
            write_status(
                self.run_dir, state=CANCELLED, reason="cancelled while pending", ended_at=now_iso()
            )
            return 0
        try:
            return self.run_job()
        finally:
            os.close(slot)

    def run_job(self) -> int:
        job, run_dir = self.job, self.run_dir
        bash = shutil.which("bash", path=job["environment"].get("PATH")) or "/bin/bash"
        with (
            open(run_dir / "stdout.log", "ab") as out,
            open(run_dir / "stderr.log", "ab") as err,
        ):
            proc = subprocess.Popen(  # noqa: S603 - a fixed command; the script is the job
                [bash, "job.sh"],
                cwd=job["workdir"],
                env=job["environment"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
                **self.popen_kwargs(),
            )
        started = time.monotonic()
        write_status(run_dir, state=RUNNING, reason="", pid=proc.pid, started_at=now_iso())
        deadline = started + float(job["time_limit_seconds"])
        grace = float(job.get("kill_grace_seconds", 5))
        outcome, kill_at = None, None
        while True:
            pid, wstatus, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic()
            if outcome is None:
                if self.cancel_requested():
                    outcome = CANCELLED
                elif now >= deadline:
                    outcome = TIMEOUT
                if outcome:
                    kill_group(proc.pid, signal.SIGTERM)
                    kill_at = now + grace
            elif now >= kill_at:
                kill_group(proc.pid, signal.SIGKILL)
                kill_at = now + 3600
            time.sleep(POLL_SECONDS)
        proc.returncode = os.waitstatus_to_exitcode(wstatus)
        kill_group(proc.pid, signal.SIGKILL)  # nothing of the job outlives it
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        if outcome is None:
            outcome = COMPLETED if code == 0 else FAILED
        reasons = {
            TIMEOUT: "time limit reached",
            CANCELLED: "cancelled",
            FAILED: f"exit code {code}",
        }
        write_status(
            run_dir,
            state=outcome,
            reason=reasons.get(outcome, ""),
            ended_at=now_iso(),
            exit_code=code,
            cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
            max_rss_kb=usage.ru_maxrss,
        )
        return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m aifactory.compute.backends.local_runner RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[1]).resolve()
    job = json.loads((run_dir / "job.json").read_text())
    if os.fork():
        os._exit(0)  # the launcher returns; the grandchild runs on, holding the runner lock
    try:
        return Runner(run_dir, job).run()
    except Exception as exc:
        traceback.print_exc()
        status = read_status(run_dir)
        if status.get("state") not in FINAL:
            write_status(
                run_dir, state=FAILED, reason=f"runner error: {exc}"[:200], ended_at=now_iso()
            )
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
