"""The system check that warns when production would lose every e-mail."""

import pytest
from django.core.checks import Warning, run_checks
from django.test import override_settings


def warnings_about_mail():
    return [m for m in run_checks() if m.id == "aifactory.W001"]


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    ],
)
def test_production_without_a_real_mail_backend_is_warned(backend):
    with override_settings(PRODUCTION=True, EMAIL_BACKEND=backend):
        [message] = warnings_about_mail()
    assert isinstance(message, Warning)
    assert backend in message.msg
    assert "EMAIL_BACKEND" in message.hint


def test_production_with_smtp_is_fine():
    with override_settings(
        PRODUCTION=True, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend"
    ):
        assert warnings_about_mail() == []


def test_the_console_is_fine_on_a_laptop():
    with override_settings(
        PRODUCTION=False, EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend"
    ):
        assert warnings_about_mail() == []
