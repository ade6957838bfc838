"""Staff roles and deactivation: the `aifactory users` command and the services behind it."""

import io
import sys

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client

from aifactory.accounts import services
from aifactory.accounts.models import User
from aifactory.conftest import PASSWORD, ApiClient
from aifactory.core.errors import InvalidTransition, NotAllowed
from aifactory.core.models import AuditEvent
from aifactory.core.tests import processes


def run(*args) -> str:
    out = io.StringIO()
    call_command("users", *args, stdout=out)
    return out.getvalue()


def sign_in(email: str, password: str = PASSWORD) -> Client:
    client = Client()
    client.post("/accounts/login/", {"email": email, "password": password})
    return client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db(transaction=True)
def test_set_role_from_the_command_line_is_audited_as_the_system(make_user):
    person = make_user("rita@example.org")
    result = processes.run("users", "set-role", "RITA@example.org", "reviewer")
    assert result.returncode == 0, result.stderr
    assert "rita@example.org: staff role none → reviewer" in result.stdout
    person.refresh_from_db()
    assert (person.staff_role, person.is_staff) == ("reviewer", False)
    event = AuditEvent.objects.get(action="user.set_staff_role")
    assert (event.actor, event.actor_repr) == (None, "system")
    assert event.changes == {"staff_role": ["", "reviewer"]}


def test_set_role_administrator_and_back_to_none(make_user):
    make_user("keeper@example.org", staff_role="administrator")
    person = make_user("ada@example.org")
    assert "staff role none → administrator" in run("set-role", "ada@example.org", "administrator")
    person.refresh_from_db()
    assert (person.staff_role, person.is_staff, person.is_superuser) == (
        "administrator",
        True,
        True,
    )
    assert "staff role administrator → none" in run("set-role", "ada@example.org", "none")
    person.refresh_from_db()
    assert (person.staff_role, person.is_staff, person.is_superuser) == ("", False, False)
    events = AuditEvent.objects.filter(action="user.set_staff_role").order_by("id")
    assert [e.changes["staff_role"] for e in events] == [
        ["", "administrator"],
        ["administrator", ""],
    ]

    # Setting the role a person has already changes and records nothing.
    assert "nothing changed" in run("set-role", "ada@example.org", "none")
    assert AuditEvent.objects.filter(action="user.set_staff_role").count() == 2


def test_set_role_refuses_bad_input(make_user):
    make_user("ada@example.org", staff_role="administrator")
    with pytest.raises(CommandError, match="email: no person with the address nobody@"):
        run("set-role", "nobody@example.org", "advisor")
    with pytest.raises(CommandError, match="invalid choice: 'emperor'"):
        run("set-role", "ada@example.org", "emperor")
    with pytest.raises(CommandError, match="user: ada@example.org is the last administrator"):
        run("set-role", "ada@example.org", "operator")
    assert User.objects.get(email="ada@example.org").staff_role == "administrator"
    assert not AuditEvent.objects.filter(action="user.set_staff_role").exists()


def test_staff_roles_are_given_by_administrators_or_the_system_only(make_user):
    admin, operator, person = (
        make_user(staff_role="administrator"),
        make_user(staff_role="operator"),
        make_user(),
    )
    with pytest.raises(PermissionDenied):
        services.user_set_staff_role(actor=operator, user=person, staff_role="operator")
    with pytest.raises(PermissionDenied):
        services.user_create(email="new@example.org", password=None, staff_role="advisor",
                             actor=operator)  # fmt: skip
    assert not User.objects.filter(email="new@example.org").exists()
    services.user_set_staff_role(actor=admin, user=person, staff_role="advisor")
    assert AuditEvent.objects.get(action="user.set_staff_role").actor == admin


def test_deactivated_person_cannot_sign_in_or_use_tokens(make_user):
    person = make_user("dana@example.org")
    api = ApiClient(person)
    assert api.get("/me").status_code == 200
    session = sign_in("dana@example.org")
    assert signed_in(session)
    assert session.get("/dashboard/").status_code == 200

    assert run("deactivate", "dana@example.org") == "deactivated dana@example.org\n"
    person.refresh_from_db()
    assert not person.is_active
    event = AuditEvent.objects.get(action="user.deactivate")
    assert (event.actor_repr, event.object_id, event.changes) == (
        "system",
        str(person.pk),
        {"is_active": [True, False]},
    )

    assert api.get("/me").status_code == 401
    assert not signed_in(sign_in("dana@example.org"))
    # The session from before ends too.
    assert session.get("/dashboard/").status_code == 302

    with pytest.raises(CommandError, match="user: dana@example.org is deactivated already"):
        run("deactivate", "dana@example.org")

    assert run("reactivate", "dana@example.org") == "reactivated dana@example.org\n"
    assert api.get("/me").status_code == 200
    assert signed_in(sign_in("dana@example.org"))
    assert AuditEvent.objects.get(action="user.reactivate").changes == {"is_active": [False, True]}
    with pytest.raises(CommandError, match="user: dana@example.org is active already"):
        run("reactivate", "dana@example.org")


def test_deactivation_rules(make_user):
    admin, operator, person = (
        make_user(staff_role="administrator"),
        make_user(staff_role="operator"),
        make_user(),
    )
    with pytest.raises(PermissionDenied):
        services.user_deactivate(actor=operator, user=person)
    with pytest.raises(NotAllowed):
        services.user_deactivate(actor=admin, user=admin)
    with pytest.raises(InvalidTransition, match="last administrator"):
        services.user_deactivate(actor=None, user=admin)
    services.user_deactivate(actor=admin, user=person)
    assert AuditEvent.objects.get(action="user.deactivate").actor == admin
    with pytest.raises(PermissionDenied):
        services.user_reactivate(actor=operator, user=person)
    services.user_reactivate(actor=admin, user=person)
    person.refresh_from_db()
    assert person.is_active


def test_users_list(make_user):
    make_user("ada@example.org", staff_role="administrator")
    make_user("olga@example.org", staff_role="operator")
    make_user("pat@example.org")
    services.user_deactivate(actor=None, user=User.objects.get(email="olga@example.org"))

    everyone = run("list").splitlines()
    assert [line.split()[0] for line in everyone] == [
        "ada@example.org",
        "olga@example.org",
        "pat@example.org",
    ]
    assert everyone[1].split()[1:] == ["operator", "deactivated"]
    assert everyone[2].split()[1:] == ["-", "active"]
    staff = run("list", "--staff").splitlines()
    assert [line.split()[0] for line in staff] == ["ada@example.org", "olga@example.org"]


def test_users_create_leaves_the_terms_to_the_person(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    run("create", "new@example.org", "--password-stdin")
    user = User.objects.get(email="new@example.org")
    assert not services.terms_accepted(user)
    assert not AuditEvent.objects.filter(action="terms.accept").exists()
    client = sign_in("new@example.org")
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/terms/")
