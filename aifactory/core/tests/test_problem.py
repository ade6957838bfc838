"""Every error the API answers is application/problem+json, whoever produces it."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/api/v1/me", {"GET", "PATCH"}),
        ("delete", "/api/v1/audit", {"GET"}),
        ("patch", "/api/v1/tokens", {"GET", "POST"}),
        ("get", "/api/v1/invitations/accept", {"POST"}),
    ],
)
def test_a_method_the_endpoint_lacks_is_a_405_problem(api, make_user, method, path, allowed):
    for client in (api(make_user()), api()):
        response = getattr(client.client, method)(path, headers=client.headers)
        body = assert_problem(response, 405)
        assert {m.strip() for m in response["Allow"].split(",")} == allowed
        assert body["title"] == "Method Not Allowed"
        assert all(m in body["detail"] for m in allowed)


def test_a_request_django_refuses_is_a_400_problem():
    assert_problem(Client(HTTP_HOST="evil.example").get("/api/v1/me"), 400)


def test_an_unknown_api_path_is_a_404_problem():
    assert_problem(Client().get("/api/v1/no-such-thing"), 404)


def test_portal_errors_stay_html(make_user):
    client = Client()
    client.force_login(make_user())
    response = client.get("/accounts/logout/")
    assert response.status_code == 405
    assert not response["Content-Type"].startswith("application/problem+json")


def test_problem_details_follow_the_language(client):
    response = client.get("/api/v1/me", headers={"Accept-Language": "de"})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Senden Sie ein gültiges Token")
    response = client.put("/api/v1/me", headers={"Accept-Language": "fr"})
    assert response.status_code == 405
    assert response.json()["detail"].startswith("Méthodes autorisées")
