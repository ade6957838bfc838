from django.apps import AppConfig


class AdvisorConfig(AppConfig):
    name = "aifactory.advisor"
    label = "advisor"
    verbose_name = "Advisor"

    def ready(self):
        from aifactory.core.demo import register as register_demo

        from .dashboard import register_panels
        from .demo import load_demo_cases
        from .readiness_dashboard import register_panel as register_readiness_panel
        from .readiness_demo import load_demo_readiness

        register_panels()
        register_readiness_panel()
        register_demo("advisor-cases", load_demo_cases, order=30)
        register_demo("advisor-readiness", load_demo_readiness, order=31)
