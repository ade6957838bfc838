from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "aifactory.core"
    label = "core"
    verbose_name = "Core"
