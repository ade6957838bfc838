"""Background tasks of compute: handing a job to its backend, and the status sync of the
clusters (the periodic scheduler queues ``clusters_sync_due`` every few seconds; each cluster is
synced when its ``sync_seconds`` have passed)."""

from django_tasks import task

from . import services
from .models import Cluster, Job


@task()
def job_dispatch(job_id: str) -> str:
    """Hand one waiting job to its backend (a retry outside the sync cycle); returns its state."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    return services.job_dispatch_now(job).state


@task()
def cluster_sync(cluster_id: str) -> dict:
    """One sync cycle of one cluster: retries, one status query, usage and alerts."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return {"error": "missing"}
    result = services.cluster_sync(cluster)
    return {k: v for k, v in result.items()}


@task()
def clusters_sync_due() -> list[str]:
    """Sync every active cluster whose interval has passed; the names of those synced."""
    return services.clusters_sync_due()


@task()
def clusters_provision_due() -> dict:
    """Write the accounts whose members or limits changed on every active cluster."""
    return services.clusters_provision_due()
