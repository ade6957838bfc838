"""Keeping the scheduler's accounts in step with the portal: every allocation on a cluster has
its account there with the project's members and limits from its budget.

``allocation_provision`` (in clusters.py) writes one account when an operator asks. Here the
system does it by itself: the periodic reconcile writes each account whose members or limits
changed (a new member, a new month's tranche, an allocation that ended), and a job's first
submission provisions its account if that was not done yet, so an operator never has to
remember. What was last written is kept in ``AccountProvision``, so an unchanged account costs
no scheduler call.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from aifactory.access.models import Allocation

from ..backends.base import BackendError, Limits
from ..models import AccountProvision, Cluster, ClusterAccount, Job

logger = logging.getLogger(__name__)

# How long after a job's end its usage is surely read (many sync cycles).
SETTLE = timedelta(minutes=30)

__all__ = [
    "provisioned_here",
    "provision_wanted",
    "provision_record",
    "provision_write",
    "cluster_provision_due",
    "clusters_provision_due",
    "job_provision",
]


def provisioned_here(cluster: Cluster, allocation) -> bool:
    """Whether the portal keeps this account: not when the cluster's accounts are managed by
    other means (``config.provision: false``) or the allocation was imported from another
    system (``external_id``), which sets its limits itself."""
    return (
        bool(allocation.slurm_account)
        and not allocation.external_id
        and cluster.config.get("provision", True) is not False
    )


def provision_wanted(allocation, cluster: Cluster, today=None) -> tuple[list[str], Limits]:
    """The usernames and limits the allocation's account should have on the cluster today."""
    from .clusters import allocation_limits

    members = allocation.project.members.values_list("user_id", flat=True)
    usernames = sorted(
        ClusterAccount.objects.filter(cluster=cluster, user_id__in=members).values_list(
            "username", flat=True
        )
    )
    return usernames, allocation_limits(allocation, today)


def provision_record(cluster, allocation, usernames, limits: Limits, error: str = "") -> None:
    """Remember what was written (or why it failed); the last success stays on a failure."""
    now = timezone.now()
    values = {"account": allocation.slurm_account, "attempted_at": now, "last_error": error[:2000]}
    if not error:
        values.update(
            usernames=list(usernames),
            gpu_minutes=limits.gpu_minutes,
            cpu_minutes=limits.cpu_minutes,
            provisioned_at=now,
        )
    with transaction.atomic():
        AccountProvision.objects.update_or_create(
            cluster=cluster, allocation=allocation, defaults=values
        )


def _same(record: AccountProvision | None, allocation, usernames, limits: Limits) -> bool:
    return (
        record is not None
        and record.provisioned_at is not None
        and not record.last_error
        and record.account == allocation.slurm_account
        and record.usernames == list(usernames)
        and record.gpu_minutes == limits.gpu_minutes
        and record.cpu_minutes == limits.cpu_minutes
    )


def provision_write(cluster: Cluster, allocation, usernames, limits: Limits, actor=None) -> None:
    """Write the account, record and audit it; raises the backend's error after recording it.
    Callers check permissions (actor None is the system)."""
    from aifactory.core.services import audit_record

    from ..backends import backend_for

    try:
        backend_for(cluster).provision(allocation.slurm_account, list(usernames), limits)
    except BackendError as exc:
        provision_record(
            cluster, allocation, usernames, limits, error=str(exc) or type(exc).__name__
        )
        raise
    provision_record(cluster, allocation, usernames, limits)
    audit_record(
        actor=actor,
        action="allocation.limit_change",
        obj=allocation.project,
        changes={
            "allocation": allocation.pk,
            "cluster": cluster.name,
            "account": allocation.slurm_account,
            "usernames": list(usernames),
            "gpu_minutes": limits.gpu_minutes,
            "cpu_minutes": limits.cpu_minutes,
            "at": timezone.now(),
        },
    )


def _closed(record, allocation, active: set, last_end) -> bool:
    """An ended allocation whose account was written after its end and after its last job
    ended (with time for that job's usage to be read): nothing can change it any more, so the
    reconcile skips it without working out its limits again."""
    if record.last_error or record.provisioned_at is None or allocation.pk in active:
        return False
    written = timezone.localtime(record.provisioned_at)
    if written.date() <= allocation.end:
        return False
    return last_end is None or record.provisioned_at > last_end + SETTLE


def cluster_provision_due(cluster: Cluster, today=None) -> dict[str, int]:
    """Write every account on the cluster whose members or limits differ from what was last
    written: live allocations, and ended ones once more so their limits close at what they used.
    Failures are recorded per account and do not stop the others."""
    today = today or timezone.localdate()
    records = {r.allocation_id: r for r in AccountProvision.objects.filter(cluster=cluster)}
    allocations = (
        Allocation.objects.filter(cluster=cluster.name)
        .exclude(slurm_account="")
        .select_related("project")
        .prefetch_related("tranches")
    )
    from .jobs import ACTIVE_STATES

    jobs = Job.objects.filter(cluster=cluster).order_by().values("allocation_id")
    active = set(jobs.filter(state__in=ACTIVE_STATES).values_list("allocation_id", flat=True))
    last_end = dict(jobs.annotate(last=Max("ended_at")).values_list("allocation_id", "last"))
    counts = {"written": 0, "unchanged": 0, "failed": 0}
    for allocation in allocations:
        if not provisioned_here(cluster, allocation):
            continue
        live = allocation.start <= today <= allocation.end and allocation.status == "active"
        record = records.get(allocation.pk)
        if not live and record is None:
            continue  # never on the scheduler, nothing to close
        if not live and _closed(record, allocation, active, last_end.get(allocation.pk)):
            counts["unchanged"] += 1
            continue
        usernames, limits = provision_wanted(allocation, cluster, today)
        if _same(record, allocation, usernames, limits):
            counts["unchanged"] += 1
            continue
        try:
            provision_write(cluster, allocation, usernames, limits)
        except BackendError as exc:
            logger.warning(
                "account %s on %s not provisioned: %s", allocation.slurm_account, cluster.name, exc
            )
            counts["failed"] += 1
        else:
            counts["written"] += 1
    return counts


def clusters_provision_due(today=None) -> dict[str, dict[str, int]]:
    """The reconcile of every active cluster (the periodic task)."""
    return {
        cluster.name: cluster_provision_due(cluster, today)
        for cluster in Cluster.objects.filter(is_active=True)
    }


def job_provision(job: Job, today=None) -> None:
    """Before a job's first submission: make sure its account exists on the scheduler with the
    job's user in it (a new allocation or a new member would otherwise be refused by Slurm).
    Raises the backend's errors, so the dispatch retries or fails the job as for a submission."""
    allocation = job.allocation
    if allocation is None or not provisioned_here(job.cluster, allocation):
        return  # nothing to write; a scheduler that needs an account refuses the job itself
    record = AccountProvision.objects.filter(cluster=job.cluster, allocation=allocation).first()
    if (
        record is not None
        and record.provisioned_at is not None
        and record.account == allocation.slurm_account
        and job.username in record.usernames
    ):
        return
    usernames, limits = provision_wanted(allocation, job.cluster, today)
    if job.username not in usernames:
        usernames = sorted({*usernames, job.username})
    provision_write(job.cluster, allocation, usernames, limits)
