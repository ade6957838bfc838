from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "aifactory.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from django.core import checks

        from .checks import mail_is_delivered

        checks.register(mail_is_delivered)
