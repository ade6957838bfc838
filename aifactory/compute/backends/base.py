"""The one small interface every compute backend implements.

Services call these methods and never talk to a scheduler themselves; a backend knows nothing of
projects, budgets or permissions. Backends raise ``BackendUnavailable`` when the scheduler cannot
be reached (the job stays ``pending_submission`` and is retried with backoff) and
``BackendRefused`` when the scheduler answered no (the job fails with that reason).
"""

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol


class BackendError(Exception):
    pass


class BackendUnavailable(BackendError):
    """The scheduler could not be reached or did not answer in time; try again later."""


class BackendRefused(BackendError):
    """The scheduler answered and refused (bad account, partition, resources...)."""


@dataclass(frozen=True)
class JobSpec:
    """What to run: everything a backend needs, nothing it should not decide."""

    job_key: str  # the portal's job reference; names the working folder and the scheduler job
    username: str  # the cluster account it runs as (never root)
    account: str  # the Slurm account (the allocation's)
    partition: str
    script: str
    gpus: int
    cpus: int
    mem_mb: int
    time_limit_minutes: int
    workdir: str  # the working folder on the cluster (created by the backend)
    environment: dict[str, str] = field(default_factory=dict)
    # Files copied into the working folder before the job starts: (path inside it, path on the
    # portal's host) — the datasets the job reads.
    inputs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class JobStatus:
    external_id: str
    state: str  # a JobState value
    reason: str = ""
    node: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class UsageLine:
    """One job (step "") or job step as the accounting reports it."""

    external_id: str
    step: str
    account: str
    username: str
    state: str
    start: datetime | None
    end: datetime | None
    elapsed_seconds: int
    gpus: int
    cpus: int
    # Where the backend reports them: requested vs used, for efficiency.
    cpu_seconds_used: float | None = None
    mem_mb_requested: int | None = None
    mem_mb_max: float | None = None
    # GPU use, only where the scheduler measures it (Slurm: gres/gpuutil and gres/gpumem, which
    # need NVIDIA's NVML on the nodes); None means "not reported", never "unused".
    gpu_util_percent: float | None = None
    gpu_mem_mb_max: float | None = None


@dataclass(frozen=True)
class Limits:
    """An account's budget in the scheduler: whole minutes (Slurm's GrpTRESMins)."""

    gpu_minutes: int | None
    cpu_minutes: int | None


class ComputeBackend(Protocol):
    def submit(self, spec: JobSpec) -> str:
        """Start the job; return the scheduler's job id."""

    def find(
        self, job_key: str, username: str, *, account: str = "", since: datetime | None = None
    ) -> str | None:
        """The scheduler's id of the job this user submitted under ``job_key`` (in ``account``
        and not before ``since``, where given), or None when there is none. A retried dispatch
        asks this first, so a submission the scheduler accepted just before the portal crashed
        is adopted, never submitted twice. Raises ``BackendUnavailable`` when it cannot tell."""

    def cancel(self, external_id: str, username: str) -> None: ...

    def statuses(self, external_ids: list[str]) -> dict[str, JobStatus]:
        """The state of many jobs in one call; ids the scheduler no longer knows are left out."""

    def logs(self, workdir: str, external_id: str, *, tail_bytes: int) -> dict[str, str]:
        """The end of the job's stdout and stderr."""

    def accounting(self, since: datetime, until: datetime | None = None) -> Iterable[UsageLine]:
        """Every job and step that ran at some time from ``since`` to ``until`` (None: now),
        ended or still running. May be a generator that reads the scheduler while it is
        consumed, so a large answer is never held at once; then errors arise while iterating."""

    def provision(self, account: str, usernames: list[str], limits: Limits) -> None:
        """Create or update the account, its users' associations and its limits."""


def stage_inputs(workdir: Path, inputs, uid: int | None = None, gid: int | None = None) -> None:
    """Copy the job's input files into its folder, owned by the job's user and readable by no
    one else: the data store itself is never opened to the cluster's users, and a grant checked
    at submission cannot be bypassed by reading the store directly."""
    for relative, source in inputs:
        rel = PurePosixPath(relative)
        if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts):
            raise BackendRefused(f"inputs: {relative!r} is not a path inside the job's folder")
        target = Path(workdir)
        for part in rel.parts[:-1]:
            target = target / part
            target.mkdir(mode=0o700, exist_ok=True)
            if uid is not None:
                os.chown(target, uid, gid, follow_symlinks=False)
        target = target / rel.parts[-1]
        partial = target.with_name(f".{target.name}.part")
        try:
            shutil.copyfile(source, partial)
        except OSError as exc:
            raise BackendUnavailable(f"inputs: cannot copy {source}: {exc}") from exc
        os.chmod(partial, 0o600)
        if uid is not None:
            os.chown(partial, uid, gid, follow_symlinks=False)
        os.replace(partial, target)
