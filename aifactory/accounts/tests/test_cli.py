"""The `aifactory` command: real processes on the test database, and call_command for the details."""

import io
import re
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from aifactory.accounts import services
from aifactory.accounts.models import ApiToken, Membership, Organisation, User
from aifactory.core.models import AuditEvent
from aifactory.core.tests import processes

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Stdin-Secret-4711"


def test_users_create_with_role_and_password_on_stdin():
    result = processes.run(
        "users", "create", "Olga@Example.org", "--role", "operator", "--password-stdin",
        "--first-name", "Olga", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "created olga@example.org (operator)" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr

    user = User.objects.get(email="olga@example.org")
    assert (user.staff_role, user.is_staff, user.email_verified, user.first_name) == (
        "operator",
        False,  # only administrators reach the admin site
        True,
        "Olga",
    )
    assert user.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action="user.create", object_id=str(user.pk)).exists()


def test_users_create_refuses_a_duplicate_with_a_clear_message(make_user):
    make_user("taken@example.org")
    result = processes.run(
        "users", "create", "TAKEN@example.org", "--password-stdin", stdin=PASSWORD
    )
    assert result.returncode != 0
    assert "email: An account with this e-mail address exists already." in result.stderr
    assert "Traceback" not in result.stderr
    assert User.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["new@example.org", "--role", "emperor"], "", "invalid choice: 'emperor'"),
        (["not-an-address"], "", "email: Enter a valid e-mail address."),
        (["new@example.org", "--password-stdin"], "", "password: nothing was given"),
        (["new@example.org", "--password-stdin"], "12345678\n", "password: "),
        (["new@example.org", "--first-name", "x" * 151], "", "first_name: At most 150"),
    ],
)
def test_users_create_refuses_bad_input(monkeypatch, args, stdin, message):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("users", "create", *args)
    assert not User.objects.exists()


def test_tokens_create_prints_the_token_once_and_it_works(make_user):
    user = make_user("dev@example.org")
    result = processes.run("tokens", "create", "dev@example.org", "--expires", "7")
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("afh_") and "\n" not in secret
    assert secret not in result.stderr
    assert "shown only this once" in result.stderr

    token = ApiToken.objects.get(user=user, name="cli")
    assert secret not in token.token_hash
    assert abs(token.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=5)
    response = Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == "dev@example.org"

    listing = io.StringIO()
    call_command("tokens", "list", "dev@example.org", stdout=listing)
    assert str(token.pk) in listing.getvalue() and "active" in listing.getvalue()
    assert secret not in listing.getvalue()

    call_command("tokens", "revoke", "dev@example.org", str(token.pk), stdout=io.StringIO())
    assert (
        Client(headers={"Authorization": f"Bearer {secret}"}).get("/api/v1/me").status_code == 401
    )
    with pytest.raises(CommandError, match="revoked already"):
        call_command("tokens", "revoke", "dev@example.org", str(token.pk))


@pytest.mark.django_db
def test_tokens_create_refuses_bad_input(make_user):
    make_user("dev@example.org")
    with pytest.raises(CommandError, match="email: no person"):
        call_command("tokens", "create", "nobody@example.org")
    with pytest.raises(CommandError, match="expires_in_days: Between 1 and 366 days"):
        call_command("tokens", "create", "dev@example.org", "--expires", "1000")
    with pytest.raises(CommandError, match="expires_in_days"):
        call_command("tokens", "create", "dev@example.org", "--expires", "0")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_tokens_of_someone_else_cannot_be_revoked_by_the_cli(make_user):
    make_user("a@example.org")
    token, _secret = services.token_create(user=make_user("b@example.org"), name="b")
    with pytest.raises(CommandError, match="token_id: no token"):
        call_command("tokens", "revoke", "a@example.org", str(token.pk))
    with pytest.raises(CommandError, match="token_id: no token"):
        call_command("tokens", "revoke", "a@example.org", "not-a-uuid")
    token.refresh_from_db()
    assert token.revoked_at is None


def test_seed_demo_twice_creates_nothing_the_second_time():
    first = processes.run("seed-demo")
    assert first.returncode == 0, first.stderr
    counts = (
        User.objects.count(),
        Organisation.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    )
    assert counts[0] >= 10 and counts[1] >= 5
    assert User.objects.filter(is_demo=True).count() == counts[0]

    second = io.StringIO()
    call_command("seed_demo", stdout=second)
    assert "0 people created, 0 organisations created, 0 memberships created" in second.getvalue()
    assert (
        User.objects.count(),
        Organisation.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    ) == counts


def test_migrate_check_wraps_django(tmp_path):
    applied = processes.run("migrate", "--check")
    assert applied.returncode == 0, applied.stdout + applied.stderr

    empty = processes.run(
        "migrate", "--check", DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    )
    assert empty.returncode != 0


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
