"""Personal API tokens: shown once, stored hashed, expiring, revocable."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from aifactory.accounts import services
from aifactory.accounts.models import ApiToken
from aifactory.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def bearer(secret):
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def created(api, make_user):
    """A person, and a token they created through the API."""
    user = make_user()
    client = api(user)
    response = client.post("/tokens", {"name": "laptop", "expires_in_days": 30})
    assert response.status_code == 201, response.content
    return {"user": user, "client": client, "body": response.json()}


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
    from aifactory.core.errors import NotFound

    with pytest.raises(NotFound):
        services.token_revoke(user=make_user(), token=token)


@pytest.mark.parametrize("days", [0, -1, 367, 1000])
def test_expiry_bounds(api, make_user, days):
    user = make_user()
    response = api(user).post("/tokens", {"name": "x", "expires_in_days": days})
    assert response.status_code == 422
    assert "expires_in_days" in response.json()["errors"]
    assert not ApiToken.objects.filter(name="x").exists()


@pytest.mark.parametrize("days", [1, 366])
def test_expiry_bounds_inclusive(api, make_user, days):
    response = api(make_user()).post("/tokens", {"name": "x", "expires_in_days": days})
    assert response.status_code == 201


@pytest.mark.parametrize(("name", "field"), [("", "name"), ("  ", "name"), ("n" * 101, "name")])
def test_token_name_is_checked(api, make_user, name, field):
    response = api(make_user()).post("/tokens", {"name": name})
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


def test_every_token_expires(api, make_user):
    """A token without an end date is a standing risk; null is refused, nothing saved."""
    response = api(make_user()).post("/tokens", {"name": "forever", "expires_in_days": None})
    assert response.status_code == 422
    assert "expires_in_days" in response.json()["errors"]
    assert not ApiToken.objects.filter(name="forever").exists()
