"""The one small interface every compute backend implements.

Services call these methods and never talk to a scheduler themselves; a backend knows nothing of
projects, budgets or permissions. Backends raise ``BackendUnavailable`` when the scheduler cannot
be reached (the job stays ``pending_submission`` and is retried with backoff) and
``BackendRefused`` when the scheduler answered no (the job fails with that reason).
"""

from dataclasses import dataclass, field
from datetime import datetime
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


@dataclass(frozen=True)
class Limits:
    """An account's budget in the scheduler: whole minutes (Slurm's GrpTRESMins)."""

    gpu_minutes: int | None
    cpu_minutes: int | None


class ComputeBackend(Protocol):
    def submit(self, spec: JobSpec) -> str:
        """Start the job; return the scheduler's job id."""

    def cancel(self, external_id: str, username: str) -> None: ...

    def statuses(self, external_ids: list[str]) -> dict[str, JobStatus]:
        """The state of many jobs in one call; ids the scheduler no longer knows are left out."""

    def logs(self, workdir: str, external_id: str, *, tail_bytes: int) -> dict[str, str]:
        """The end of the job's stdout and stderr."""

    def accounting(self, since: datetime) -> list[UsageLine]:
        """Every job and step that ended or changed since the time (ended jobs and running ones)."""

    def provision(self, account: str, usernames: list[str], limits: Limits) -> None:
        """Create or update the account, its users' associations and its limits."""
