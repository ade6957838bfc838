from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "aifactory.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from .dashboard import register_panels

        register_panels()
