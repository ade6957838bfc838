"""Django's admin site: a read-only window for administrators, and nobody else."""

import pytest
from django.test import Client
from django.utils import timezone

from aifactory.accounts import services
from aifactory.accounts.models import ApiToken, Invitation
from aifactory.core.services import worker_heartbeat

# (admin URL part, how to reach one object of it)
MODELS = {
    "accounts/user": lambda w: w["admin"].pk,
    "accounts/organisation": lambda w: w["org"].pk,
    "accounts/membership": lambda w: w["org"].memberships.first().pk,
    "accounts/invitation": lambda w: w["invitation"].pk,
    "accounts/apitoken": lambda w: w["token"].pk,
    "accounts/termsacceptance": lambda w: w["admin"].terms_acceptances.first().pk,
    "accounts/loginfailure": lambda w: w["failure"].pk,
    "core/auditevent": lambda w: w["event"].pk,
    "core/workerheartbeat": lambda w: "worker-1",
}


@pytest.fixture
def world(make_user, make_org):
    from aifactory.accounts.models import LoginFailure
    from aifactory.core.models import AuditEvent

    admin = make_user("ada@example.org", staff_role="administrator")
    owner = make_user("owner@example.org")
    org = make_org(owner, legal_name="Admin View S.à r.l.")
    invitation, invitation_secret = services.invitation_create(
        actor=owner, organisation=org, email="guest@example.org"
    )
    token, token_secret = services.token_create(user=owner, name="laptop")
    services.login_failure_record(email="someone@example.org", ip_address="192.0.2.1")
    worker_heartbeat(worker_id="worker-1", hostname="node", pid=42, started_at=timezone.now())
    client = Client()
    client.force_login(admin)
    return {
        "admin": admin,
        "owner": owner,
        "org": org,
        "invitation": invitation,
        "token": token,
        "secrets": [
            invitation_secret,
            token_secret,
            Invitation.objects.get(pk=invitation.pk).token_hash,
            ApiToken.objects.get(pk=token.pk).token_hash,
            owner.password,
            admin.password,
        ],
        "failure": LoginFailure.objects.get(),
        "event": AuditEvent.objects.filter(action="token.create").first(),
        "client": client,
    }


@pytest.mark.parametrize("model", sorted(MODELS))
def test_administrator_sees_each_model_read_only(world, model):
    client = world["client"]
    base = f"/admin/{model}/"
    listing = client.get(base)
    assert listing.status_code == 200, model
    object_id = MODELS[model](world)
    detail = client.get(f"{base}{object_id}/change/")
    assert detail.status_code == 200, model
    for page in (listing, detail):
        body = page.content.decode()
        leaked = [s for s in world["secrets"] if s and s in body]
        assert not leaked, f"{model} shows a secret or its hash"
    assert 'name="_save"' not in detail.content.decode()

    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}add/", {}).status_code == 403
    assert client.post(f"{base}{object_id}/change/", {}).status_code == 403
    assert client.get(f"{base}{object_id}/delete/").status_code == 403
    assert client.post(f"{base}{object_id}/delete/", {"post": "yes"}).status_code == 403


def test_changelists_search_and_filter(world):
    client = world["client"]
    found = client.get("/admin/accounts/organisation/", {"q": "Admin View"})
    assert "Admin View S.à r.l." in found.content.decode()
    missed = client.get("/admin/accounts/organisation/", {"q": "no such name"})
    assert "Admin View S.à r.l." not in missed.content.decode()
    staff = client.get("/admin/accounts/user/", {"staff_role__exact": "administrator"})
    assert "ada@example.org" in staff.content.decode()
    assert "owner@example.org" not in staff.content.decode()


def test_index_says_changes_go_through_the_portal(world):
    body = world["client"].get("/admin/").content.decode()
    assert "read-only" in body
    assert "the portal, the API or the aifactory command" in body
    # Roles are ours, not Django's groups; no page suggests otherwise.
    assert "/admin/auth/group/" not in body
    assert world["client"].get("/admin/auth/group/").status_code == 404


@pytest.mark.parametrize("role", ["operator", "reviewer", "advisor", ""])
def test_others_signed_in_are_refused(make_user, role):
    user = make_user(staff_role=role)
    client = Client()
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 403
    assert client.get("/admin/accounts/user/", follow=True).status_code == 403
    assert client.get("/admin/core/auditevent/", follow=True).status_code == 403


def test_anonymous_is_sent_to_the_portal_login(db):
    client = Client()
    first = client.get("/admin/accounts/user/")
    assert first.status_code == 302
    second = client.get(first["Location"])
    assert second.status_code == 302
    assert second["Location"].startswith("/accounts/login/?next=")
    assert "/admin/accounts/user/" in second["Location"]


def test_admin_login_form_cannot_sign_in(make_user):
    """Sign-in is the portal's, with its lock-out; the admin's own form is not served."""
    from aifactory.conftest import PASSWORD

    make_user("ada@example.org", staff_role="administrator")
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "ada@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_admin_password_change_is_the_portals(world):
    response = world["client"].get("/admin/password_change/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/"


def test_nav_shows_admin_only_to_administrators(make_user):
    pages = {}
    for role in ("administrator", "operator", ""):
        client = Client()
        client.force_login(make_user(staff_role=role))
        pages[role] = client.get("/dashboard/").content.decode()
    assert 'href="/admin/"' in pages["administrator"]
    assert 'href="/admin/"' not in pages["operator"]
    assert 'href="/admin/"' not in pages[""]


def test_only_administrators_have_django_staff_status(make_user):
    people = {role: make_user(staff_role=role) for role in ("administrator", "operator", "")}
    assert [people[r].is_staff for r in ("administrator", "operator", "")] == [True, False, False]
    admin = people["administrator"]
    operator = services.user_set_staff_role(
        actor=admin, user=people["operator"], staff_role="administrator"
    )
    assert (operator.is_staff, operator.is_superuser) == (True, True)
    services.user_set_staff_role(actor=operator, user=admin, staff_role="operator")
    admin.refresh_from_db()
    assert (admin.staff_role, admin.is_staff, admin.is_superuser) == ("operator", False, False)
