"""Sign-in with an OpenID Connect provider, against a real provider started for the tests.

The provider is django-oauth-toolkit in a separate Django project (tests/oidc_provider/), run as a
subprocess with its own database and a fresh RS256 key. The hub runs in pytest-django's live
server; httpx plays the browser through the whole authorization-code flow: our /oidc/authenticate/
→ the provider's sign-in form → back to our /oidc/callback/ → a session on the hub.

The /oidc/ routes are always in the URLconf and refuse (404) while OIDC_ENABLED is off, so the
tests switch the feature on with the `settings` fixture; nothing needs reloading or restoring.
"""

import contextlib
import json
import os
import re
import secrets
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from aifactory.accounts import services
from aifactory.accounts.models import User
from aifactory.core.models import AuditEvent

ROOT = Path(__file__).resolve().parents[3]
PROVIDER_PASSWORD = "provider-Pass-2026"
CLIENT_ID = "aifactory-hub"
CLIENT_SECRET = secrets.token_urlsafe(24)
START_TIMEOUT = 30

# The people the provider knows, and the claims it releases about them.
PEOPLE = {
    "anna": {
        "email": "Anna.Schmit@Example.LU",
        "email_verified": True,
        "given_name": "Anna",
        "family_name": "Schmit",
    },
    "ben": {
        "email": "ben.weber@example.lu",
        "email_verified": True,
        "given_name": "Ben",
        "family_name": "Weber",
    },
    "carla": {"email": "carla@example.lu", "email_verified": False, "given_name": "Carla"},
    "dora": {"email": "dora@example.lu", "given_name": "Dora"},  # no email_verified at all
    "emil": {"email": "emil@example.lu", "email_verified": True},
    "fritz": {"email": "fritz@example.lu", "email_verified": True},
}


@dataclass
class Provider:
    url: str

    def endpoints(self) -> dict[str, str]:
        return {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/o/authorize/",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/o/token/",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/o/userinfo/",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/o/.well-known/jwks.json",
        }


def _start_failure(process: subprocess.Popen, log: Path, why: str) -> str:
    if process.poll() is None:
        process.kill()
        process.wait(5)
    return (
        f"The test OIDC provider did not start: {why}.\n"
        f"Command: {' '.join(process.args)}\nExit code: {process.returncode}\n"
        f"Its stderr ({log}):\n{log.read_text()[-4000:]}"
    )


@contextlib.contextmanager
def running_provider(live_server, data: Path):
    """The provider as a subprocess serving the people in ``data``/people.json; yields its URL."""
    env = {
        **os.environ,
        "OP_DATA_DIR": str(data),
        "OP_CLIENT_ID": CLIENT_ID,
        "OP_CLIENT_SECRET": CLIENT_SECRET,
        "OP_REDIRECT_URI": f"{live_server.url}/oidc/callback/",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = data / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "aifactory.accounts.tests.oidc_provider.serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        yield _wait_until_ready(process, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="session")
def provider(live_server, tmp_path_factory):
    """The django-oauth-toolkit provider, as a subprocess, for the whole test session."""
    data = tmp_path_factory.mktemp("oidc-provider")
    people = {
        name: {"password": PROVIDER_PASSWORD, "claims": claims} for name, claims in PEOPLE.items()
    }
    (data / "people.json").write_text(json.dumps(people))
    with running_provider(live_server, data) as url:
        yield Provider(url)


def _wait_until_ready(process: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    port = None
    while port is None:
        if process.poll() is not None:
            pytest.fail(_start_failure(process, log, "it exited"), pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(_start_failure(process, log, "no port after 30 s"), pytrace=False)
        readable, _, _ = select.select([process.stdout], [], [], 0.2)
        if readable:
            line = process.stdout.readline()
            if line.startswith("listening on "):
                port = int(line.split()[-1])
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            response = httpx.get(f"{url}/o/.well-known/openid-configuration", trust_env=False)
            if response.status_code == 200:
                return url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(_start_failure(process, log, "discovery never answered"), pytrace=False)
        time.sleep(0.1)


@pytest.fixture
def oidc(settings, live_server, provider):
    """Switch sign-in with the provider on for one test; `settings` puts everything back."""
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    settings.OIDC_CREATE_USER = True
    settings.OIDC_ASSUME_EMAIL_VERIFIED = False
    settings.OIDC_OP_DISCOVERY_URL = ""
    for name, value in provider.endpoints().items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "aifactory.accounts.oidc.OIDCBackend",
    ]
    return settings


@pytest.fixture
def browser():
    """A cookie-keeping HTTP client; closed after the test so the live server lets go of the DB."""
    with httpx.Client(trust_env=False, timeout=20) as client:
        yield client


def sign_in(browser, live_server, provider, username: str) -> str:
    """Go through the provider's sign-in as `username`; return the path the hub finally sends to."""
    response = browser.get(f"{live_server.url}/oidc/authenticate/")
    assert response.status_code == 302, response.text
    authorize = response.headers["location"]
    assert authorize.startswith(f"{provider.url}/o/authorize/"), authorize
    asked = parse_qs(urlsplit(authorize).query)
    assert asked["client_id"] == [CLIENT_ID]
    assert set(asked["scope"][0].split()) >= {"openid", "email"}
    assert asked["code_challenge_method"] == ["S256"] and asked["nonce"] and asked["state"]

    response = browser.get(authorize)
    assert response.status_code == 302, response.text
    login_page = urljoin(authorize, response.headers["location"])
    assert urlsplit(login_page).path == "/login/"
    response = browser.get(login_page)
    assert response.status_code == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
    response = browser.post(
        login_page,
        data={
            "csrfmiddlewaretoken": csrf,
            "username": username,
            "password": PROVIDER_PASSWORD,
            "next": parse_qs(urlsplit(login_page).query)["next"][0],
        },
    )
    assert response.status_code == 302, f"provider refused {username}: {response.text[:500]}"

    response = browser.get(urljoin(login_page, response.headers["location"]))
    assert response.status_code == 302, response.text
    callback = response.headers["location"]
    assert callback.startswith(f"{live_server.url}/oidc/callback/?"), callback
    assert "code=" in callback

    response = browser.get(callback)
    assert response.status_code == 302, response.text[:2000]
    return urlsplit(urljoin(callback, response.headers["location"])).path


def me(browser: httpx.Client, live_server) -> httpx.Response:
    return browser.get(f"{live_server.url}/api/v1/me")


def login_events(user) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="user.login_oidc", object_id=str(user.pk)))


# --- off by default ------------------------------------------------------------------------------


def _settings_in_fresh_process(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_")}
    code = (
        "from aifactory import settings as s;"
        "print(s.OIDC_ENABLED, 'aifactory.accounts.oidc.OIDCBackend' in s.AUTHENTICATION_BACKENDS)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "AIFACTORY_ENV": "test", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_oidc_is_off_unless_enabled_and_then_needs_its_settings():
    assert _settings_in_fresh_process().stdout.split() == ["False", "False"]

    incomplete = _settings_in_fresh_process(OIDC_ENABLED="true", OIDC_RP_CLIENT_ID="hub")
    assert incomplete.returncode != 0
    assert "OIDC_RP_CLIENT_SECRET" in incomplete.stderr
    assert "OIDC_OP_TOKEN_ENDPOINT" in incomplete.stderr

    discovered = _settings_in_fresh_process(
        OIDC_ENABLED="true",
        OIDC_RP_CLIENT_ID="hub",
        OIDC_RP_CLIENT_SECRET="secret",
        OIDC_OP_DISCOVERY_URL="https://idp.example.lu/realms/hub/.well-known/openid-configuration",
    )
    assert discovered.returncode == 0, discovered.stderr
    assert discovered.stdout.split() == ["True", "True"]


def test_disabled_oidc_answers_404_and_offers_no_button(db, settings):
    settings.OIDC_ENABLED = False
    client = Client()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert "/oidc/authenticate/" not in page.content.decode()


def test_enabled_oidc_offers_the_button_on_the_login_page(db, settings):
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "MyAccessID"
    page = Client().get("/accounts/login/?next=/organisations/").content.decode()
    assert "Sign in with MyAccessID" in page
    assert 'href="/oidc/authenticate/?next=/organisations/"' in page


# --- the flow against the real provider ----------------------------------------------------------


def test_verified_email_signs_into_the_existing_account(
    oidc, browser, live_server, provider, make_user
):
    anna = make_user("anna.schmit@example.lu")
    services.user_update_profile(
        user=anna, first_name="Anna", last_name="Schmit", preferred_language="de"
    )
    accounts = User.objects.count()

    landed = sign_in(browser, live_server, provider, "anna")

    assert landed == "/dashboard/"
    response = me(browser, live_server)
    assert response.status_code == 200
    assert response.json()["id"] == str(anna.pk)
    assert User.objects.count() == accounts
    [event] = login_events(anna)
    assert event.changes["created"] is False
    assert event.changes["provider"] == "Test IdP"
    assert browser.cookies.get("django_language") == "de"
    assert browser.get(f"{live_server.url}/dashboard/").status_code == 200


def test_new_verified_email_creates_an_account(oidc, browser, live_server, provider):
    landed = sign_in(browser, live_server, provider, "ben")

    assert landed == "/dashboard/"
    ben = User.objects.get(email="ben.weber@example.lu")
    assert (ben.first_name, ben.last_name) == ("Ben", "Weber")
    assert ben.email_verified is True
    assert not ben.has_usable_password()
    assert AuditEvent.objects.filter(action="user.create", object_id=str(ben.pk)).exists()
    assert login_events(ben)[0].changes["created"] is True
    # A new account has not accepted the terms of use yet: the pages send there, the API says so.
    response = browser.get(f"{live_server.url}/dashboard/")
    assert response.status_code == 302
    assert response.headers["location"].startswith("/accounts/terms/")
    response = me(browser, live_server)
    assert response.status_code == 403
    assert "terms of use" in response.json()["detail"]


@pytest.mark.parametrize(
    ("username", "local_account"),
    [("carla", True), ("carla", False), ("dora", False)],
    ids=["false-with-account", "false-without-account", "missing-claim"],
)
def test_unverified_email_signs_nobody_in(
    oidc, browser, live_server, provider, make_user, username, local_account
):
    email = PEOPLE[username]["email"]
    if local_account:
        make_user(email)
    accounts = User.objects.count()

    landed = sign_in(browser, live_server, provider, username)

    assert landed == "/accounts/login/"
    assert me(browser, live_server).status_code == 401
    assert User.objects.count() == accounts
    assert not AuditEvent.objects.filter(action="user.login_oidc").exists()
    page = browser.get(f"{live_server.url}/accounts/login/").text
    assert "has not confirmed that" in page and email in page


def test_provider_that_verifies_every_address_can_be_trusted_explicitly(
    oidc, browser, live_server, provider
):
    oidc.OIDC_ASSUME_EMAIL_VERIFIED = True
    landed = sign_in(browser, live_server, provider, "dora")
    assert landed == "/dashboard/"
    assert User.objects.get(email="dora@example.lu").email_verified
    assert me(browser, live_server).status_code == 403  # signed in; the terms come next


def test_inactive_account_is_never_matched(oidc, browser, live_server, provider, make_user):
    emil = make_user("emil@example.lu")
    User.objects.filter(pk=emil.pk).update(is_active=False)

    landed = sign_in(browser, live_server, provider, "emil")

    assert landed == "/accounts/login/"
    assert me(browser, live_server).status_code == 401
    assert User.objects.filter(email__iexact="emil@example.lu").count() == 1
    assert "is disabled" in browser.get(f"{live_server.url}/accounts/login/").text


def test_no_new_account_when_creation_is_off(oidc, browser, live_server, provider):
    oidc.OIDC_CREATE_USER = False
    landed = sign_in(browser, live_server, provider, "ben")
    assert landed == "/accounts/login/"
    assert not User.objects.filter(email="ben.weber@example.lu").exists()
    assert (
        "No account uses ben.weber@example.lu"
        in browser.get(f"{live_server.url}/accounts/login/").text
    )


def test_unproven_sign_up_is_claimed_by_the_verified_owner(oidc, browser, live_server, provider):
    """Someone signed up with the address but never confirmed it; its password must not survive."""
    squatter_password = "Squatter-pass-2026"
    fritz = services.user_sign_up(
        email="fritz@example.lu", password=squatter_password, accept_terms=True
    )

    landed = sign_in(browser, live_server, provider, "fritz")

    assert landed == "/dashboard/"
    assert me(browser, live_server).json()["id"] == str(fritz.pk)
    fritz.refresh_from_db()
    assert fritz.email_verified
    assert not fritz.check_password(squatter_password)
    assert login_events(fritz)[0].changes["password"] == "removed"


def test_endpoints_from_the_discovery_document(oidc, browser, live_server, provider, make_user):
    anna = make_user("anna.schmit@example.lu")
    for name in provider.endpoints():
        setattr(oidc, name, "")
    oidc.OIDC_OP_DISCOVERY_URL = f"{provider.url}/o/.well-known/openid-configuration"

    landed = sign_in(browser, live_server, provider, "anna")

    assert landed == "/dashboard/"
    assert me(browser, live_server).json()["id"] == str(anna.pk)


def test_id_token_not_signed_by_the_provider_is_refused(
    oidc, browser, live_server, provider, make_user
):
    make_user("anna.schmit@example.lu")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Check the signature against a key that is not the provider's instead of its JWKS.
    oidc.OIDC_RP_IDP_SIGN_KEY = stranger.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    landed = sign_in(browser, live_server, provider, "anna")

    assert landed == "/accounts/login/"
    assert me(browser, live_server).status_code == 401
    assert not AuditEvent.objects.filter(action="user.login_oidc").exists()
    assert "did not work" in browser.get(f"{live_server.url}/accounts/login/").text


def test_unreachable_provider_and_cancelled_sign_in_are_explained(db, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = ""
    settings.OIDC_OP_DISCOVERY_URL = (
        f"http://127.0.0.1:{closed_port}/.well-known/openid-configuration"
    )
    settings.OIDC_TIMEOUT = 2
    client = Client()

    response = client.get("/oidc/authenticate/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "Test IdP cannot be reached" in response.content.decode()

    response = client.get("/oidc/callback/?error=access_denied&state=x", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "Signing in with Test IdP did not work" in response.content.decode()
