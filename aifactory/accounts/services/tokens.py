"""API tokens."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.core.errors import InvalidTransition, NotFound
from aifactory.core.permissions import allowed
from aifactory.core.services import audit_record

from ..models import (
    ApiToken,
    TermsAcceptance,
    User,
    hash_secret,
)
from ._common import _check_length

# --- API tokens --------------------------------------------------------------------------------

MAX_TOKEN_DAYS = 366


def token_create(
    *, user: User, name: str, expires_in_days: int = 90, actor=None
) -> tuple[ApiToken, str]:
    """Create a personal token; the secret is returned once and only its hash is kept."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name, e.g. “laptop”.")})
    _check_length("name", name, 100)
    if expires_in_days is None or not (1 <= int(expires_in_days) <= MAX_TOKEN_DAYS):
        raise ValidationError(
            {"expires_in_days": _("Between 1 and %(max)d days.") % {"max": MAX_TOKEN_DAYS}}
        )
    secret = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=secret[: len(ApiToken.PREFIX) + 6],
            token_hash=hash_secret(secret),
            expires_at=timezone.now() + timedelta(days=int(expires_in_days)),
        )
        audit_record(
            actor=actor or user,
            action="token.create",
            obj=token,
            changes={"name": name, "expires_at": token.expires_at},
        )
    return token, secret


def token_revoke(*, user: User, token: ApiToken) -> ApiToken:
    if not allowed(user, "token.manage", token):
        raise NotFound(_("No such token."))  # someone else's token is not even there
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise InvalidTransition(_("This token was revoked already."))
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=user,
            action="token.revoke",
            obj=token,
            changes={"revoked_at": [None, token.revoked_at]},
        )
    return token


def token_authenticate(secret: str) -> User | None:
    """The active user behind a bearer token, or None. Touches last-used at most once a minute."""
    if not secret or not secret.startswith(ApiToken.PREFIX):
        return None
    current_terms = TermsAcceptance.objects.filter(
        user=OuterRef("user"), version=settings.TERMS_VERSION
    )
    token = (
        ApiToken.objects.select_related("user")
        .annotate(terms_ok=Exists(current_terms))
        .filter(token_hash=hash_secret(secret))
        .first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    # Read with the token in one query, so the API's terms check costs no second round trip.
    token.user.current_terms_accepted = token.terms_ok
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=60):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
