"""The authorization matrix: every URL pattern of the hub, every role, exactly the expected answer.

The rules are keyed by URL pattern name and the test walks the URLconf, so a new page or endpoint
without a rule fails `test_every_url_has_a_rule`. Each app keeps its own rules in
`<app>/tests/matrix_rules.py` (see core/tests/matrix.py).
"""

import copy
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from aifactory.accounts import services
from aifactory.accounts.models import ApiToken, Invitation, Membership, Organisation
from aifactory.core.tests.matrix import (
    ANON_401,
    API,
    EVERYONE,
    LOGIN,
    MANAGERS,
    MANAGING,
    ORG,
    ROLES,
    SIGNED_IN,
    VIEWERS,
    Rule,
    World,
    app_rules,
    by_role,
)


def _role_changed(w, role):
    return Membership.objects.get(pk=w.member_membership.pk).role == "manager"


def _member_gone(w, role):
    return not Membership.objects.filter(pk=w.member_membership.pk).exists()


def _someone_left(w, role):
    return w.org.memberships.count() < 3


def _invited(w, role):
    return Invitation.objects.filter(email__endswith=".colleague@matrix.test").exists()


def _revoked(w, role):
    return Invitation.objects.get(pk=w.invitation.pk).status == "revoked"


def _accepted(w, role):
    user = w.users[role]
    return user is not None and w.host_org.memberships.filter(user=user).exists()


def _token_revoked(w, role):
    return ApiToken.objects.get(pk=w.owner_token.pk).revoked_at is not None


def _token_made(w, role):
    return ApiToken.objects.filter(name__in=["page", "ci"]).exists()


def _org_updated(w, role):
    return Organisation.objects.get(pk=w.org.pk).city == "Belval"


def _org_created(w, role):
    return Organisation.objects.filter(legal_name=f"New {role}").exists()


RULES: dict[str, Rule] = {
    # --- API ------------------------------------------------------------------------------------
    "api:openapi-json": Rule("get", API + "/openapi.json", by_role(200)),
    "api:openapi-view": Rule("get", API + "/docs", by_role(200)),
    "api:api-root": Rule("get", API + "/", by_role(404)),
    "api:me": Rule("get", API + "/me", by_role(200, **ANON_401)),
    "api:me_update": Rule(
        "patch", API + "/me", by_role(200, **ANON_401), body={"first_name": "Kim"}
    ),
    "api:organisations_list": Rule(
        "get",
        API + "/organisations",
        by_role(200, **ANON_401),
        shows_org={r: r in ("member", "manager", "owner") for r in SIGNED_IN},
    ),
    "api:organisations_create": Rule(
        "post",
        API + "/organisations",
        by_role(201, **ANON_401),
        body=lambda w, role: {"legal_name": f"New {role}", "country": "LU", "kind": "startup"},
        effect=_org_created,
        done_by=EVERYONE,
    ),
    "api:organisations_read": Rule("get", ORG, by_role(403, **ANON_401, **VIEWERS)),
    "api:organisations_update": Rule(
        "patch",
        ORG,
        by_role(403, **ANON_401, **MANAGERS),
        body={"city": "Belval"},
        effect=_org_updated,
        done_by=MANAGING,
    ),
    "api:members_list": Rule("get", ORG + "/members", by_role(403, **ANON_401, **VIEWERS)),
    "api:members_set_role": Rule(
        "patch",
        ORG + "/members/{w.member_membership.pk}",
        by_role(403, **ANON_401, **MANAGERS),
        body={"role": "manager"},
        effect=_role_changed,
        done_by=MANAGING,
    ),
    "api:members_remove": Rule(
        "delete",
        ORG + "/members/{w.member_membership.pk}",
        by_role(403, **ANON_401, member=204, manager=204, owner=204, administrator=204),
        effect=_member_gone,
        done_by=MANAGING | {"member"},
    ),
    "api:organisations_leave": Rule(
        "post",
        ORG + "/leave",
        by_role(404, **ANON_401, outsider=403, member=204, manager=204, owner=409),
        effect=_someone_left,
        done_by=frozenset({"member", "manager"}),
    ),
    "api:invitations_list": Rule("get", ORG + "/invitations", by_role(403, **ANON_401, **MANAGERS)),
    "api:invitations_create": Rule(
        "post",
        ORG + "/invitations",
        by_role(403, **ANON_401, manager=201, owner=201, administrator=201),
        body={"email": "new.colleague@matrix.test", "role": "member"},
        effect=_invited,
        done_by=MANAGING,
    ),
    "api:invitations_revoke": Rule(
        "delete",
        ORG + "/invitations/{w.invitation.pk}",
        by_role(403, **ANON_401, **MANAGERS),
        effect=_revoked,
        done_by=MANAGING,
    ),
    "api:invitations_accept": Rule(
        "post",
        API + "/invitations/accept",
        by_role(200, **ANON_401),
        body=lambda w, role: {"token": w.invitation_for(role)},
        effect=_accepted,
        done_by=EVERYONE,
    ),
    "api:tokens_list": Rule("get", API + "/tokens", by_role(200, **ANON_401)),
    "api:tokens_create": Rule(
        "post",
        API + "/tokens",
        by_role(403, **ANON_401),
        body={"name": "ci"},
        effect=_token_made,
        done_by=frozenset(),
    ),
    "api:tokens_revoke": Rule(
        "delete",
        API + "/tokens/{w.owner_token.pk}",
        by_role(404, **ANON_401, owner=200),
        effect=_token_revoked,
        done_by=frozenset({"owner"}),
    ),
    "api:audit_list": Rule(
        "get", API + "/audit", by_role(403, **ANON_401, operator=200, administrator=200)
    ),
    # --- OpenID Connect: off by default, so nobody reaches it -----------------------------------
    # --- portal pages -------------------------------------------------------------------------
    "core:home": Rule("get", "/", by_role(200)),
    "core:healthz": Rule("get", "/healthz", by_role(200)),
    "core:readyz": Rule("get", "/readyz", by_role(503)),  # no worker runs in this test
    "core:dashboard": Rule("get", "/dashboard/", by_role(200, **LOGIN)),
    "core:audit": Rule("get", "/audit/", by_role(403, **LOGIN, operator=200, administrator=200)),
    "set_language": Rule("post", "/i18n/setlang/", by_role(302), body={"language": "de"}),
    "accounts:signup": Rule("get", "/accounts/signup/", by_role(302, anonymous=200)),
    "accounts:signup_done": Rule("get", "/accounts/signup/done/", by_role(200)),
    "accounts:verify_resend": Rule(
        "post", "/accounts/verify/resend/", by_role(200), body={"email": "nobody@matrix.test"}
    ),
    "accounts:verify": Rule("get", "/accounts/verify/not-a-token/", by_role(400)),
    "accounts:login": Rule("get", "/accounts/login/", by_role(302, anonymous=200)),
    "accounts:logout": Rule("post", "/accounts/logout/", by_role(302)),
    "accounts:password_reset": Rule("get", "/accounts/password-reset/", by_role(200)),
    "accounts:password_reset_done": Rule("get", "/accounts/password-reset/sent/", by_role(200)),
    "accounts:password_reset_confirm": Rule(
        "get", "/accounts/password-reset/MQ/bad-token/", by_role(200)
    ),
    "accounts:password_reset_complete": Rule("get", "/accounts/password-reset/done/", by_role(200)),
    "accounts:terms": Rule("get", "/accounts/terms/", by_role(200)),
    "accounts:settings": Rule("get", "/accounts/settings/", by_role(200, **LOGIN)),
    "accounts:tokens": Rule("get", "/accounts/tokens/", by_role(200, **LOGIN)),
    "accounts:token_create": Rule(
        "post",
        "/accounts/tokens/new/",
        by_role(200, **LOGIN),
        body={"name": "page", "expires_in_days": 30},
        effect=_token_made,
        done_by=EVERYONE,
    ),
    "accounts:token_revoke": Rule(
        "post",
        "/accounts/tokens/{w.owner_token.pk}/revoke/",
        by_role(404, **LOGIN, owner=302),
        effect=_token_revoked,
        done_by=frozenset({"owner"}),
    ),
    "accounts:organisation_list": Rule(
        "get",
        "/organisations/",
        by_role(200, **LOGIN),
        shows_org={r: r in ("member", "manager", "owner") for r in SIGNED_IN},
    ),
    "accounts:organisation_create": Rule("get", "/organisations/new/", by_role(200, **LOGIN)),
    "accounts:organisation_detail": Rule(
        "get", "/organisations/{w.org.pk}/", by_role(403, **LOGIN, **VIEWERS)
    ),
    "accounts:organisation_edit": Rule(
        "get", "/organisations/{w.org.pk}/edit/", by_role(403, **LOGIN, **MANAGERS)
    ),
    "accounts:members": Rule(
        "get", "/organisations/{w.org.pk}/members/", by_role(403, **LOGIN, **VIEWERS)
    ),
    "accounts:member_role": Rule(
        "post",
        "/organisations/{w.org.pk}/members/{w.member_membership.pk}/role/",
        by_role(403, **LOGIN, manager=302, owner=302, administrator=302),
        body={"role": "manager"},
        effect=_role_changed,
        done_by=MANAGING,
    ),
    "accounts:member_remove": Rule(
        "post",
        "/organisations/{w.org.pk}/members/{w.member_membership.pk}/remove/",
        by_role(403, **LOGIN, member=302, manager=302, owner=302, administrator=302),
        effect=_member_gone,
        done_by=MANAGING | {"member"},
    ),
    "accounts:organisation_leave": Rule(
        "post",
        "/organisations/{w.org.pk}/leave/",
        by_role(302, outsider=403),
        effect=_someone_left,
        done_by=frozenset({"member", "manager"}),
    ),
    "accounts:invitation_create": Rule(
        "post",
        "/organisations/{w.org.pk}/invitations/",
        by_role(403, **LOGIN, manager=302, owner=302, administrator=302),
        body={"email": "page.colleague@matrix.test", "role": "member"},
        effect=_invited,
        done_by=MANAGING,
    ),
    "accounts:invitation_revoke": Rule(
        "post",
        "/organisations/{w.org.pk}/invitations/{w.invitation.pk}/revoke/",
        by_role(403, **LOGIN, manager=302, owner=302, administrator=302),
        effect=_revoked,
        done_by=MANAGING,
    ),
    "accounts:invitation_accept": Rule(
        "post",
        "/invitations/{invitation_id}/accept/",
        by_role(302),
        effect=_accepted,
        done_by=EVERYONE,
    ),
    "accounts:invitation": Rule("get", "/invitations/{w.invitation_token}/", by_role(200)),
    "oidc_authentication_init": Rule("get", "/oidc/authenticate/", by_role(404)),
    "oidc_authentication_callback": Rule("get", "/oidc/callback/?code=c&state=s", by_role(404)),
} | app_rules()

# Patterns that are not ours to rule on: Django's admin (checked once below) and its i18n view.
EXEMPT_NAMESPACES = {"admin"}


def _walk(patterns, namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from _walk(entry.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}"


def all_url_names() -> list[str]:
    return sorted(
        name
        for name in set(_walk(get_resolver().url_patterns))
        if name.split(":")[0] not in EXEMPT_NAMESPACES
    )


def test_every_url_has_a_rule():
    missing = [name for name in all_url_names() if name not in RULES]
    assert not missing, f"URL patterns without an authorization rule: {missing}"


def _client_for(world: World, role: str, api: bool) -> tuple[Client, dict[str, str]]:
    client = Client()
    user = world.users[role]
    headers: dict[str, str] = {}
    if user is None:
        return client, headers
    if api:
        _token, secret = services.token_create(user=user, name=f"matrix {role}")
        headers["Authorization"] = f"Bearer {secret}"
    else:
        client.force_login(user)
    return client, headers


@pytest.fixture(scope="module")
def _shared_world(django_db_setup, django_db_blocker):
    """One World for all the matrix's cases, as Django's setUpTestData gives a class: built once
    in a transaction that each case's own savepoint returns to, rolled back at the end. A World
    per case made the matrix two thirds of the whole suite's time."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield World()
        transaction.set_rollback(True)


@pytest.fixture
def world(_shared_world, db):
    """The shared World as each case found it: a copy, so no case sees another's changes to the
    objects in memory (the database is rolled back by the case's savepoint)."""
    return copy.deepcopy(_shared_world)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(RULES))
def test_matrix(world, name, role):
    rule = RULES[name]
    invitation_id = world.invitation_id_for(role) if "{invitation_id}" in rule.path else ""
    path = rule.path.format(w=world, invitation_id=invitation_id)
    is_api = path.startswith(API)
    client, headers = _client_for(world, role, is_api)
    body = rule.body(world, role) if callable(rule.body) else rule.body
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        if is_api:
            kwargs.update(data=body, content_type="application/json")
        else:
            kwargs.update(data=body)
    response = getattr(client, rule.method)(path, **kwargs)
    expected = rule.expect[role]
    assert response.status_code == expected, (
        f"{role} {rule.method.upper()} {path}: {response.status_code}, expected {expected}: "
        f"{response.content[:300]!r}"
    )
    if role in rule.shows_org:
        listed = str(world.org.pk) in response.content.decode()
        assert listed == rule.shows_org[role], f"{role} sees organisation A: {listed}"
    if is_api and response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
    if rule.effect is not None:
        done = rule.effect(world, role)
        assert done == (role in rule.done_by), f"{role} {rule.method.upper()} {path}: done={done}"


@pytest.mark.parametrize("role", ROLES)
def test_admin_site(world, role):
    client, _ = _client_for(world, role, api=False)
    response = client.get("/admin/")
    allowed = role == "administrator"
    assert (response.status_code == 200) == allowed, f"{role}: {response.status_code}"


def test_api_with_the_portal_session_needs_csrf(world):
    """The API also accepts the portal's session cookie, and then a forged cross-site POST fails."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["owner"])
    body = {"legal_name": "Session Org", "country": "LU", "kind": "sme"}
    response = client.post(f"{API}/organisations", body, content_type="application/json")
    assert response.status_code == 403
    assert not Organisation.objects.filter(legal_name="Session Org").exists()

    client.get("/dashboard/")  # sets the CSRF cookie, as the portal does
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"{API}/organisations",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201, response.content
    assert client.get(f"{API}/me").json()["email"] == world.users["owner"].email
