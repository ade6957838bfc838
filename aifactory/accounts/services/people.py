"""People: sign-up, verification, profile, staff roles, passwords, terms, sign-in."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from aifactory.core.errors import InvalidTransition, NotAllowed, ServiceError
from aifactory.core.mail import mail_send
from aifactory.core.models import AuditEvent
from aifactory.core.permissions import require, require_actor
from aifactory.core.roles import StaffRole
from aifactory.core.services import audit_record, diff_fields

from ..models import (
    LoginFailure,
    TermsAcceptance,
    User,
)
from ._common import _check_length, _clean_email

VERIFY_SALT = "aifactory.accounts.verify-email"

# --- people -----------------------------------------------------------------------------------


def user_create(
    *,
    email: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    staff_role: str = "",
    email_verified: bool = False,
    actor=None,
    is_demo: bool = False,
) -> User:
    """Create an account.

    ``actor=None`` means the person themselves (sign-up, identity provider) or, with a staff role,
    the system: the command line and the demo data, which run with server access. Web views never
    pass a staff role; anyone else who gives one must be allowed "staff.assign_role".
    Only administrators get Django's ``is_staff``, so only they reach /admin/.
    """
    email = _clean_email(email)
    _check_length("first_name", first_name, 150)
    _check_length("last_name", last_name, 150)
    if staff_role not in StaffRole.values:
        raise ValidationError({"role": _("Unknown staff role “%(role)s”.") % {"role": staff_role}})
    if staff_role and actor is not None:
        require(actor, "staff.assign_role")
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("An account with this e-mail address exists already.")})
    user = User(
        email=email,
        username=email,
        first_name=first_name,
        last_name=last_name,
        staff_role=staff_role,
        email_verified=email_verified,
        is_staff=staff_role == StaffRole.ADMINISTRATOR,
        is_superuser=staff_role == StaffRole.ADMINISTRATOR,
        is_demo=is_demo,
    )
    if password is not None:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    with transaction.atomic():
        user.save()
        audit_record(
            # A staff account made by the system is recorded as such, not as self-made.
            actor=actor if (actor is not None or staff_role) else user,
            action="user.create",
            obj=user,
            changes={"email": email, "staff_role": staff_role},
        )
    return user


def user_sign_up(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    accept_terms: bool = False,
) -> User:
    """Self-service sign-up: the account works only after the e-mail address is verified."""
    if not accept_terms:
        raise ValidationError({"accept_terms": _("Please accept the terms of use.")})
    with transaction.atomic():
        user = user_create(
            email=email, password=password, first_name=first_name, last_name=last_name
        )
        terms_accept(user=user)
    verification_send(user=user)
    return user


def verification_token(user: User) -> str:
    return signing.dumps({"u": str(user.pk), "e": user.email}, salt=VERIFY_SALT)


RESEND_INTERVAL = timedelta(seconds=60)


def verification_send(*, user: User) -> bool:
    link = f"{settings.SITE_URL}/accounts/verify/{verification_token(user)}/"
    language = user.preferred_language or translation.get_language() or "en"
    with translation.override(language):
        body = render_to_string("accounts/email/verify.txt", {"user": user, "link": link})
        subject = _("Confirm your e-mail address")
    sent = mail_send(subject=subject, body=body, to=[user.email])
    if sent:
        user.verification_sent_at = timezone.now()
        User.objects.filter(pk=user.pk).update(verification_sent_at=user.verification_sent_at)
    return sent


def verification_resend(*, email: str) -> None:
    """Send a new link if an unverified account has this address; otherwise do nothing, silently,
    so the answer never tells whether an address is registered."""
    user = User.objects.filter(
        email__iexact=(email or "").strip(), email_verified=False, is_active=True
    ).first()
    recently = (
        user is not None
        and user.verification_sent_at is not None
        and (timezone.now() - user.verification_sent_at < RESEND_INTERVAL)
    )
    # At most one message a minute, so the form cannot be used to flood someone's mailbox.
    if user is not None and not recently:
        verification_send(user=user)


def password_reset_send(*, email: str) -> None:
    """Mail a link to choose a new password, in the person's language, if an active account with
    a password has this address. Otherwise do nothing, silently, so the answer never tells
    whether an address is registered; and at most one message a minute, as for verification."""
    user = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    if AuditEvent.objects.filter(
        object_id=str(user.pk),
        action="user.password_reset_mail",
        created_at__gte=timezone.now() - RESEND_INTERVAL,
    ).exists():
        return
    context = {
        "user": user,
        "uid": urlsafe_base64_encode(force_bytes(User._meta.pk.value_to_string(user))),
        "token": default_token_generator.make_token(user),
        "site_url": settings.SITE_URL,
    }
    language = user.preferred_language or translation.get_language() or "en"
    with translation.override(language):
        subject = render_to_string("accounts/email/password_reset_subject.txt", context)
        body = render_to_string("accounts/email/password_reset.txt", context)
    if mail_send(subject=" ".join(subject.split()), body=body, to=[user.email]):
        audit_record(actor=None, action="user.password_reset_mail", obj=user)


def user_verify_email(*, token: str) -> User:
    try:
        data = signing.loads(
            token,
            salt=VERIFY_SALT,
            max_age=timedelta(days=settings.EMAIL_VERIFICATION_MAX_AGE_DAYS),
        )
    except signing.SignatureExpired:
        raise ValidationError({"token": _("This link has expired; ask for a new one.")}) from None
    except signing.BadSignature:
        raise ValidationError({"token": _("This link is not valid.")}) from None
    user = User.objects.filter(pk=data.get("u"), email=data.get("e")).first()
    if user is None:
        raise ValidationError({"token": _("This link is not valid.")})
    if not user.email_verified:
        with transaction.atomic():
            user.email_verified = True
            user.save(update_fields=["email_verified"])
            audit_record(
                actor=user,
                action="user.verify_email",
                obj=user,
                changes={"email_verified": [False, True]},
            )
    return user


def _refuse_losing_last_administrator(user: User) -> None:
    """Someone must be left who can give staff roles and reach the admin site."""
    others = (
        User.objects.select_for_update()
        .filter(is_active=True)
        .filter(Q(staff_role=StaffRole.ADMINISTRATOR) | Q(is_superuser=True))
        .exclude(pk=user.pk)
    )
    if not list(others.values_list("pk", flat=True)):
        raise InvalidTransition(
            _("%(email)s is the last administrator; make someone else administrator first.")
            % {"email": user.email},
            field="user",
        )


def _lock_and_refresh(user: User) -> None:
    """Lock the row and read its current state into the caller's object."""
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    user.refresh_from_db()


def _is_administrator(user: User) -> bool:
    return user.is_active and (user.staff_role == StaffRole.ADMINISTRATOR or user.is_superuser)


def user_set_staff_role(*, actor, user: User, staff_role: str) -> User:
    """Give or take a staff role. ``actor=None`` is the system (the `aifactory users set-role`
    command); any other actor must be allowed "staff.assign_role"."""
    require_actor(actor, "staff.assign_role")
    if staff_role not in StaffRole.values:
        raise ValidationError({"role": _("Unknown staff role “%(role)s”.") % {"role": staff_role}})
    with transaction.atomic():
        _lock_and_refresh(user)
        if _is_administrator(user) and staff_role != StaffRole.ADMINISTRATOR:
            _refuse_losing_last_administrator(user)
        changes = diff_fields(
            user,
            {
                "staff_role": staff_role,
                # Only administrators reach Django's admin site.
                "is_staff": staff_role == StaffRole.ADMINISTRATOR,
                "is_superuser": staff_role == StaffRole.ADMINISTRATOR,
            },
        )
        if changes:
            user.save(update_fields=list(changes))
            audit_record(actor=actor, action="user.set_staff_role", obj=user, changes=changes)
    return user


def user_deactivate(*, actor, user: User) -> User:
    """Stop someone from signing in; their sessions and API tokens stop working at once (both
    check ``is_active``). Nothing is deleted, so it can be undone. ``actor=None`` is the system
    (the `aifactory users deactivate` command); any other actor must be allowed "user.deactivate"."""
    require_actor(actor, "user.deactivate")
    if actor is not None and actor.pk == user.pk:
        raise NotAllowed(_("You cannot deactivate your own account."))
    with transaction.atomic():
        _lock_and_refresh(user)
        if not user.is_active:
            raise InvalidTransition(
                _("%(email)s is deactivated already.") % {"email": user.email}, field="user"
            )
        if _is_administrator(user):
            _refuse_losing_last_administrator(user)
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor, action="user.deactivate", obj=user, changes={"is_active": [True, False]}
        )
    return user


def user_reactivate(*, actor, user: User) -> User:
    """Let a deactivated person sign in again. ``actor=None`` is the system (the `aifactory users
    reactivate` command); any other actor must be allowed "user.deactivate"."""
    require_actor(actor, "user.deactivate")
    with transaction.atomic():
        _lock_and_refresh(user)
        if user.is_active:
            raise InvalidTransition(
                _("%(email)s is active already.") % {"email": user.email}, field="user"
            )
        user.is_active = True
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor, action="user.reactivate", obj=user, changes={"is_active": [False, True]}
        )
    return user


def user_update_profile(
    *, user: User, first_name: str, last_name: str, preferred_language: str
) -> User:
    _check_length("first_name", first_name, 150)
    _check_length("last_name", last_name, 150)
    codes = [code for code, _name in settings.LANGUAGES]
    if preferred_language and preferred_language not in codes:
        raise ValidationError(
            {"preferred_language": _("Choose one of: %(codes)s.") % {"codes": ", ".join(codes)}}
        )
    with transaction.atomic():
        changes = diff_fields(
            user,
            {
                "first_name": first_name,
                "last_name": last_name,
                "preferred_language": preferred_language,
            },
        )
        if changes:
            user.save()
            audit_record(actor=user, action="user.update", obj=user, changes=changes)
    return user


def user_set_password(*, user: User, password: str) -> User:
    """Set a new password (after a reset by e-mail); it also ends a sign-in lock-out."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=user, action="user.set_password", obj=user)
        login_failures_clear(email=user.email)
    return user


def terms_accept(*, user: User, version: str | None = None) -> TermsAcceptance:
    version = version or settings.TERMS_VERSION
    with transaction.atomic():
        acceptance, created = TermsAcceptance.objects.get_or_create(user=user, version=version)
        if created:
            audit_record(actor=user, action="terms.accept", obj=user, changes={"version": version})
    return acceptance


def terms_accepted(user: User) -> bool:
    return TermsAcceptance.objects.filter(user=user, version=settings.TERMS_VERSION).exists()


# --- sign-in with an identity provider (OpenID Connect) ------------------------------------------


def user_login_oidc(
    *,
    email: str | None,
    email_verified: bool,
    first_name: str = "",
    last_name: str = "",
    subject: str = "",
    provider: str = "",
    create: bool = True,
) -> User:
    """The account for a person the identity provider vouches for, created if allowed.

    Only an address the provider has verified may reach an account here: otherwise anyone who can
    register that address at the provider would take over the account.
    """
    names = {"provider": provider or _("the identity provider"), "email": email or ""}
    if not email:
        raise ServiceError(
            _("%(provider)s did not share your e-mail address; allow it and try again.") % names,
            field="email",
        )
    if not email_verified:
        raise ServiceError(
            _(
                "%(provider)s has not confirmed that %(email)s is your address, so it cannot "
                "sign you in here. Confirm the address there, or sign in with your password."
            )
            % names,
            field="email",
        )
    email = _clean_email(email)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email__iexact=email).first()
        changes: dict[str, Any] = {"provider": provider, "subject": subject, "created": False}
        if user is None:
            if not create:
                raise ServiceError(
                    _("No account uses %(email)s. Sign up first, or ask to be invited.") % names,
                    field="email",
                )
            user = user_create(
                email=email,
                password=None,
                first_name=(first_name or "")[:150],
                last_name=(last_name or "")[:150],
                email_verified=True,
            )
            changes["created"] = True
        elif not user.is_active:
            raise ServiceError(_("The account for %(email)s is disabled.") % names, field="email")
        elif not user.email_verified:
            # Whoever signed up with this address never proved it; the provider's user has. Drop
            # the unproven password so the one who signed up cannot use the account afterwards.
            user.email_verified = True
            user.set_unusable_password()
            user.save(update_fields=["email_verified", "password"])
            changes["email_verified"] = [False, True]
            changes["password"] = "removed"
        audit_record(actor=user, action="user.login_oidc", obj=user, changes=changes)
    return user


# --- sign-in rate limit ------------------------------------------------------------------------


def login_is_locked(*, email: str, ip_address: str) -> bool:
    recent = LoginFailure.recent(settings.LOGIN_LOCKOUT_SECONDS)
    by_email = recent.filter(email=(email or "").lower()).count()
    by_ip = recent.filter(ip_address=ip_address).count() if ip_address else 0
    # A client address is allowed more tries, as several people may share one.
    return by_email >= settings.LOGIN_MAX_FAILURES or by_ip >= settings.LOGIN_MAX_FAILURES * 4


def login_failure_record(*, email: str, ip_address: str) -> None:
    """Count a failed sign-in, and drop those too old to count (by the indexed time), so the
    table stays as small as the lock-out window."""
    now = timezone.now()
    LoginFailure.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    ).delete()
    LoginFailure.objects.create(
        email=(email or "").lower()[:254], ip_address=ip_address or "", created_at=now
    )


def login_failures_clear(*, email: str) -> None:
    LoginFailure.objects.filter(email=(email or "").lower()).delete()


class SignInOutcome(models.TextChoices):
    OK = "ok"
    LOCKED = "locked"
    WRONG = "wrong"
    UNVERIFIED = "unverified"


def user_sign_in(
    *, email: str, password: str, ip_address: str, request=None
) -> tuple[str, User | None]:
    """Check a password sign-in against the lock-out, the password and the verified address.

    Returns the outcome and, unless locked or wrong, the person; the caller starts the session.
    A locked-out address is refused even with the right password.
    """
    if login_is_locked(email=email, ip_address=ip_address):
        return SignInOutcome.LOCKED, None
    user = authenticate(request, email=email, password=password)
    if user is None:
        login_failure_record(email=email, ip_address=ip_address)
        return SignInOutcome.WRONG, None
    if not user.email_verified:
        return SignInOutcome.UNVERIFIED, user
    login_failures_clear(email=email)
    return SignInOutcome.OK, user
