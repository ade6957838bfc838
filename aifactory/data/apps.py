from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "aifactory.data"
    label = "data"
    verbose_name = "Data"

    def ready(self):
        from django.conf import settings

        from aifactory.core import periodic
        from aifactory.core.demo import register

        from .demo import load_demo_data
        from .tasks import data_sweep_due, grants_expire_due, harvest_due, uploads_expire_due

        register("data", load_demo_data, order=60)
        # Grants end by themselves at their expiry (reads check expires_at anyway; this records it).
        periodic.register("data.grants_expire", settings.DATA_GRANTS_SECONDS, grants_expire_due)
        periodic.register("data.harvest", settings.DATA_HARVEST_SECONDS, harvest_due)
        # Unfinished resumable uploads are dropped after DATA_UPLOAD_HOURS.
        periodic.register("data.uploads_expire", 3600, uploads_expire_due)
        # Work a killed worker left (services/sweep.py), once older than DATA_STUCK_MINUTES.
        periodic.register("data.sweep", settings.DATA_SWEEP_SECONDS, data_sweep_due)
