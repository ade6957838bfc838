from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "aifactory.access"
    label = "access"
    verbose_name = "Compute access"

    def ready(self):
        from aifactory.core.demo import register

        from .demo import load_demo_access
        from .demo_applications import load_demo_applications

        register("access", load_demo_access, order=40)
        register("access-applications", load_demo_applications, order=41)
