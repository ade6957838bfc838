"""Mail that cannot be sent never loses the person's work, and resending is throttled."""

import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from aifactory.accounts import services
from aifactory.accounts.models import User
from aifactory.core.models import AuditEvent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sign_up_survives_a_mail_server_that_is_down(db, settings, client):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()
    response = client.post(
        "/accounts/signup/",
        {
            "email": "kim@example.org",
            "first_name": "Kim",
            "last_name": "Lee",
            "password": "correct-Horse-battery-9",
            "password2": "correct-Horse-battery-9",
            "accept_terms": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]
    user = User.objects.get(email="kim@example.org")
    assert user.verification_sent_at is None  # not sent, so a resend is allowed at once


def test_resend_at_most_once_a_minute(db, make_user):
    user = make_user("slow@example.org", verified=False)
    services.verification_resend(email=user.email)
    services.verification_resend(email=user.email)
    services.verification_resend(email="SLOW@example.org")
    assert len(mail.outbox) == 1
    assert "/accounts/verify/" in mail.outbox[0].body


@pytest.mark.parametrize("email", ["nobody@example.org", "verified@example.org"])
def test_resend_is_silent_for_unknown_or_verified(db, make_user, email):
    make_user("verified@example.org", verified=True)
    services.verification_resend(email=email)
    assert mail.outbox == []


def test_plain_text_mails_are_not_html_escaped(
    db, make_user, make_org, django_capture_on_commit_callbacks
):
    owner = make_user("o.neil@example.org")
    owner.first_name = "Seán O'Neil"
    owner.save()
    organisation = make_org(owner=owner, legal_name="Smith & Sons <Ltd>")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(actor=owner, organisation=organisation, email="x@example.org")
    body = mail.outbox[-1].body
    assert "Smith & Sons <Ltd>" in body
    assert "O'Neil" in body
    assert "&amp;" not in body and "&#x27;" not in body


def ask_for_a_reset(email):
    response = Client().post("/accounts/password-reset/", {"email": email})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"


def test_password_reset_mail_is_in_the_persons_language(db, make_user):
    user = make_user("lea@example.org")
    user.preferred_language = "de"
    user.save()
    ask_for_a_reset("lea@example.org")
    [message] = mail.outbox
    assert message.subject == "Passwort bei AI Factory Hub zurücksetzen"
    assert "Wählen Sie hier ein neues" in message.body
    assert "/accounts/password-reset/" in message.body


def test_password_reset_at_most_once_a_minute(db, make_user):
    make_user("hasty@example.org")
    ask_for_a_reset("hasty@example.org")
    ask_for_a_reset("hasty@example.org")
    ask_for_a_reset("HASTY@example.org")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Reset your password on AI Factory Hub"

    AuditEvent.objects.filter(action="user.password_reset_mail").update(
        created_at=timezone.now() - timedelta(seconds=61)
    )
    ask_for_a_reset("hasty@example.org")
    assert len(mail.outbox) == 2


def test_password_reset_is_silent_for_unknown_addresses_and_identity_provider_accounts(
    db, make_user
):
    make_user("oidc@example.org", password=None)
    ask_for_a_reset("nobody@example.org")
    ask_for_a_reset("oidc@example.org")
    assert mail.outbox == []
