"""Personal API tokens: shown once, stored hashed, expiring, revocable."""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from aifactory.accounts import services
from aifactory.accounts.models import ApiToken
from aifactory.core.errors import NotFound
from aifactory.core.models import AuditEvent
from aifactory.core.permissions import allowed

pytestmark = pytest.mark.django_db


def bearer(secret):
    return Client(headers={"Authorization": f"Bearer {secret}"})


class PortalSession:
    """The API as the portal's own pages call it: a signed-in session that sends the CSRF token."""

    def __init__(self, user):
        self.client = Client(enforce_csrf_checks=True)
        self.client.force_login(user)
        self.client.get("/accounts/tokens/")  # sets the CSRF cookie, as any portal page does
        self.csrf = self.client.cookies["csrftoken"].value

    def post(self, path, json, csrf=True):
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        return self.client.post(
            f"/api/v1{path}", data=json, content_type="application/json", headers=headers
        )


@pytest.fixture
def created(api, make_user):
    """A person, and a token they created through the API from a portal session."""
    user = make_user()
    response = PortalSession(user).post("/tokens", {"name": "laptop", "expires_in_days": 30})
    assert response.status_code == 201, response.content
    return {"user": user, "client": api(user), "body": response.json()}


def test_a_created_token_works_as_bearer(created):
    secret = created["body"]["token"]
    assert secret.startswith("afh_")
    assert created["body"]["prefix"] == secret[:10]
    response = bearer(secret).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == created["user"].email


def test_the_secret_is_stored_only_hashed(created):
    secret = created["body"]["token"]
    row = ApiToken.objects.filter(pk=created["body"]["id"]).values().get()
    assert all(secret not in str(value) for value in row.values())
    assert len(row["token_hash"]) == 64
    listing = created["client"].get("/tokens").json()
    assert secret not in str(listing)
    assert {t["name"] for t in listing} == {"tests", "laptop"}


def test_expiry_is_set_from_the_days(created):
    token = ApiToken.objects.get(pk=created["body"]["id"])
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="token.create", object_id=str(token.pk))
    assert event.actor == created["user"]
    assert event.changes["name"] == "laptop"


def test_last_used_is_recorded(created):
    token = ApiToken.objects.get(pk=created["body"]["id"])
    assert token.last_used_at is None
    bearer(created["body"]["token"]).get("/api/v1/me")
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)


def test_an_expired_token_is_401(created):
    ApiToken.objects.filter(pk=created["body"]["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = bearer(created["body"]["token"]).get("/api/v1/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_401_and_cannot_be_revoked_again(created):
    path = f"/tokens/{created['body']['id']}"
    response = created["client"].delete(path)
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["revoked_at"]
    assert bearer(created["body"]["token"]).get("/api/v1/me").status_code == 401
    again = created["client"].delete(path)
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_another_persons_token_is_404(created, api, make_user):
    stranger = api(make_user())
    response = stranger.delete(f"/tokens/{created['body']['id']}")
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=created["body"]["id"]).revoked_at is None
    assert bearer(created["body"]["token"]).get("/api/v1/me").status_code == 200


def test_revoke_in_the_service_checks_the_owner(created, make_user):
    token = ApiToken.objects.get(pk=created["body"]["id"])
    with pytest.raises(NotFound):
        services.token_revoke(user=make_user(), token=token)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_ownership_is_a_permission_rule(created, make_user):
    token = ApiToken.objects.get(pk=created["body"]["id"])
    assert allowed(created["user"], "token.manage", token)
    assert not allowed(make_user(), "token.manage", token)
    assert not allowed(make_user(staff_role="administrator"), "token.manage", token)
    assert not allowed(AnonymousUser(), "token.manage", token)


def test_a_bearer_token_cannot_create_tokens(created):
    """A leaked token, however short-lived, must not be able to mint long-lived ones."""
    before = ApiToken.objects.count()
    response = created["client"].post("/tokens", {"name": "forever", "expires_in_days": 366})
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "portal" in detail and "aifactory tokens create" in detail
    assert ApiToken.objects.count() == before
    assert not AuditEvent.objects.filter(action="token.create", changes__name="forever").exists()


def test_a_session_without_the_csrf_token_cannot_create_tokens(make_user):
    response = PortalSession(make_user()).post("/tokens", {"name": "x"}, csrf=False)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert not ApiToken.objects.filter(name="x").exists()


def test_revoke_records_when(created):
    response = created["client"].delete(f"/tokens/{created['body']['id']}")
    assert response.status_code == 200
    token = ApiToken.objects.get(pk=created["body"]["id"])
    event = AuditEvent.objects.get(action="token.revoke")
    before, after = event.changes["revoked_at"]
    assert before is None
    assert datetime.fromisoformat(after) == token.revoked_at


@pytest.mark.parametrize("days", [0, -1, 367, 1000])
def test_expiry_bounds(make_user, days):
    response = PortalSession(make_user()).post("/tokens", {"name": "x", "expires_in_days": days})
    assert response.status_code == 422
    assert "expires_in_days" in response.json()["errors"]
    assert not ApiToken.objects.filter(name="x").exists()


@pytest.mark.parametrize("days", [1, 366])
def test_expiry_bounds_inclusive(make_user, days):
    response = PortalSession(make_user()).post("/tokens", {"name": "x", "expires_in_days": days})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("name", "field"), [("", "name"), ("  ", "name"), ("n" * 101, "name"), ("lap\x00top", "name")]
)
def test_token_name_is_checked(make_user, name, field):
    response = PortalSession(make_user()).post("/tokens", {"name": name})
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_a_token_of_a_deactivated_person_is_401(created):
    created["user"].is_active = False
    created["user"].save()
    assert bearer(created["body"]["token"]).get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Token afh_x", "afh_x", "Bearer afh_" + "x" * 43, "Basic dXNlcjpwYXNz"],
)
def test_malformed_authorization_is_401(created, header):
    response = Client(headers={"Authorization": header}).get("/api/v1/me")
    assert response.status_code == 401


def test_every_token_expires(make_user):
    """A token without an end date is a standing risk; null is refused, nothing saved."""
    body = {"name": "forever", "expires_in_days": None}
    response = PortalSession(make_user()).post("/tokens", body)
    assert response.status_code == 422
    assert "expires_in_days" in response.json()["errors"]
    assert not ApiToken.objects.filter(name="forever").exists()
