"""The Slurm backend: jobs on a real cluster, as the user's own cluster account.

Submission goes through slurmrestd with a JWT minted for the user from the cluster's key
(``mode: rest``), or through ``sbatch`` run as the user (``mode: cli``, needs root on a host with
the Slurm client). Statuses come from one call for all jobs (``GET /slurm/v0.0.38/jobs`` or
``squeue --json``); jobs slurmctld has already forgotten (older than ``MinJobAge``) are looked up
in one ``sacct`` call. Accounting is ``sacct --json`` and provisioning is ``sacctmgr``, both CLI
on this host in either mode (they need the Slurm client, munge and the cluster's slurm.conf).

Errors: anything that says "try again later" (no answer, a timeout, slurmctld or slurmdbd
unreachable, a token the cluster does not accept, a setting missing here) is
``BackendUnavailable``; a Slurm refusal of the job itself (error codes 2000-2999: bad account,
partition, resources...) or of bad input is ``BackendRefused`` with Slurm's message.

Facts about Slurm 22.05 this relies on: scripts/slurm/README.md.
"""

import base64
import codecs
import gc
import hashlib
import hmac
import json
import os
import pwd
import re
import select
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

from .base import (
    BackendRefused,
    BackendUnavailable,
    JobSpec,
    JobStatus,
    Limits,
    UsageLine,
    stage_inputs,
)

DEFAULTS = {
    "mode": "rest",
    "rest_url": "http://127.0.0.1:6820",
    "api_version": "v0.0.38",
    "jwt_key_path": "/var/spool/slurm/statesave/jwt_hs256.key",
    "jwt_token_env": "",
    "jwt_lifetime_seconds": 300,
    "cluster_name": "",
    "admin_user": "",
    "workdir_root": "",
    "create_workdir": True,
    "timeout_seconds": 20,
    "sbatch": "sbatch",
    "squeue": "squeue",
    "scancel": "scancel",
    "sacct": "sacct",
    "sacctmgr": "sacctmgr",
}
# Tokens are never minted for these: a root token runs jobs as root (nothing in Slurm stops it).
FORBIDDEN_USERS = frozenset({"root", "slurm"})
USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
ACCOUNT_RE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$")
JOB_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
JOB_ID_RE = re.compile(r"^[0-9]{1,12}$")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

# Slurm job states -> JobState values (compute.models; plain strings so nothing imports Django).
STATES = {
    "PENDING": "pending",
    "REQUEUED": "pending",
    "REQUEUE_HOLD": "pending",
    "REQUEUE_FED": "pending",
    "RESV_DEL_HOLD": "pending",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SIGNALING": "running",
    "STAGE_OUT": "running",
    "RESIZING": "running",
    "SUSPENDED": "running",
    "STOPPED": "running",
    "COMPLETED": "completed",
    "FAILED": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
    "OUT_OF_MEMORY": "failed",
    "SPECIAL_EXIT": "failed",
    "PREEMPTED": "failed",
    "CANCELLED": "cancelled",
    "REVOKED": "cancelled",
    "TIMEOUT": "timeout",
    "NODE_FAIL": "node_fail",
}
# What slurmctld gives as the reason of an ended job (sacct does not keep it).
FINAL_REASONS = {"failed": "NonZeroExitCode", "timeout": "TimeLimit"}
FINAL = frozenset({"completed", "failed", "cancelled", "timeout", "node_fail"})
# Slurm error codes that mean "the job is refused"; everything else (1000s communication, 5000s
# socket, -1 unspecified, 7000s database) means "try again".
REFUSAL_CODES = range(2000, 3000)
# Cancelling a job that already ended (2021) or that slurmctld forgot (2017) is done already.
CANCEL_DONE_CODES = frozenset({2017, 2021})
# CLI messages that mean Slurm could not be reached.
UNREACHABLE = re.compile(
    r"Unable to contact slurm controller|Connection refused|Problem talking to the database|"
    r"Socket timed out|Zero Bytes were transmitted|Unable to establish|Connection timed out|"
    r"Communication connection failure|slurm_persist_conn_open|Sending PersistInit",
    re.IGNORECASE,
)


def slurm_state(raw: str) -> str:
    """The JobState value of a Slurm state ("CANCELLED by 1001" and flags count as their first
    word); an unknown state counts as pending, never as final."""
    word = (raw or "").split()[0] if (raw or "").split() else ""
    return STATES.get(word.upper(), "pending")


def wait_status_exit_code(status: int | None) -> int | None:
    """REST's ``exit_code`` is a raw wait status (768 for ``exit 3``, 15 for SIGTERM); a signal
    counts as 128 + its number, as a shell reports it (and as the local backend does)."""
    if status is None:
        return None
    status = int(status)
    if status & 0x7F:
        return 128 + (status & 0x7F)
    return (status >> 8) & 0xFF


def _when(epoch) -> datetime | None:
    try:
        value = int(epoch)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(value, UTC) if value > 0 else None


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def mint_token(key: bytes, username: str, *, lifetime: int = 300, now: float | None = None) -> str:
    """An HS256 JWT the way ``scontrol token`` makes it (claims exp, iat, sun)."""
    issued = int(now if now is not None else time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"exp": issued + lifetime, "iat": issued, "sun": username}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, header + b"." + body, hashlib.sha256).digest())
    return (header + b"." + body + b"." + signature).decode()


def check_username(username: str) -> str:
    if username in FORBIDDEN_USERS:
        raise BackendRefused(f"username: jobs never run as {username}")
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise BackendRefused(f"username: {username!r} is not a valid cluster username")
    return username


def check_account(account: str) -> str:
    if not isinstance(account, str) or not ACCOUNT_RE.fullmatch(account):
        raise BackendRefused(
            f"account: {account!r} is not a valid Slurm account "
            "(lower-case letters, digits, '_', '.', '-')"
        )
    return account


def _loads(text: str):
    """json.loads without the cyclic garbage collector: on large sacct answers it spends about
    two thirds of the time walking the new objects, which cannot form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return json.loads(text)
    finally:
        if enabled:
            gc.enable()


_HTTP: httpx.Client | None = None
_HTTP_LOCK = threading.Lock()


def _http() -> httpx.Client:
    """One client per process: a new one per request costs ~20 ms of CPU (TLS context, pool)."""
    global _HTTP
    with _HTTP_LOCK:
        if _HTTP is None:
            _HTTP = httpx.Client()
        return _HTTP


class SlurmBackend:
    """One Slurm cluster, from ``cluster.config`` (keys and defaults: DEFAULTS)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.config = {**DEFAULTS, **(cluster.config or {})}
        self.timeout = float(self.config["timeout_seconds"])
        self._key: bytes | None = None

    # -- settings and helpers ------------------------------------------------------------

    def _setting(self, name: str) -> str:
        value = self.config.get(name)
        if not value:
            raise BackendUnavailable(f"cluster {self.cluster.name}: config.{name} is not set")
        return value

    def workdir_for(self, job_key: str) -> str:
        """The working folder a job gets (the portal stores it as Job.workdir):
        ``<workdir_root>/<job_key>``, on the cluster's file system."""
        if not isinstance(job_key, str) or not JOB_KEY_RE.fullmatch(job_key):
            raise BackendRefused(f"job_key: {job_key!r} is not a valid job key")
        return str(Path(self._setting("workdir_root")) / job_key)

    def _inside_root(self, path: str, field: str = "workdir") -> str:
        """The path, if it is a folder below workdir_root (no '..', no symlink out of it)."""
        root = os.path.realpath(self._setting("workdir_root"))
        if not path or not os.path.isabs(path):
            raise BackendRefused(f"{field}: {path!r} is not an absolute path")
        real = os.path.realpath(path)
        if real == root or os.path.commonpath([real, root]) != root:
            raise BackendRefused(f"{field}: {path!r} is outside the cluster's workdir_root")
        return real

    def _key_bytes(self) -> bytes | None:
        if self._key is None and self.config.get("jwt_key_path"):
            try:
                self._key = Path(self.config["jwt_key_path"]).read_bytes()
            except OSError as exc:
                if not self.config.get("jwt_token_env"):
                    raise BackendUnavailable(
                        f"cluster {self.cluster.name}: cannot read the JWT key "
                        f"{self.config['jwt_key_path']}: {exc.strerror}"
                    ) from exc
        return self._key

    def _token(self, username: str) -> str:
        check_username(username)
        key = self._key_bytes()
        if key:
            return mint_token(key, username, lifetime=int(self.config["jwt_lifetime_seconds"]))
        # Without the key, a token from the environment serves the admin user's reads only.
        # Only Slurm's own variables: never one of the portal's secrets (SECRET_KEY, DATABASE_URL).
        env = self.config.get("jwt_token_env") or ""
        token = os.environ.get(env, "") if re.fullmatch(r"SLURM_[A-Z0-9_]+", env) else ""
        if token and username == self.config.get("admin_user"):
            return token
        raise BackendUnavailable(
            f"cluster {self.cluster.name}: no JWT key to act as {username} (config.jwt_key_path)"
        )

    def _rest(self, method: str, path: str, *, user: str, body=None, ok_codes=()) -> dict:
        api = self.config["api_version"]
        url = f"{self._setting('rest_url').rstrip('/')}/slurm/{api}/{path}"
        headers = {"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": self._token(user)}
        try:
            response = _http().request(
                method, url, headers=headers, json=body, timeout=self.timeout
            )
        except httpx.HTTPError as exc:  # refused, timed out, connection closed without answer
            raise BackendUnavailable(f"slurmrestd {url}: {exc.__class__.__name__}: {exc}") from exc
        try:
            data = _loads(response.text)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        errors = [e for e in (data.get("errors") or []) if isinstance(e, dict)]
        if response.status_code == 200 and not errors:
            return data
        first = errors[0] if errors else {}
        code = first.get("error_code", first.get("error_number", -1))
        code = code if isinstance(code, int) else -1
        message = first.get("description") or first.get("error") or response.reason_phrase
        if first.get("description") and first.get("error"):
            message = f"{first['description']} ({first['error']})"
        if code in ok_codes:
            return data
        if response.status_code in (401, 403):
            raise BackendUnavailable(f"slurmrestd did not accept the token for {user}: {message}")
        if code in REFUSAL_CODES:
            raise BackendRefused(f"Slurm error {code}: {message}")
        raise BackendUnavailable(f"slurmrestd HTTP {response.status_code}: error {code}: {message}")

    def _run(self, args: list[str], *, input_text=None, env=None, user=None, cwd="/"):
        """Run a Slurm command; not found or timed out is BackendUnavailable."""
        extra = {}
        if user is not None:
            extra = {
                "user": user.pw_uid,
                "group": user.pw_gid,
                "extra_groups": os.getgrouplist(user.pw_name, user.pw_gid),
            }
        try:
            return subprocess.run(
                args,
                input=input_text,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=env if env is not None else self._env(),
                cwd=cwd,
                check=False,
                **extra,
            )
        except FileNotFoundError as exc:
            raise BackendUnavailable(f"{args[0]} is not installed on this host") from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(f"{args[0]} did not answer in {self.timeout:g} s") from exc

    def _env(self, **more) -> dict[str, str]:
        """A small, predictable environment: times in UTC, Slurm's own settings passed on."""
        env = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "TZ": "UTC", "LC_ALL": "C"}
        env.update({k: v for k, v in os.environ.items() if k in ("SLURM_CONF", "HOME")})
        env.update(more)
        return env

    @staticmethod
    def _failure(args: list[str], result) -> Exception:
        text = (result.stderr or result.stdout or "").strip()
        text = re.sub(r"\s+", " ", text)[:500] or f"exit status {result.returncode}"
        name = os.path.basename(args[0])
        if UNREACHABLE.search(text):
            return BackendUnavailable(f"{name}: {text}")
        return BackendRefused(f"{name}: {text}")

    def _user(self, username: str) -> pwd.struct_passwd:
        check_username(username)
        try:
            entry = pwd.getpwnam(username)
        except KeyError:
            raise BackendRefused(f"username: there is no user {username} on this host") from None
        if entry.pw_uid == 0:
            raise BackendRefused(f"username: {username} is a superuser")
        return entry

    def _act_as(self, username: str) -> pwd.struct_passwd | None:
        """The user to run CLI commands as; None when this process is that user already."""
        entry = self._user(username)
        if os.geteuid() == entry.pw_uid:
            return None
        if os.geteuid() != 0:
            raise BackendUnavailable(
                f"cluster {self.cluster.name}: CLI mode acts as {username} and needs root"
            )
        return entry

    # -- submit --------------------------------------------------------------------------

    def _prepare_workdir(self, spec: JobSpec) -> str:
        """Make the job's folder, owned by the user (Slurm needs it to exist before the job
        starts). Done here when workdir_root is on this host (same host or shared file system)
        and config.create_workdir is on; then the portal runs as root or as the user."""
        workdir = self._inside_root(spec.workdir or self.workdir_for(spec.job_key))
        if not self.config["create_workdir"]:
            if spec.inputs:
                raise BackendRefused(
                    f"cluster {self.cluster.name}: its working folders are not made by the portal "
                    "(create_workdir is off), so jobs cannot be given datasets here"
                )
            return workdir
        entry = self._user(spec.username)
        root = Path(os.path.realpath(self._setting("workdir_root")))
        if not root.is_dir():
            raise BackendUnavailable(f"workdir_root {root} does not exist on this host")
        if os.geteuid() not in (0, entry.pw_uid):
            raise BackendUnavailable(
                f"cluster {self.cluster.name}: cannot give a working folder to {spec.username}: "
                "the portal runs neither as root nor as that user (or set create_workdir false)"
            )
        folder = Path(workdir)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o755)
        except FileExistsError:
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (entry.pw_uid, os.geteuid()):
                raise BackendRefused(f"workdir: {workdir} exists and is not this job's") from None
        os.chown(folder, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        os.chmod(folder, 0o755)  # noqa: S103 - the portal reads the logs in it
        stage_inputs(folder, spec.inputs, entry.pw_uid, entry.pw_gid)
        return workdir

    @staticmethod
    def _check_spec(spec: JobSpec) -> None:
        if not JOB_KEY_RE.fullmatch(spec.job_key or ""):
            raise BackendRefused(f"job_key: {spec.job_key!r} is not a valid job key")
        check_username(spec.username)
        check_account(spec.account)
        if spec.partition and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", spec.partition):
            raise BackendRefused(f"partition: {spec.partition!r} is not a valid partition name")
        for field in ("cpus", "mem_mb", "time_limit_minutes"):
            value = getattr(spec, field)
            if not isinstance(value, int) or value < 1:
                raise BackendRefused(f"{field}: must be a whole number of at least 1")
        if not isinstance(spec.gpus, int) or spec.gpus < 0:
            raise BackendRefused("gpus: must be a whole number of 0 or more")
        for name, value in spec.environment.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or not isinstance(value, str):
                raise BackendRefused(f"environment: {name!r} is not a valid variable")

    @staticmethod
    def _script(spec: JobSpec) -> str:
        # Slurm wants a batch script to start with "#!".
        return spec.script if spec.script.startswith("#!") else "#!/bin/bash\n" + spec.script

    def submit(self, spec: JobSpec) -> str:
        self._check_spec(spec)
        if self.config["mode"] == "cli":
            user = self._act_as(spec.username)
            workdir = self._prepare_workdir(spec)
            return self._submit_cli(spec, workdir, user)
        self._token(spec.username)  # no folder for a job that cannot be sent
        workdir = self._prepare_workdir(spec)
        return self._submit_rest(spec, workdir)

    def _submit_rest(self, spec: JobSpec, workdir: str) -> str:
        job = {
            "name": spec.job_key,
            "account": spec.account,
            "time_limit": spec.time_limit_minutes,
            "cpus_per_task": spec.cpus,
            "tasks": 1,
            "memory_per_node": spec.mem_mb,
            "current_working_directory": workdir,
            "standard_output": f"{workdir}/slurm-%j.out",
            "standard_error": f"{workdir}/slurm-%j.err",
            # Required, and an object in v0.0.38. Never "argv": it crashes slurmrestd 22.05.
            "environment": {"PATH": DEFAULT_PATH, **spec.environment},
        }
        if spec.partition:
            job["partition"] = spec.partition
        if spec.gpus:
            job["gres"] = f"gpu:{spec.gpus}"
        data = self._rest(
            "POST",
            "job/submit",
            user=spec.username,
            body={"script": self._script(spec), "job": job},
        )
        if not isinstance(data.get("job_id"), int):
            raise BackendUnavailable(f"slurmrestd answered without a job id: {data!r:.200}")
        return str(data["job_id"])

    def _submit_cli(self, spec: JobSpec, workdir: str, user) -> str:
        args = [
            self.config["sbatch"],
            "--parsable",
            f"--job-name={spec.job_key}",
            f"--account={spec.account}",
            f"--time={spec.time_limit_minutes}",
            f"--cpus-per-task={spec.cpus}",
            "--ntasks=1",
            f"--mem={spec.mem_mb}",
            f"--chdir={workdir}",
            f"--output={workdir}/slurm-%j.out",
            f"--error={workdir}/slurm-%j.err",
            "--export=ALL",  # the job gets exactly the environment below
        ]
        if spec.partition:
            args.append(f"--partition={spec.partition}")
        if spec.gpus:
            args.append(f"--gres=gpu:{spec.gpus}")
        env = {"PATH": DEFAULT_PATH, **spec.environment}
        for name in ("SLURM_CONF",):
            if name in os.environ:
                env[name] = os.environ[name]
        # sbatch runs as the user (like `sbatch --uid`, but Slurm's own checks apply as for them).
        result = self._run(args, input_text=self._script(spec), env=env, user=user, cwd=workdir)
        if result.returncode != 0:
            raise self._failure(args, result)
        job_id = result.stdout.strip().split(";")[0]
        if not JOB_ID_RE.fullmatch(job_id):
            raise BackendUnavailable(f"sbatch answered without a job id: {result.stdout!r:.200}")
        return job_id

    # -- find --------------------------------------------------------------------------

    def find(
        self, job_key: str, username: str, *, account: str = "", since: datetime | None = None
    ) -> str | None:
        """The id of the job the user submitted under the name ``job_key`` (in ``account``,
        submitted at ``since`` or later, where given): first in slurmctld's job list (read as
        the user, who always sees their own jobs), then, for a job slurmctld has already
        forgotten (MinJobAge), in plain ``sacct`` (``sacct --json`` ignores ``-u`` in 22.05).
        The lowest id if there are several. BackendUnavailable when either cannot be asked: the
        caller must not submit then."""
        if not JOB_KEY_RE.fullmatch(job_key or ""):
            raise BackendRefused(f"job_key: {job_key!r} is not a valid job key")
        check_username(username)
        if account:
            check_account(account)
        after = int(since.timestamp()) if since is not None else 0

        def mine(name, user, acct, submitted) -> bool:
            try:
                submitted = int(submitted or 0)
            except (TypeError, ValueError):
                submitted = 0
            return (
                name == job_key
                and user == username
                and (not account or acct == account)
                and submitted >= after
            )

        found = [
            int(job["job_id"])
            for job in self._job_list(username)
            if str(job.get("job_id", "")).isdigit()
            and mine(*(job.get(k) for k in ("name", "user_name", "account", "submit_time")))
        ]
        if found:
            return str(min(found))
        start = datetime.fromtimestamp(after, UTC) if after else datetime(2000, 1, 1, tzinfo=UTC)
        if start >= datetime.now(UTC):
            return None  # nothing was submitted in the future (sacct refuses to look there)
        args = [
            self.config["sacct"], "-X", "-P", "-n", "-o", "jobidraw,jobname,user,account,submit",
            f"--name={job_key}", "-u", username, "-S", start.strftime("%Y-%m-%dT%H:%M:%S"),
            "-E", "now",
        ]  # fmt: skip
        if account:
            args += ["-A", account]
        if self.config.get("cluster_name"):
            args += ["-M", self.config["cluster_name"]]
        result = self._run(args, env=self._env(SLURM_TIME_FORMAT="%s"))
        if result.returncode != 0:
            text = re.sub(r"\s+", " ", (result.stderr or result.stdout or "").strip())[:300]
            raise BackendUnavailable(f"sacct: {text or f'exit status {result.returncode}'}")
        for line in result.stdout.splitlines():
            parts = line.split("|")
            if len(parts) == 5 and JOB_ID_RE.fullmatch(parts[0]) and mine(*parts[1:]):
                found.append(int(parts[0]))
        return str(min(found)) if found else None

    # -- cancel --------------------------------------------------------------------------

    def cancel(self, external_id: str, username: str) -> None:
        """Cancel as the job's user (Slurm refuses another user's job); a job that already
        ended or that Slurm forgot counts as cancelled."""
        if not JOB_ID_RE.fullmatch(str(external_id)):
            raise BackendRefused(f"external_id: {external_id!r} is not a Slurm job id")
        if self.config["mode"] == "cli":
            user = self._act_as(username)
            args = [self.config["scancel"], str(external_id)]
            result = self._run(args, user=user)
            text = f"{result.stderr} {result.stdout}"
            if result.returncode != 0 or "error" in text.lower():
                if re.search(r"already completing or completed|Invalid job id", text, re.I):
                    return
                raise self._failure(args, result)
            return
        self._rest("DELETE", f"job/{external_id}", user=username, ok_codes=CANCEL_DONE_CODES)

    # -- statuses ------------------------------------------------------------------------

    def statuses(self, external_ids: list[str]) -> dict[str, JobStatus]:
        """One call for all jobs slurmctld knows; the ones it forgot (finished more than
        MinJobAge ago) in one more call to sacct. Ids nobody knows are left out."""
        wanted = {str(i) for i in external_ids if JOB_ID_RE.fullmatch(str(i))}
        if not wanted:
            return {}
        jobs = self._job_list()
        found: dict[str, JobStatus] = {}
        for job in jobs:
            job_id = str(job.get("job_id"))
            if job_id in wanted:
                found[job_id] = self._status_of(job)
        missing = sorted(wanted - set(found), key=int)
        if missing:
            found.update(self._statuses_from_sacct(missing))
        return found

    def _job_list(self, user: str = "") -> list[dict]:
        """The jobs slurmctld knows (finished ones within MinJobAge), in one call: all of them,
        or over REST those ``user`` may see (all, unless slurm.conf sets PrivateData=jobs)."""
        if self.config["mode"] == "cli":
            args = [self.config["squeue"], "--json"]
            result = self._run(args)
            if result.returncode != 0:
                raise BackendUnavailable(f"squeue: {result.stderr.strip()[:300]}")
            try:
                return _loads(result.stdout).get("jobs") or []
            except ValueError as exc:
                raise BackendUnavailable(f"squeue --json: not JSON: {exc}") from exc
        user = user or self._setting("admin_user")
        return self._rest("GET", "jobs", user=user).get("jobs") or []

    @staticmethod
    def _status_of(job: dict) -> JobStatus:
        state = slurm_state(job.get("job_state", ""))
        reason = job.get("state_reason") or ""
        nodes = job.get("nodes") or ""
        # A pending job's start_time is an estimate and a running job's end_time its limit.
        started = _when(job.get("start_time")) if state != "pending" and nodes else None
        return JobStatus(
            external_id=str(job.get("job_id")),
            state=state,
            reason="" if reason == "None" else reason,
            node=nodes if state != "pending" else "",
            started_at=started,
            ended_at=_when(job.get("end_time")) if state in FINAL else None,
            exit_code=wait_status_exit_code(job.get("exit_code")) if state in FINAL else None,
        )

    def _statuses_from_sacct(self, ids: list[str]) -> dict[str, JobStatus]:
        """Plain sacct, not --json: its JSON loses non-zero exit codes (Slurm 22.05)."""
        args = [
            self.config["sacct"],
            "-X",
            "-P",
            "-n",
            "-o",
            "jobidraw,state,reason,exitcode,start,end,nodelist",
            "-j",
            ",".join(ids),
        ]
        if self.config.get("cluster_name"):
            args += ["-M", self.config["cluster_name"]]
        try:
            result = self._run(args, env=self._env(SLURM_TIME_FORMAT="%s"))
        except BackendUnavailable:
            return {}  # the main call answered; these are looked up again next time
        found = {}
        if result.returncode != 0:
            return found
        for line in result.stdout.splitlines():
            parts = line.split("|")
            if len(parts) != 7 or parts[0] not in ids:
                continue
            job_id, raw_state, reason, exit_code, start, end, nodes = parts
            state = slurm_state(raw_state)
            code, _, signal = exit_code.partition(":")
            exit_value = None
            if state in FINAL and code.isdigit():
                exit_value = 128 + int(signal) if signal.isdigit() and int(signal) else int(code)
            # sacct's reason is the last pending reason, even for a job that then ran: keep it
            # for pending jobs; for ended ones say what slurmctld would have said.
            if state != "pending":
                reason = FINAL_REASONS.get(state, "")
                if state == "failed" and exit_value == 0:
                    reason = ""
            found[job_id] = JobStatus(
                external_id=job_id,
                state=state,
                reason="" if reason == "None" else reason,
                node="" if nodes in ("None assigned", "") or state == "pending" else nodes,
                started_at=_when(start) if nodes not in ("None assigned", "") else None,
                ended_at=_when(end) if state in FINAL else None,
                exit_code=exit_value,
            )
        return found

    # -- logs ----------------------------------------------------------------------------

    def logs(self, workdir: str, external_id: str, *, tail_bytes: int) -> dict[str, str]:
        """The ends of slurm-<id>.out/.err in the job's folder (on this host or a shared file
        system). Only regular files owned by the folder's owner are read: a job's user cannot
        make the portal show another file through a symlink or a hard link."""
        folder = self._inside_root(workdir)
        if not JOB_ID_RE.fullmatch(str(external_id)):
            raise BackendRefused(f"external_id: {external_id!r} is not a Slurm job id")
        try:
            owner = os.stat(folder).st_uid
        except OSError:
            return {"stdout": "", "stderr": ""}
        return {
            "stdout": self._tail(Path(folder) / f"slurm-{external_id}.out", owner, tail_bytes),
            "stderr": self._tail(Path(folder) / f"slurm-{external_id}.err", owner, tail_bytes),
        }

    @staticmethod
    def _tail(path: Path, owner: int, tail_bytes: int) -> str:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return ""
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != owner or tail_bytes <= 0:
                return ""
            fh.seek(max(0, info.st_size - tail_bytes))
            return fh.read(tail_bytes).decode("utf-8", errors="replace")

    # -- accounting ----------------------------------------------------------------------

    def accounting(self, since: datetime, until: datetime | None = None) -> Iterator[UsageLine]:
        """Every job that ran at some time from ``since`` until ``until`` (None: now), finished
        or running, one line per job with step "": the job's allocation × elapsed is what Slurm
        charges to the account's GrpTRESMins, so job lines alone add up to the budget; steps
        would count twice. Pending jobs (nothing used) are left out.

        A generator: sacct's output is read from the pipe a megabyte at a time and each job is
        parsed and handed on as it arrives, so memory stays flat however many jobs the window
        holds. Errors (sacct missing, failing, silent, or printing something that is not JSON)
        raise ``BackendUnavailable`` while iterating; lines handed on before are true."""
        args = [self.config["sacct"], "--json", "-a", "-S", _sacct_time(since)]
        args += ["-E", _sacct_time(until) if until is not None else "now"]
        if self.config.get("cluster_name"):
            args += ["-M", self.config["cluster_name"]]
        output = self._output(args)  # TZ=UTC in _env: -S and -E are read in UTC
        jobs = sacct_jobs(output)
        try:
            while True:
                try:
                    job = next(jobs)
                except StopIteration:
                    return
                except ValueError as exc:
                    raise BackendUnavailable(f"sacct --json: not JSON: {exc}") from exc
                line = usage_line(job)
                if line is not None:
                    yield line
        finally:
            jobs.close()
            output.close()  # stops sacct if the reader stopped early

    def _output(self, args: list[str]) -> Iterator[str]:
        """A command's standard output as text, piece by piece while it runs. No output for
        ``timeout_seconds`` while waiting for it, or an exit status other than 0 at the end, is
        BackendUnavailable (with the command's error output). The command is killed when the
        reader stops early."""
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(  # noqa: S603 - a configured Slurm command, no shell
                    args, stdout=subprocess.PIPE, stderr=errors, env=self._env(), cwd="/"
                )
            except FileNotFoundError as exc:
                raise BackendUnavailable(f"{args[0]} is not installed on this host") from exc
            name = os.path.basename(args[0])
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            try:
                fd = proc.stdout.fileno()
                while True:
                    # Only the wait for output counts: the time the reader spends storing what
                    # it got meanwhile does not.
                    if not select.select([fd], [], [], self.timeout)[0]:
                        raise BackendUnavailable(f"{name} did not answer in {self.timeout:g} s")
                    data = os.read(fd, READ_BYTES)
                    if not data:
                        break
                    yield decoder.decode(data)
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
                try:
                    code = proc.wait(timeout=self.timeout)
                except subprocess.TimeoutExpired as exc:
                    raise BackendUnavailable(f"{name} did not exit in {self.timeout:g} s") from exc
                if code != 0:
                    errors.seek(0)
                    text = errors.read().decode("utf-8", errors="replace").strip()
                    text = re.sub(r"\s+", " ", text)[:300] or f"exit status {code}"
                    raise BackendUnavailable(f"{name}: {text}")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()

    # -- provisioning --------------------------------------------------------------------

    def _sacctmgr(self, *words: str, quiet_ok: bool = False) -> str:
        args = [self.config["sacctmgr"], *words]
        result = self._run(args)
        text = f"{result.stdout}\n{result.stderr}"
        if result.returncode != 0:
            if quiet_ok and re.search(r"Nothing (new added|modified)", text):
                return text
            raise self._failure(args, result)
        return result.stdout

    def provision(self, account: str, usernames: list[str], limits: Limits) -> None:
        """Create the account (on config.cluster_name) if missing, add the users' associations
        that are missing, and set GrpTRESMins=cpu=N,gres/gpu=M (None clears a limit: -1).
        Only adds: a user no longer listed keeps their association until an operator runs
        ``sacctmgr delete user name=U account=A``."""
        check_account(account)
        users = [check_username(u) for u in usernames]
        for name, value in (
            ("cpu_minutes", limits.cpu_minutes),
            ("gpu_minutes", limits.gpu_minutes),
        ):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise BackendRefused(f"{name}: must be a whole number of 0 or more, or None")
        cluster = self.config.get("cluster_name") or ""
        where = [f"account={account}"] + ([f"cluster={cluster}"] if cluster else [])
        rows = self._sacctmgr("-n", "-P", "list", "assoc", *where, "format=account,user")
        present = {line.split("|")[1] for line in rows.splitlines() if line.count("|") == 1}
        if not rows.strip():
            self._sacctmgr("-i", "add", "account", account, *where[1:], quiet_ok=True)
        missing = [u for u in dict.fromkeys(users) if u not in present]
        if missing:
            self._sacctmgr("-i", "add", "user", ",".join(missing), *where, quiet_ok=True)

        def minutes(value):
            return -1 if value is None else value

        tres = f"cpu={minutes(limits.cpu_minutes)},gres/gpu={minutes(limits.gpu_minutes)}"
        self._sacctmgr(
            "-i", "modify", "account", "where", f"name={account}", *where[1:],
            "set", f"GrpTRESMins={tres}", quiet_ok=True,
        )  # fmt: skip


def _tres(entries, kind: str, name=None) -> int:
    return _tres_count(entries, kind, name) or 0


def _tres_count(entries, kind: str, name=None) -> int | None:
    """The count of one TRES in a list of sacct's TRES entries; None when it is not there."""
    for entry in entries or []:
        if entry.get("type") == kind and entry.get("name") == name:
            count = entry.get("count")
            return None if count is None else int(count)
    return None


def usage_line(job: dict) -> UsageLine | None:
    """A job of ``sacct --json`` as a UsageLine (None for a job that never started).

    GPU use comes from the steps' gres/gpuutil (percent; the highest step average) and
    gres/gpumem (bytes; the highest step maximum) when the cluster accounts them: Slurm records
    them with the gpu/nvml plugin (AutoDetect=nvml) and AccountingStorageTRES including gres/gpu
    or them; otherwise they are absent and stay None ("not reported")."""
    state = slurm_state((job.get("state") or {}).get("current", ""))
    times = job.get("time") or {}
    if state == "pending" or not times.get("start"):
        return None
    allocated = (job.get("tres") or {}).get("allocated") or []
    steps = job.get("steps") or []
    cpu_seconds = 0.0
    mem_max = gpu_util = gpu_mem = None
    for step in steps:
        total = (step.get("time") or {}).get("total") or {}
        cpu_seconds += (total.get("seconds") or 0) + (total.get("microseconds") or 0) / 1e6
        # sacct names the step's measured usage "requested" (TRESUsageIn*): "max" holds the
        # maxima (MaxRSS is "mem", in bytes), "average" the averages over the step's tasks.
        measured = (step.get("tres") or {}).get("requested") or {}
        used = measured.get("max") or []
        rss = _tres(used, "mem")
        if rss:
            mem_max = max(mem_max or 0, rss / 1024 / 1024)
        peak = _tres_count(used, "gres", "gpumem")
        if peak is not None:
            gpu_mem = max(gpu_mem or 0, peak / 1024 / 1024)
        util = _tres_count(measured.get("average") or [], "gres", "gpuutil")
        if util is not None:
            gpu_util = max(gpu_util or 0, util)
    mem_requested = _tres(allocated, "mem") or None
    return UsageLine(
        external_id=str(job.get("job_id")),
        step="",
        account=job.get("account") or "",
        username=job.get("user") or "",
        state=state,
        start=_when(times.get("start")),
        end=_when(times.get("end")) if state in FINAL else None,
        elapsed_seconds=int(times.get("elapsed") or 0),
        gpus=_tres(allocated, "gres", "gpu"),
        cpus=_tres(allocated, "cpu"),
        cpu_seconds_used=round(cpu_seconds, 3) if steps else None,
        mem_mb_requested=mem_requested,
        mem_mb_max=round(mem_max, 3) if mem_max is not None else None,
        gpu_util_percent=float(gpu_util) if gpu_util is not None else None,
        gpu_mem_mb_max=round(gpu_mem, 3) if gpu_mem is not None else None,
    )


# -- sacct --json, read as it arrives ------------------------------------------------------

READ_BYTES = 1 << 20
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _sacct_time(when: datetime) -> str:
    """A time as sacct's -S/-E read it with TZ=UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class _Cursor:
    """A position in a JSON text that arrives in pieces; what was read is let go."""

    def __init__(self, pieces: Iterator[str]):
        self.pieces = pieces
        self.text = ""
        self.pos = 0
        self.ended = False

    def more(self, at_least: int = 1) -> bool:
        """Append at least ``at_least`` more characters (fewer at the end); False at the end."""
        if self.ended:
            return False
        self.text = self.text[self.pos :]
        self.pos = 0
        had = len(self.text)
        while len(self.text) < had + max(1, at_least):
            piece = next(self.pieces, None)
            if piece is None:
                self.ended = True
                break
            self.text += piece
        return len(self.text) > had

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def expect(self, allowed: str) -> str:
        found = self.peek()
        if not found or found not in allowed:
            raise ValueError(f"expected one of {allowed!r}, found {found or 'the end'!r}")
        self.pos += 1
        return found

    def value(self):
        """The next whole JSON value, parsed by the standard library's decoder."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                # Cut off by the end of what has arrived, or invalid: read as much again.
                if not self.more(len(self.text) - self.pos):
                    raise
                continue
            if end == len(self.text) and isinstance(value, int | float) and not self.ended:
                self.more()  # a number at the edge may go on in the next piece
                continue
            self.pos = end
            return value


def sacct_jobs(pieces: Iterator[str]) -> Iterator[dict]:
    """The jobs of a ``sacct --json`` document (``{"meta": ..., "errors": ..., "jobs": [...]}``
    in any key order) one at a time, from the text in pieces; the other keys are read and
    dropped. Only one job is held at a time. Not JSON, or not that shape, is ValueError."""
    cursor = _Cursor(pieces)
    cursor.expect("{")
    if cursor.peek() == "}":
        cursor.pos += 1
    else:
        while True:
            key = cursor.value()
            if not isinstance(key, str):
                raise ValueError(f"expected a key, found {key!r}")
            cursor.expect(":")
            if key == "jobs" and cursor.peek() == "[":
                cursor.pos += 1
                if cursor.peek() == "]":
                    cursor.pos += 1
                else:
                    while True:
                        job = cursor.value()
                        if isinstance(job, dict):
                            yield job
                        if cursor.expect(",]") == "]":
                            break
            else:
                cursor.value()
            if cursor.expect(",}") == "}":
                break
    if cursor.peek():
        raise ValueError("extra data after the document")
