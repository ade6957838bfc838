"""A NUL character in any text a person can send is a clear refusal, never a server error.

PostgreSQL cannot store or even compare text that holds one, so these matter most there; the
suite runs on both databases.
"""

import pytest
from django.test import Client

from aifactory.accounts.models import ApiToken, Invitation, Organisation, User
from aifactory.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NUL = "a\x00b"


@pytest.fixture
def world(make_user, make_org, add_member):
    # An operator too, so the audit filters reach the database.
    owner = make_user("owner@example.org", staff_role="operator")
    organisation = make_org(owner=owner)
    return {
        "owner": owner,
        "org": organisation,
        "membership": add_member(organisation, make_user()),
    }


def counts():
    return (
        User.objects.count(),
        Organisation.objects.count(),
        Invitation.objects.count(),
        ApiToken.objects.count(),
    )


API_CALLS = [
    ("patch", "/me", {"first_name": NUL}),
    ("patch", "/me", {"preferred_language": "d\x00e"}),
    ("post", "/organisations", {"legal_name": NUL, "country": "LU", "kind": "sme"}),
    ("post", "/organisations", {"legal_name": "X", "country": "L\x00U", "kind": "sme"}),
    ("post", "/organisations", {"legal_name": "X", "country": "LU", "kind": "s\x00me"}),
    (
        "post",
        "/organisations",
        {"legal_name": "X", "country": "LU", "kind": "sme", "sectors": ["cr\x00afts"]},
    ),
    (
        "post",
        "/organisations",
        {"legal_name": "X", "country": "LU", "kind": "sme", "website": "https://a\x00.lu"},
    ),
    (
        "post",
        "/organisations",
        {"legal_name": "X", "country": "LU", "kind": "sme", "vat_number": "LU\x0026375245"},
    ),
    (
        "post",
        "/organisations",
        {"legal_name": "X", "country": "LU", "kind": "sme", "registration_number": "B\x001"},
    ),
    ("patch", "/organisations/{org}", {"city": NUL}),
    ("post", "/organisations/{org}/invitations", {"email": "a\x00b@example.org"}),
    ("post", "/organisations/{org}/invitations", {"email": "g@example.org", "role": NUL}),
    ("patch", "/organisations/{org}/members/{membership}", {"role": NUL}),
    ("post", "/invitations/accept", {"token": "inv_\x00"}),
    ("get", "/organisations?all=%00", None),
    ("get", "/audit?actor=%00", None),
]


@pytest.mark.parametrize(("method", "path", "body"), API_CALLS)
def test_api_refuses_nul(api, world, method, path, body):
    client = api(world["owner"])
    path = path.format(org=world["org"].pk, membership=world["membership"].pk)
    before = counts()
    response = getattr(client, method)(path, body) if body is not None else client.get(path)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert counts() == before


def test_a_bearer_token_with_nul_is_401(db):
    response = Client().get("/api/v1/me", headers={"Authorization": "Bearer afh_\x00"})
    assert response.status_code == 401


PAGE_POSTS = [
    ("/accounts/login/", {"email": "a\x00b@example.org", "password": PASSWORD}),
    ("/accounts/login/", {"email": "owner@example.org", "password": "x\x00y"}),
    (
        "/accounts/signup/",
        {
            "email": "n\x00@example.org",
            "first_name": NUL,
            "last_name": NUL,
            "password": PASSWORD,
            "password2": PASSWORD,
            "accept_terms": "on",
        },
    ),
    ("/accounts/verify/resend/", {"email": "a\x00b@example.org"}),
    ("/accounts/password-reset/", {"email": "a\x00b@example.org"}),
]


@pytest.mark.parametrize(("path", "data"), PAGE_POSTS)
def test_public_pages_refuse_nul(world, path, data):
    before = counts()
    response = Client().post(path, data)
    assert response.status_code < 500
    assert counts() == before


SIGNED_IN_POSTS = [
    ("/accounts/settings/", {"first_name": NUL, "last_name": "", "preferred_language": ""}),
    ("/accounts/settings/", {"first_name": "", "last_name": "", "preferred_language": NUL}),
    ("/accounts/tokens/new/", {"name": NUL, "expires_in_days": "30"}),
    ("/organisations/new/", {"legal_name": NUL, "country": "LU", "kind": "sme"}),
    ("/organisations/{org}/edit/", {"legal_name": "X", "country": "LU", "city": NUL}),
    ("/organisations/{org}/invitations/", {"email": "a\x00b@example.org", "role": "member"}),
    ("/organisations/{org}/members/{membership}/role/", {"role": NUL}),
    ("/accounts/terms/", {"next": "/\x00"}),
    ("/i18n/setlang/", {"language": NUL, "next": "/\x00"}),
]


@pytest.mark.parametrize(("path", "data"), SIGNED_IN_POSTS)
def test_portal_forms_refuse_nul(world, path, data):
    client = Client()
    client.force_login(world["owner"])
    path = path.format(org=world["org"].pk, membership=world["membership"].pk)
    before = counts()
    response = client.post(path, data)
    assert response.status_code < 500
    assert counts() == before


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/verify/%00/",
        "/invitations/%00/",
        "/accounts/password-reset/%00/%00/",
        "/audit/?actor=%00",
        "/organisations/?page=%00",
        "/accounts/login/?next=%00",
    ],
)
def test_links_with_nul_are_not_server_errors(world, path):
    client = Client()
    client.force_login(world["owner"])
    assert client.get(path).status_code < 500
