"""Until a signed-in person accepts the current terms of use, only the way in and out is open:
pages send them to the terms, the API answers 403 telling them so."""

import pytest
from django.test import Client

from aifactory.accounts import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(make_user):
    return make_user("new@example.org", terms=False)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sent_to_terms(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/terms/")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/dashboard/",
        "/organisations/",
        "/organisations/new/",
        "/accounts/settings/",
        "/accounts/tokens/",
        "/invitations/inv_whatever/",
    ],
)
def test_pages_wait_for_the_terms(newcomer, path):
    assert sent_to_terms(signed_in(newcomer).get(path))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/accounts/terms/"),
        ("get", "/accounts/login/"),
        ("post", "/accounts/logout/"),
        ("get", "/accounts/signup/"),
        ("get", "/accounts/signup/done/"),
        ("get", "/accounts/verify/not-a-token/"),
        ("get", "/accounts/password-reset/"),
        ("get", "/accounts/password-reset/sent/"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("post", "/i18n/setlang/"),
        ("get", "/static/aifactory/app.css"),
    ],
)
def test_the_way_in_and_out_stays_open(newcomer, method, path):
    response = getattr(signed_in(newcomer), method)(path)
    assert not sent_to_terms(response)


def test_accepting_opens_the_pages(newcomer):
    client = signed_in(newcomer)
    assert sent_to_terms(client.get("/accounts/settings/"))
    client.post("/accounts/terms/")
    assert client.get("/accounts/settings/").status_code == 200


def test_the_api_refuses_a_bearer_token_until_the_terms_are_accepted(api, newcomer):
    client = api(newcomer)
    response = client.get("/me")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "/accounts/terms/" in response.json()["detail"]
    assert "terms of use" in response.json()["detail"]
    response = client.post("/organisations", {"legal_name": "X", "country": "LU", "kind": "sme"})
    assert response.status_code == 403
    assert not newcomer.memberships.exists()

    services.terms_accept(user=newcomer)
    assert client.get("/me").status_code == 200


def test_the_api_refuses_a_session_until_the_terms_are_accepted(newcomer):
    client = signed_in(newcomer)
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    client.post("/accounts/terms/")
    assert client.get("/api/v1/me").status_code == 200


def test_a_bearer_token_is_judged_on_its_own_person(make_user, newcomer):
    """A browser session that accepted says nothing about the token sent with it."""
    client = signed_in(make_user())
    client.get("/dashboard/")  # the session now remembers its person's acceptance
    _token, secret = services.token_create(user=newcomer, name="other")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403


def test_new_terms_need_a_new_acceptance(api, make_user, settings):
    user = make_user()
    client = api(user)
    assert client.get("/me").status_code == 200
    settings.TERMS_VERSION = "2099-01"
    assert client.get("/me").status_code == 403
    services.terms_accept(user=user)
    assert client.get("/me").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs"])
def test_the_api_documentation_stays_public(newcomer, path):
    assert Client().get(path).status_code == 200
    assert signed_in(newcomer).get(path).status_code == 200


def test_checking_the_terms_costs_one_query(api, make_user, django_assert_max_num_queries):
    """Token lookup, last-used stamp at most once a minute, the terms, then the handler."""
    client = api(make_user())
    client.get("/me")  # stamps last-used
    with django_assert_max_num_queries(3):
        # token + terms + the memberships shown by /me
        assert client.get("/me").status_code == 200
