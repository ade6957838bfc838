"""Compute: clusters and their partitions, the people's cluster accounts, jobs with their state
history, usage records from the backends' accounting, and budget alerts.

A cluster is run by a backend (``local`` child processes, or ``slurm``); the backend is the only
code that talks to the scheduler. Costs are in billing units: GPU hours × the cluster's rate per
GPU hour plus CPU core hours × its rate per core hour; an allocation's GPU and CPU core hours are
compared one by one with what jobs use.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from aifactory.core.models import BaseModel


class Backend(models.TextChoices):
    LOCAL = "local", _("local processes (this machine)")
    SLURM = "slurm", _("Slurm")


class Cluster(BaseModel):
    """A machine jobs run on, as operators configure it."""

    name = models.SlugField(_("name"), max_length=50, unique=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    backend = models.CharField(_("backend"), max_length=20, choices=Backend.choices)
    # Backend settings: local {"max_jobs": 2, "allow_in_production": false};
    # slurm {"mode": "rest"|"cli", "rest_url": ..., "jwt_key_path" | "jwt_token_env": ...,
    #        "api_version": "v0.0.38", "cluster_name": "aifactory", "admin_user": "root"}
    config = models.JSONField(_("backend settings"), default=dict, blank=True)
    rate_gpu_hour = models.DecimalField(
        _("billing units per GPU hour"), max_digits=10, decimal_places=4, default=1
    )
    rate_cpu_hour = models.DecimalField(
        _("billing units per CPU core hour"), max_digits=10, decimal_places=4, default=0
    )
    gpu_watts = models.PositiveIntegerField(_("power per GPU (W)"), default=400)
    node_watts = models.PositiveIntegerField(_("power per node, without GPUs (W)"), default=600)
    pue = models.DecimalField(_("PUE"), max_digits=4, decimal_places=2, default=1.2)
    grid_g_co2_per_kwh = models.PositiveIntegerField(
        _("grid carbon intensity (g CO2e per kWh)"), default=100
    )
    sync_seconds = models.PositiveIntegerField(_("status sync interval (s)"), default=15)
    is_active = models.BooleanField(_("active"), default=True)
    # Where the last usage ingestion stopped (the backend's accounting is read from here on).
    usage_watermark = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("cluster")

    def __str__(self) -> str:
        return self.name


class Partition(BaseModel):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="partitions")
    name = models.CharField(_("name"), max_length=50)
    nodes = models.PositiveIntegerField(_("nodes"), default=1)
    gpus_per_node = models.PositiveSmallIntegerField(_("GPUs per node"), default=0)
    gpu_type = models.CharField(_("GPU type"), max_length=50, blank=True)
    cpus_per_node = models.PositiveIntegerField(_("CPU cores per node"), default=1)
    mem_gb_per_node = models.PositiveIntegerField(_("memory per node (GB)"), default=1)
    max_time_minutes = models.PositiveIntegerField(_("longest time limit (minutes)"), default=2880)
    is_default = models.BooleanField(_("default partition"), default=False)

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="partition_name_once")
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}:{self.name}"


class ClusterAccount(BaseModel):
    """The person's username on a cluster: jobs run as it, never as root or a shared account."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="accounts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cluster_accounts"
    )
    username = models.CharField(_("cluster username"), max_length=64)
    source = models.CharField(max_length=20, default="operator")  # operator | oidc

    class Meta:
        ordering = ["cluster", "username"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "user"], name="cluster_account_once"),
            models.UniqueConstraint(fields=["cluster", "username"], name="cluster_username_once"),
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.cluster_id}"


class JobState(models.TextChoices):
    PENDING_SUBMISSION = "pending_submission", pgettext_lazy("job", "waiting to be submitted")
    PENDING = "pending", pgettext_lazy("job", "pending")
    RUNNING = "running", pgettext_lazy("job", "running")
    COMPLETED = "completed", pgettext_lazy("job", "completed")
    FAILED = "failed", pgettext_lazy("job", "failed")
    CANCELLED = "cancelled", pgettext_lazy("job", "cancelled")
    TIMEOUT = "timeout", pgettext_lazy("job", "timed out")
    NODE_FAIL = "node_fail", pgettext_lazy("job", "node failure")


FINAL_STATES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT, JobState.NODE_FAIL}
)


class Job(BaseModel):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    project = models.ForeignKey(
        "access.Project", on_delete=models.PROTECT, related_name="jobs", verbose_name=_("project")
    )
    allocation = models.ForeignKey(
        "access.Allocation", on_delete=models.PROTECT, related_name="jobs"
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="jobs")
    partition = models.CharField(_("partition"), max_length=50, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs"
    )
    username = models.CharField(_("cluster username"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=100)
    template = models.CharField(_("template"), max_length=50, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # The datasets the job reads, resolved at submission (the grant is checked then):
    # [{"slug", "dataset_id", "version", "files": [{"name", "key", "sha256", "size"}]}]; the
    # storage keys stay inside the hub (the API and CLI show job_datasets_public).
    datasets = models.JSONField(_("datasets"), default=list, blank=True)
    script = models.TextField(_("script"))
    gpus = models.PositiveSmallIntegerField(_("GPUs"), default=0)
    cpus = models.PositiveSmallIntegerField(_("CPU cores"), default=1)
    mem_mb = models.PositiveIntegerField(_("memory (MB)"), default=1024)
    time_limit_minutes = models.PositiveIntegerField(_("time limit (minutes)"))
    # The most the job can cost: {"gpu_hours": .., "cpu_core_hours": .., "billing": ..}
    max_cost = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=100, blank=True)
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=JobState.choices,
        default=JobState.PENDING_SUBMISSION,
        db_index=True,
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    external_id = models.CharField(_("scheduler job id"), max_length=64, blank=True)
    node = models.CharField(_("node"), max_length=200, blank=True)
    workdir = models.CharField(max_length=500, blank=True)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    # Once finished, where the backend reports it: {"cpu": 0.83, "memory": 0.41, "gpu": ...}
    efficiency = models.JSONField(default=dict, blank=True)
    resubmitted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("job")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_idempotency_once",
            ),
            models.UniqueConstraint(
                fields=["cluster", "external_id"],
                condition=~models.Q(external_id=""),
                name="job_external_once",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class JobEvent(BaseModel):
    """The job's state history, as the portal saw it."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    reason = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.job_id} {self.from_state}->{self.to_state}"


class UsageRecord(BaseModel):
    """One job step's use as the backend's accounting reports it; (cluster, job, step) is
    unique, so reading the accounting twice never counts twice."""

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="usage")
    external_id = models.CharField(max_length=64)
    step = models.CharField(max_length=64, default="")
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    allocation = models.ForeignKey(
        "access.Allocation", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    account = models.CharField(max_length=64, blank=True)
    username = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    elapsed_seconds = models.PositiveBigIntegerField(default=0)
    gpus = models.PositiveSmallIntegerField(default=0)
    cpus = models.PositiveIntegerField(default=0)
    gpu_hours = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    cpu_core_hours = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    billing = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    energy_kwh = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    co2_kg = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    state = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-end"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "external_id", "step"], name="usage_step_once"
            )
        ]
        indexes = [models.Index(fields=["allocation", "end"])]

    def __str__(self) -> str:
        return f"{self.cluster_id}:{self.external_id}.{self.step}"


class BudgetAlert(BaseModel):
    """An alert sent once per allocation period (tranche) and threshold (75, 90, 100%)."""

    allocation = models.ForeignKey(
        "access.Allocation", on_delete=models.CASCADE, related_name="budget_alerts"
    )
    tranche = models.ForeignKey(
        "access.Tranche", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    resource = models.CharField(max_length=20)
    threshold = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["allocation", "tranche", "resource", "threshold"], name="budget_alert_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.allocation_id} {self.resource} {self.threshold}%"


class AccountProvision(BaseModel):
    """What the portal last set on the scheduler for one allocation's account (its users and
    limits), so the periodic reconcile writes only changes and operators see failures."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="provisions")
    allocation = models.ForeignKey(
        "access.Allocation", on_delete=models.CASCADE, related_name="provisions"
    )
    account = models.CharField(max_length=64)
    usernames = models.JSONField(default=list)
    gpu_minutes = models.BigIntegerField(null=True, blank=True)
    cpu_minutes = models.BigIntegerField(null=True, blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)  # last success
    attempted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["cluster", "account"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "allocation"], name="provision_once")
        ]

    def __str__(self) -> str:
        return f"{self.account}@{self.cluster_id}"
