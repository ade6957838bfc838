from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "aifactory.compute"
    label = "compute"
    verbose_name = "Compute"

    def ready(self):
        from django.conf import settings

        from aifactory.core import periodic
        from aifactory.core.demo import register

        from .demo import load_demo_compute
        from .tasks import clusters_provision_due, clusters_sync_due

        register("compute", load_demo_compute, order=50)

        # The workers queue the status sync every COMPUTE_SYNC_SECONDS; each cluster is then
        # synced when its own sync_seconds have passed.
        periodic.register("compute.sync", settings.COMPUTE_SYNC_SECONDS, clusters_sync_due)
        # The scheduler's accounts follow the allocations (members, monthly limits, ends).
        periodic.register(
            "compute.provision", settings.COMPUTE_PROVISION_SECONDS, clusters_provision_due
        )
