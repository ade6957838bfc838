"""System checks (`aifactory check`, and every start of the server) for settings that start fine
but quietly fail the people using the hub."""

from django.conf import settings
from django.core.checks import Warning

MAIL_NOWHERE = {
    "django.core.mail.backends.console.EmailBackend": "prints every message to the server log",
    "django.core.mail.backends.locmem.EmailBackend": "keeps every message in memory",
    "django.core.mail.backends.dummy.EmailBackend": "throws every message away",
}


def mail_is_delivered(app_configs=None, **kwargs):
    """In production a mail backend that delivers nothing loses every verification link,
    invitation and password reset without a single error."""
    where = MAIL_NOWHERE.get(settings.EMAIL_BACKEND)
    if not getattr(settings, "PRODUCTION", False) or where is None:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, which {where}: nobody receives "
            "verification links, invitations or password resets.",
            hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST.",
            id="aifactory.W001",
        )
    ]
