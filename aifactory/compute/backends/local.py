"""The ``local`` backend: jobs as detached processes on this machine.

For a single-tenant installation, a laptop and the demo; it refuses to be used in production
unless the cluster's config says ``allow_in_production``. Per cluster, under ``COMPUTE_DIR/<name>/``:

- ``jobs/<job_key>/``: the job's working folder (``job.sh`` and whatever the job writes), owned by
  the user the job runs as;
- ``runs/<job_key>/``: the runner's control files, which the job cannot touch: ``job.json`` (what
  the runner needs), ``status.json``, ``stdout.log``, ``stderr.log``, ``runner.log``, ``cancel``;
- ``slots/``: one lock file per concurrent job (``max_jobs``).

Config (``cluster.config``): ``max_jobs`` (2), ``run_as`` ("nobody": the user jobs run as when
the portal runs as root; jobs never run as root), ``seconds_per_minute`` (60; smaller values
shorten time limits, for tests and demos), ``kill_grace_seconds`` (5: SIGTERM, then SIGKILL),
``allow_in_production`` (false).

There is no scheduler accounting here, so ``provision`` does nothing: the portal's budget check
before each submission is the only limit. GPUs are reported as requested (there are none), so
GPU budgets can be exercised.
"""

import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from . import local_runner as runner
from .base import (
    BackendRefused,
    BackendUnavailable,
    JobSpec,
    JobStatus,
    Limits,
    UsageLine,
    stage_inputs,
)

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def safe_name(value, field: str) -> str:
    """A plain file name: letters, digits, dot, dash, underscore; no slash, no leading dot."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise BackendRefused(
            f"{field}: {value!r} is not a plain name (letters, digits, '.', '-', '_')"
        )
    return value


def _parse_time(value):
    return datetime.fromisoformat(value) if value else None


def _config_number(config: dict, key: str, default, kind, minimum):
    value = config.get(key, default)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise BackendRefused(f"config {key}: {value!r} must be a number of at least {minimum}")
    return number


class LocalBackend:
    def __init__(self, cluster):
        config = cluster.config or {}
        if settings.PRODUCTION and not config.get("allow_in_production"):
            raise BackendRefused(
                f"cluster {cluster.name}: the local backend runs jobs on the portal's own machine "
                "and is off in production; set allow_in_production in the cluster's config to use it"
            )
        self.name = safe_name(cluster.name, "cluster name")
        self.max_jobs = _config_number(config, "max_jobs", 2, int, 1)
        self.seconds_per_minute = _config_number(config, "seconds_per_minute", 60, float, 0.001)
        self.kill_grace_seconds = _config_number(config, "kill_grace_seconds", 5, float, 0)
        self.run_as = str(config.get("run_as") or "nobody")
        self.root = Path(settings.COMPUTE_DIR).resolve() / self.name
        self.jobs_dir = self.root / "jobs"
        self.runs_dir = self.root / "runs"
        self.slots_dir = self.root / "slots"

    # -- paths ---------------------------------------------------------------------------

    def workdir_for(self, job_key: str) -> str:
        """The working folder a job gets (the portal stores it as Job.workdir)."""
        return str(self.jobs_dir / safe_name(job_key, "job_key"))

    def _run_dir(self, external_id: str) -> Path:
        return self.runs_dir / safe_name(external_id, "external_id")

    # -- submit --------------------------------------------------------------------------

    def _run_user(self) -> tuple[int, int, str]:
        """(uid, gid, name) the job runs as: run_as when we are root, else ourselves."""
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid())
            return me.pw_uid, me.pw_gid, me.pw_name
        try:
            user = pwd.getpwnam(self.run_as)
        except KeyError:
            raise BackendRefused(
                f"config run_as: there is no user {self.run_as!r} on this machine; jobs never run "
                "as root, so create it or name another"
            ) from None
        if user.pw_uid == 0:
            raise BackendRefused(f"config run_as: {self.run_as!r} is root; jobs never run as root")
        return user.pw_uid, user.pw_gid, user.pw_name

    def _check_spec(self, spec: JobSpec) -> str:
        key = safe_name(spec.job_key, "job_key")
        if spec.workdir and Path(spec.workdir).resolve() != self.jobs_dir / key:
            raise BackendRefused(
                f"workdir: {spec.workdir!r} is not this job's folder ({self.jobs_dir / key})"
            )
        for field in ("cpus", "time_limit_minutes"):
            value = getattr(spec, field)
            if not isinstance(value, int) or value < 1:
                raise BackendRefused(f"{field}: {value!r} must be a whole number of at least 1")
        for name, value in spec.environment.items():
            if not ENV_NAME.fullmatch(str(name)) or not isinstance(value, str) or "\0" in value:
                raise BackendRefused(f"environment: {name!r} is not a valid variable")
        return key

    def _reachable(self, path: Path, uid: int, gid: int) -> bool:
        """Whether the user can walk down to the folder by its full path."""
        for folder in [*reversed(path.parents), path]:
            st = folder.stat()
            if st.st_uid == uid:
                bit = stat.S_IXUSR
            elif st.st_gid == gid:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not st.st_mode & bit:
                return False
        return True

    def _prepare_folders(self, as_root: bool) -> None:
        for folder in (self.jobs_dir, self.runs_dir, self.slots_dir):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.runs_dir, 0o700)
        os.chmod(self.slots_dir, 0o700)
        if as_root:
            # The job's user must be able to pass through (not list) the folders to its own.
            for folder in (self.root.parent, self.root, self.jobs_dir):
                mode = stat.S_IMODE(folder.stat().st_mode)
                os.chmod(folder, mode | 0o111 if folder == self.root.parent else 0o711)

    def submit(self, spec: JobSpec) -> str:
        key = self._check_spec(spec)
        as_root = os.geteuid() == 0
        uid, gid, user = self._run_user()
        run_dir, workdir = self.runs_dir / key, self.jobs_dir / key
        try:
            self._prepare_folders(as_root)
        except OSError as exc:
            raise BackendUnavailable(f"cannot prepare {self.root}: {exc}") from exc
        if (run_dir / "status.json").exists():
            return key  # already submitted (a retry): never start it twice
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.runs_dir))
        lock_fd = None
        try:
            workdir.mkdir(mode=0o700, exist_ok=True)
            (workdir / "job.sh").write_text(spec.script)
            if as_root:
                os.chown(workdir, uid, gid)
                os.chown(workdir / "job.sh", uid, gid)
            stage_inputs(workdir, spec.inputs, *((uid, gid) if as_root else (None, None)))
            environment = {
                "PATH": BASE_PATH,
                "HOME": str(workdir),
                "USER": user,
                "LOGNAME": user,
                "SHELL": "/bin/bash",
                "LANG": "C.UTF-8",
                "AIFACTORY_JOB_KEY": key,
                "AIFACTORY_CPUS": str(spec.cpus),
                "AIFACTORY_GPUS": str(spec.gpus),
                "OMP_NUM_THREADS": str(spec.cpus),
                **spec.environment,
            }
            job = {
                "job_key": key,
                "cluster": self.name,
                "username": spec.username,
                "account": spec.account,
                "partition": spec.partition,
                "cpus": spec.cpus,
                "gpus": spec.gpus,
                "mem_mb": spec.mem_mb,
                "time_limit_minutes": spec.time_limit_minutes,
                "time_limit_seconds": spec.time_limit_minutes * self.seconds_per_minute,
                "kill_grace_seconds": self.kill_grace_seconds,
                "max_jobs": self.max_jobs,
                "slots_dir": str(self.slots_dir),
                "workdir": str(workdir),
                "run_uid": uid if as_root else None,
                "run_gid": gid if as_root else None,
                "run_user": user,
                "environment": environment,
            }
            (tmp / "job.json").write_text(json.dumps(job, indent=1))
            if as_root and not self._reachable(workdir, uid, gid):
                (tmp / "stderr.log").write_text(
                    f"aifactory: note: {user} cannot reach {workdir} by its full path (a folder "
                    "above it is closed); use relative paths, or set AIFACTORY_COMPUTE_DIR to a "
                    "folder others may pass through.\n"
                )
            runner.write_status(
                tmp,
                state=runner.PENDING,
                reason="",
                node=socket.gethostname(),
                submitted_at=runner.now_iso(),
            )
            # Hold the runner lock from now on and hand it to the runner, so the job is never
            # seen without a live holder between here and the runner's start.
            lock_fd = os.open(tmp / "runner.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                os.rename(tmp, run_dir)
            except OSError:
                return key  # a concurrent submission of the same job won
            self._start_runner(run_dir, lock_fd)
        except OSError as exc:
            raise BackendUnavailable(f"cannot start job {key}: {exc}") from exc
        finally:
            if lock_fd is not None:
                os.close(lock_fd)
            shutil.rmtree(tmp, ignore_errors=True)
        return key

    def find(
        self, job_key: str, username: str, *, account: str = "", since: datetime | None = None
    ) -> str | None:
        """The job's key when its run folder exists (the same test that makes ``submit`` of a
        started job return at once): job keys name the folders, so there is at most one. A run
        recorded for another user or account is not this one."""
        run_dir = self.runs_dir / safe_name(job_key, "job_key")
        if not (run_dir / "status.json").exists():
            return None
        try:
            job = json.loads((run_dir / "job.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"cannot read {run_dir / 'job.json'}: {exc}") from exc
        if job.get("username") != username or (account and job.get("account") != account):
            return None
        return job_key

    def _start_runner(self, run_dir: Path, lock_fd: int) -> None:
        package_root = Path(__file__).resolve().parents[3]
        env = {
            "PATH": os.environ.get("PATH", BASE_PATH),
            "PYTHONPATH": str(package_root),
            "LANG": "C.UTF-8",
        }
        with open(run_dir / "runner.log", "ab") as log:
            launcher = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                [sys.executable, "-m", "aifactory.compute.backends.local_runner", str(run_dir)],
                cwd=str(run_dir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
                pass_fds=(lock_fd,),
            )
        try:
            code = launcher.wait(timeout=30)  # it forks and returns at once
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            tail = self._tail(run_dir / "runner.log", 500)
            # We still hold the runner lock, so nobody else writes the status now.
            runner.write_status(
                run_dir,
                state=runner.FAILED,
                reason=f"the runner did not start: {tail}"[:200],
                ended_at=runner.now_iso(),
            )
            raise BackendRefused(f"the local runner did not start (exit {code}): {tail}")

    # -- status --------------------------------------------------------------------------

    def _runner_alive(self, run_dir: Path) -> bool:
        try:
            fd = os.open(run_dir / "runner.lock", os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def _mark_dead(self, run_dir: Path, state: str, reason: str) -> dict:
        """Close the books of a job whose runner is gone (crash, reboot, kill -9)."""
        fd = os.open(run_dir / "runner.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return runner.read_status(run_dir)  # it came alive after all
            status = runner.read_status(run_dir)
            if status.get("state") in runner.FINAL:
                return status
            self._kill_orphan(run_dir, status)
            return runner.write_status(
                run_dir, state=state, reason=reason, ended_at=runner.now_iso()
            )
        finally:
            os.close(fd)

    def _kill_orphan(self, run_dir: Path, status: dict) -> None:
        """Kill the job's process group if it outlived its runner (and is really this job)."""
        pid = status.get("pid")
        if not pid:
            return
        try:
            environ = Path(f"/proc/{int(pid)}/environ").read_bytes().split(b"\0")
        except OSError:
            return
        if f"AIFACTORY_JOB_KEY={run_dir.name}".encode() in environ:
            runner.kill_group(int(pid), signal.SIGKILL)

    def _status(self, run_dir: Path) -> dict:
        status = runner.read_status(run_dir)
        if status and status.get("state") not in runner.FINAL and not self._runner_alive(run_dir):
            status = self._mark_dead(run_dir, runner.NODE_FAIL, "the job's runner stopped")
        return status

    def statuses(self, external_ids: list[str]) -> dict[str, JobStatus]:
        found = {}
        for external_id in external_ids:
            if not isinstance(external_id, str) or not SAFE_NAME.fullmatch(external_id):
                continue
            status = self._status(self.runs_dir / external_id)
            if not status:
                continue
            found[external_id] = JobStatus(
                external_id=external_id,
                state=status["state"],
                reason=status.get("reason", ""),
                node=status.get("node", ""),
                started_at=_parse_time(status.get("started_at")),
                ended_at=_parse_time(status.get("ended_at")),
                exit_code=status.get("exit_code"),
            )
        return found

    def cancel(self, external_id: str, username: str) -> None:
        run_dir = self._run_dir(external_id)
        status = self._status(run_dir)
        if not status:
            raise BackendRefused(f"external_id: no job {external_id} on cluster {self.name}")
        if status.get("state") in runner.FINAL:
            return
        (run_dir / "cancel").touch()
        if not self._runner_alive(run_dir):
            self._mark_dead(run_dir, runner.CANCELLED, "cancelled")

    # -- logs ----------------------------------------------------------------------------

    @staticmethod
    def _tail(path: Path, tail_bytes: int) -> str:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return ""
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or tail_bytes <= 0:
                return ""
            fh.seek(max(0, st.st_size - tail_bytes))
            return fh.read(tail_bytes).decode("utf-8", errors="replace")

    def logs(self, workdir: str, external_id: str, *, tail_bytes: int) -> dict[str, str]:
        run_dir = self._run_dir(external_id)
        if workdir:
            folder = Path(workdir).resolve()
            if folder.parent != self.jobs_dir:
                raise BackendRefused(f"workdir: {workdir!r} is outside this cluster's jobs folder")
            if folder.name != external_id:
                raise BackendRefused(f"workdir: {workdir!r} is not the folder of {external_id}")
        return {
            "stdout": self._tail(run_dir / "stdout.log", tail_bytes),
            "stderr": self._tail(run_dir / "stderr.log", tail_bytes),
        }

    # -- accounting ----------------------------------------------------------------------

    def accounting(self, since: datetime, until: datetime | None = None) -> list[UsageLine]:
        """Jobs that ran at some time from ``since`` to ``until`` (None: now)."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        lines = []
        if not self.runs_dir.is_dir():
            return lines
        now = datetime.now(UTC)
        for run_dir in sorted(self.runs_dir.iterdir()):
            if run_dir.name.startswith(".") or not run_dir.is_dir():
                continue
            try:
                mtime = (run_dir / "status.json").stat().st_mtime
            except FileNotFoundError:
                continue
            status = runner.read_status(run_dir)
            state = status.get("state")
            if state == runner.RUNNING:
                status = self._status(run_dir)  # a dead runner becomes node_fail here
                state = status.get("state")
            elif state not in runner.FINAL or mtime < since.timestamp():
                continue
            ended = _parse_time(status.get("ended_at"))
            if state in runner.FINAL and (ended is None or ended < since):
                continue
            started = _parse_time(status.get("started_at"))
            if until is not None and (started is None or started >= until):
                continue  # started after the window: a later window has it
            try:
                job = json.loads((run_dir / "job.json").read_text())
            except (OSError, ValueError):
                continue
            elapsed = ((ended or now) - started).total_seconds() if started else 0
            rss = status.get("max_rss_kb")
            lines.append(
                UsageLine(
                    external_id=run_dir.name,
                    step="",
                    account=job.get("account", ""),
                    username=job.get("username", ""),
                    state=state,
                    start=started,
                    end=ended,
                    elapsed_seconds=max(0, round(elapsed)),
                    gpus=int(job.get("gpus", 0)),
                    cpus=int(job.get("cpus", 1)),
                    cpu_seconds_used=status.get("cpu_seconds"),
                    mem_mb_requested=job.get("mem_mb"),
                    mem_mb_max=round(rss / 1024, 3) if rss is not None else None,
                )
            )
        return lines

    # -- accounts ------------------------------------------------------------------------

    def provision(self, account: str, usernames: list[str], limits: Limits) -> None:
        """Nothing to do: no scheduler accounts here; the portal checks budgets before each
        submission."""
        return None
