"""Sign-in with an OpenID Connect identity provider (Keycloak, MyAccessID...), off by default.

mozilla-django-oidc runs the authorization-code flow; this module decides who the person is (via
`services.user_login_oidc`), answers 404 while OIDC_ENABLED is off, and can take the provider's
endpoints from its discovery document instead of four separate settings.

The views read the settings on every request, so the /oidc/ routes are always in the URLconf and
simply refuse when the feature is off: no URLconf that depends on import-time settings.
"""

import logging
import time

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, resolve_url
from django.urls import path, reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from aifactory.core.errors import ServiceError

from . import services
from .views import set_language_cookie

logger = logging.getLogger(__name__)

# Setting name -> key in the provider's /.well-known/openid-configuration.
DISCOVERY_KEYS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
DISCOVERY_MAX_AGE = 3600
_discovered: dict[str, tuple[float, dict]] = {}


def provider_endpoint(name: str) -> str:
    """The endpoint from its setting, else from the discovery document (fetched once an hour).

    Fetched on first use, not at start-up, so the hub starts even while the provider is down.
    """
    value = getattr(settings, name, "")
    url = getattr(settings, "OIDC_OP_DISCOVERY_URL", "")
    if value or not url:
        return value
    fetched_at, document = _discovered.get(url, (None, {}))
    if fetched_at is None or time.monotonic() - fetched_at > DISCOVERY_MAX_AGE:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
        _discovered[url] = (time.monotonic(), document)
    if not document.get(DISCOVERY_KEYS[name]):
        raise ImproperlyConfigured(f"{url} has no {DISCOVERY_KEYS[name]}; set {name}")
    return document[DISCOVERY_KEYS[name]]


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME


def _unreachable_message() -> str:
    return _("%(provider)s cannot be reached at the moment; please try again later.") % {
        "provider": provider_name()
    }


def _email_verified(claims: dict) -> bool:
    if getattr(settings, "OIDC_ASSUME_EMAIL_VERIFIED", False):
        return True
    value = claims.get("email_verified")
    # Some providers send the flag as the string "true".
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _after_sign_in(user, claims: dict) -> None:
    """Call settings.OIDC_SIGN_IN_HOOKS (compute takes cluster usernames from a claim). A hook
    that fails is logged and rolled back; the sign-in itself goes on."""
    for name in getattr(settings, "OIDC_SIGN_IN_HOOKS", []):
        try:
            with transaction.atomic():
                import_string(name)(user=user, claims=claims)
        except Exception:
            logger.exception("OIDC sign-in hook %s failed", name)


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs in the account whose e-mail address the provider has verified."""

    def authenticate(self, request, **kwargs):
        if (
            not settings.OIDC_ENABLED
            or request is None
            or request.path != reverse("oidc_authentication_callback")
        ):
            return None
        try:
            self.OIDC_OP_TOKEN_ENDPOINT = provider_endpoint("OIDC_OP_TOKEN_ENDPOINT")
            self.OIDC_OP_USER_ENDPOINT = provider_endpoint("OIDC_OP_USER_ENDPOINT")
            self.OIDC_OP_JWKS_ENDPOINT = provider_endpoint("OIDC_OP_JWKS_ENDPOINT")
            return super().authenticate(request, **kwargs)
        except requests.RequestException as exc:
            logger.warning("OIDC sign-in failed talking to the provider: %s", exc)
            request.oidc_error = _unreachable_message()
            return None

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if str(claims.get("sub")) != str(payload.get("sub")):
            logger.warning("OIDC userinfo and ID token name different subjects")
            return None
        try:
            user = services.user_login_oidc(
                email=claims.get("email"),
                email_verified=_email_verified(claims),
                first_name=claims.get("given_name") or "",
                last_name=claims.get("family_name") or "",
                subject=str(payload.get("sub", "")),
                provider=provider_name(),
                create=settings.OIDC_CREATE_USER,
            )
        except ServiceError as exc:
            self.request.oidc_error = exc.message
            return None
        except ValidationError as exc:
            self.request.oidc_error = " ".join(exc.messages)
            return None
        _after_sign_in(user, {**payload, **claims})
        return user

    def get_user(self, user_id):
        # mozilla-django-oidc's version would keep a deactivated person signed in.
        return ModelBackend.get_user(self, user_id)


class _OnlyWhenEnabled:
    def dispatch(self, request, *args, **kwargs):
        if not settings.OIDC_ENABLED:
            raise Http404("OpenID Connect sign-in is not enabled")
        return super().dispatch(request, *args, **kwargs)


class AuthenticateView(_OnlyWhenEnabled, OIDCAuthenticationRequestView):
    """Sends the person to the provider's sign-in page."""

    def get(self, request):
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_endpoint("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except requests.RequestException as exc:
            logger.warning("OIDC discovery failed: %s", exc)
            messages.error(request, _unreachable_message())
            return redirect(settings.LOGIN_URL)
        return super().get(request)


class CallbackView(_OnlyWhenEnabled, OIDCAuthenticationCallbackView):
    """Where the provider sends the person back; failures land on our sign-in page, explained."""

    @property
    def failure_url(self):
        return resolve_url(settings.LOGIN_URL)

    def get(self, request):
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            # A bad signature, nonce or state: refuse, but with a page the person can act on.
            logger.warning("OIDC callback refused: %s", exc)
            return self.login_failure()

    def login_success(self):
        # Like the password sign-in: the person's preferred language from now on.
        return set_language_cookie(super().login_success(), self.user.preferred_language)

    def login_failure(self):
        message = getattr(self.request, "oidc_error", "") or _(
            "Signing in with %(provider)s did not work. Please try again."
        ) % {"provider": provider_name()}
        messages.error(self.request, message)
        return super().login_failure()


urlpatterns = [
    path("authenticate/", AuthenticateView.as_view(), name="oidc_authentication_init"),
    path("callback/", CallbackView.as_view(), name="oidc_authentication_callback"),
]
