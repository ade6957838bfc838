from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "aifactory.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from django.core import checks

        from .checks import mail_is_delivered

        checks.register(mail_is_delivered)

        from django.conf import settings

        from . import periodic
        from .tasks import ping

        if settings.WORKER_PING_SECONDS:  # a round trip through the queue now and then (off: 0)
            periodic.register("core.ping", settings.WORKER_PING_SECONDS, ping)
