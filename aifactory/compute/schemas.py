"""API shapes of clusters, jobs, templates and usage. Inputs reject unknown keys, so a typo is an
error; amounts of hours and billing units are decimals sent as numbers."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field

from aifactory.core.permissions import allowed

from .services.job_datasets import job_datasets_public


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


# --- clusters ----------------------------------------------------------------------------------


class PartitionOut(Schema):
    name: str
    nodes: int
    gpus_per_node: int
    gpu_type: str
    cpus_per_node: int
    mem_gb_per_node: int
    max_time_minutes: int
    is_default: bool


class ClusterOut(Schema):
    name: str
    title: str
    backend: str
    is_active: bool
    partitions: list[PartitionOut]
    rates: dict[str, float]
    energy: dict[str, float]
    sync_seconds: int
    last_sync_at: datetime | None
    # The backend settings, for operators only (paths of key files are no one else's business).
    config: dict[str, Any] | None = None

    @staticmethod
    def resolve_partitions(obj):
        return list(obj.partitions.all())

    @staticmethod
    def resolve_rates(obj) -> dict:
        return energy_rates(obj)["rates"]

    @staticmethod
    def resolve_energy(obj) -> dict:
        return energy_rates(obj)["energy"]

    @staticmethod
    def resolve_config(obj, context) -> dict | None:
        request = (context or {}).get("request")
        if request is not None and allowed(request.user, "cluster.manage", obj):
            return obj.config
        return None


def energy_rates(cluster) -> dict:
    """The billing rates and the energy assumptions of a cluster, as the usage pages show them."""
    return {
        "rates": {
            "gpu_hour": float(cluster.rate_gpu_hour),
            "cpu_hour": float(cluster.rate_cpu_hour),
        },
        "energy": {
            "gpu_watts": cluster.gpu_watts,
            "node_watts": cluster.node_watts,
            "pue": float(cluster.pue),
            "grid_g_co2_per_kwh": cluster.grid_g_co2_per_kwh,
        },
    }


class ClusterIn(Strict):
    name: str
    backend: str
    title: str = ""
    config: dict[str, Any] | None = None
    rates: dict[str, Any] | None = None
    power: dict[str, Any] | None = None
    pue: Decimal | str | None = None
    grid: int | None = None
    sync_seconds: int | None = None


class PartitionIn(Strict):
    name: str
    nodes: int = 1
    gpus_per_node: int = 0
    gpu_type: str = ""
    cpus_per_node: int = 1
    mem_gb_per_node: int = 1
    max_time_minutes: int = 2880
    is_default: bool = False


class AccountIn(Strict):
    email: str
    username: str


class AccountOut(Schema):
    cluster: str
    email: str
    username: str
    source: str

    @staticmethod
    def resolve_cluster(obj) -> str:
        return obj.cluster.name

    @staticmethod
    def resolve_email(obj) -> str:
        return obj.user.email


# --- jobs --------------------------------------------------------------------------------------


class JobIn(Strict):
    """Either ``script`` or ``template`` with ``params``; ``mem`` as "16G"/"512M" or MB, or
    ``mem_mb``; ``time`` as "2:00:00" or ``time_limit_minutes``."""

    project: str
    cluster: str
    partition: str = ""
    gpus: int | None = None
    cpus: int | None = None
    mem: str | int | None = None
    mem_mb: int | None = None
    time: str | None = None
    time_limit_minutes: int | None = None
    script: str | None = None
    template: str | None = None
    params: dict[str, Any] | None = None
    name: str = ""
    idempotency_key: str = ""
    # Datasets the job reads: "slug" (newest version) or "slug@N".
    datasets: list[str] = []


class ResubmitIn(Strict):
    idempotency_key: str = ""


class EventOut(Schema):
    from_state: str
    to_state: str
    reason: str
    at: datetime

    @staticmethod
    def resolve_at(obj) -> datetime:
        return obj.created_at


class JobDatasetFileOut(Schema):
    name: str
    sha256: str
    size: int | None


class JobDatasetOut(Schema):
    slug: str
    version: int
    files: list[JobDatasetFileOut]


class JobOut(Schema):
    id: UUID
    reference: str
    name: str
    project: str
    cluster: str
    partition: str
    user: str
    username: str
    template: str
    gpus: int
    cpus: int
    mem_mb: int
    time_limit_minutes: int
    state: str
    reason: str
    external_id: str
    node: str
    submitted_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    max_cost: dict[str, Any]
    datasets: list[JobDatasetOut]
    created_at: datetime

    @staticmethod
    def resolve_project(obj) -> str:
        return obj.project.code

    @staticmethod
    def resolve_cluster(obj) -> str:
        return obj.cluster.name

    @staticmethod
    def resolve_user(obj) -> str:
        return obj.user.email

    @staticmethod
    def resolve_datasets(obj) -> list[dict]:
        return job_datasets_public(obj.datasets)


class JobDetailOut(JobOut):
    params: dict[str, Any]
    script: str
    efficiency: dict[str, Any] = Field(
        description='Once finished, where the cluster reports it: "cpu" and "memory" (share of '
        'what was asked, 0.83 = 83 %), "gpu" (GPU utilisation, share) and "gpu_memory_mb" '
        "(largest GPU memory use). A key that is missing was not reported by the cluster "
        "(GPU use needs Slurm's gres/gpuutil and gres/gpumem accounting).",
    )
    energy: dict[str, float]
    events: list[EventOut]
    resubmitted_from: str | None
    last_error: str
    submit_attempts: int
    next_attempt_at: datetime | None

    @staticmethod
    def resolve_energy(obj) -> dict:
        return {key: float(value) for key, value in obj.energy.items()}

    @staticmethod
    def resolve_events(obj):
        return list(obj.events.all())

    @staticmethod
    def resolve_resubmitted_from(obj) -> str | None:
        return obj.resubmitted_from.reference if obj.resubmitted_from_id else None


class LogsOut(Schema):
    reference: str
    reached_scheduler: bool
    tail_bytes: int
    stdout: str
    stderr: str


class ParamOut(Schema):
    name: str
    kind: str
    help: str
    default: Any = None
    required: bool
    choices: list[Any]
    minimum: float | None = None
    maximum: float | None = None


class TemplateOut(Schema):
    name: str
    title: str
    description: str
    params: list[ParamOut]


# --- usage -------------------------------------------------------------------------------------


class AmountsOut(Schema):
    gpu_hours: float
    cpu_core_hours: float
    billing: float
    energy_kwh: float
    co2_kg: float


class UserUsageOut(AmountsOut):
    user_id: UUID | None
    email: str
    username: str


class PeriodUsageOut(AmountsOut):
    period: date


class BudgetLineOut(Schema):
    used: float
    available: float
    reserved: float
    remaining: float
    percent: float


class AllocationUsageOut(Schema):
    id: UUID
    cluster: str
    partition: str
    slurm_account: str
    status: str
    start: date
    end: date
    resources: dict[str, Any]
    live: bool
    used: AmountsOut
    budget: dict[str, BudgetLineOut]


class ClusterAssumptionsOut(Schema):
    cluster: str
    rates: dict[str, float]
    energy: dict[str, float]


class UsageOut(Schema):
    project: str
    totals: AmountsOut
    allocations: list[AllocationUsageOut]
    by_user: list[UserUsageOut]
    by_month: list[PeriodUsageOut]
    by_day: list[PeriodUsageOut]
    assumptions: list[ClusterAssumptionsOut]
    formula: str
