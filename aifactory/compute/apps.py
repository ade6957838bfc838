from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "aifactory.compute"
    label = "compute"
    verbose_name = "Compute"

    def ready(self):
        from django.conf import settings

        from aifactory.core import periodic

        from .tasks import clusters_sync_due

        # The workers queue the status sync every COMPUTE_SYNC_SECONDS; each cluster is then
        # synced when its own sync_seconds have passed.
        periodic.register("compute.sync", settings.COMPUTE_SYNC_SECONDS, clusters_sync_due)
