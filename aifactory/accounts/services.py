"""Every change of state for people, organisations, memberships, invitations and tokens."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from aifactory.core.errors import InvalidTransition, NotAllowed, NotFound, ServiceError
from aifactory.core.mail import mail_send
from aifactory.core.models import AuditEvent
from aifactory.core.permissions import allowed, forget_roles, require
from aifactory.core.roles import OrgRole, StaffRole
from aifactory.core.services import audit_record, diff_fields
from aifactory.core.taxonomy import OrganisationKind, sme_size_class

from .models import (
    ApiToken,
    Invitation,
    InvitationStatus,
    LoginFailure,
    Membership,
    Organisation,
    TermsAcceptance,
    User,
    hash_secret,
)
from .validators import clean_registration_number, clean_sectors, clean_vat_number

VERIFY_SALT = "aifactory.accounts.verify-email"


# --- people -----------------------------------------------------------------------------------


def _clean_email(email: str, field: str = "email") -> str:
    email = (email or "").strip()
    if len(email) > 254:
        raise ValidationError({field: _("An e-mail address has at most 254 characters.")})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({field: _("Enter a valid e-mail address.")}) from None
    return email.lower()


NUL_MESSAGE = _lazy("Remove the invisible NUL character from this text.")


def _check_length(field: str, value: str, limit: int) -> None:
    """The length limit, and no NUL character: PostgreSQL cannot store one."""
    if value is not None and "\x00" in value:
        raise ValidationError({field: NUL_MESSAGE})
    if value is not None and len(value) > limit:
        raise ValidationError(
            {
                field: _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)}
            }
        )


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


def _check_system_or(actor, action: str) -> None:
    """``actor=None`` is the system: the command line, run with server access. Web views and the
    API always pass the signed-in person, so they never get past this check without the rule."""
    if actor is not None:
        require(actor, action)


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
    _check_system_or(actor, "staff.assign_role")
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
    _check_system_or(actor, "user.deactivate")
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
    _check_system_or(actor, "user.deactivate")
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


# --- organisations -----------------------------------------------------------------------------

ORGANISATION_FIELDS = {
    "legal_name": 200,
    "registration_number": 40,
    "vat_number": 30,
    "website": 300,
    "street": 200,
    "postcode": 20,
    "city": 100,
}


# Beyond these a figure is a typo; the headcount column also holds no more than 2**31 - 1.
NUMBER_LIMITS = {
    "staff_headcount": 10_000_000,
    "annual_turnover_eur": 10**13,
    "balance_sheet_eur": 10**13,
}


def _clean_organisation(
    data: dict[str, Any], instance: Organisation | None = None
) -> dict[str, Any]:
    """Validate every field at once, so the person sees all mistakes together."""
    from django.core.validators import URLValidator
    from django_countries import countries

    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    merged = (
        {f.name: getattr(instance, f.name) for f in Organisation._meta.concrete_fields}
        if instance
        else {}
    )
    merged = {k: (str(v) if k == "country" and v else v) for k, v in merged.items()}
    merged.update({k: v for k, v in data.items()})

    def add(field, message):
        errors.setdefault(field, []).append(str(message))

    for field, limit in ORGANISATION_FIELDS.items():
        value = merged.get(field) or ""
        if not isinstance(value, str):
            add(field, _("Expected text."))
            continue
        value = value.strip()
        if "\x00" in value:
            add(field, NUL_MESSAGE)
        if len(value) > limit:
            add(
                field,
                _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)},
            )
        cleaned[field] = value
    if not cleaned.get("legal_name"):
        add("legal_name", _("The legal name is required."))

    country = (
        (merged.get("country") or "").strip().upper()
        if isinstance(merged.get("country"), str)
        else ""
    )
    if not country:
        add("country", _("The country is required (ISO 3166 code, e.g. LU)."))
    elif country not in dict(countries):
        add(
            "country",
            _("“%(value)s” is not an ISO 3166 country code.") % {"value": merged.get("country")},
        )
    cleaned["country"] = country

    kind = merged.get("kind")
    if kind not in OrganisationKind.values:
        add("kind", _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(OrganisationKind.values)})
    cleaned["kind"] = kind

    try:
        cleaned["sectors"] = clean_sectors(merged.get("sectors"))
    except ValidationError as exc:
        for m in exc.message_dict["sectors"]:
            add("sectors", m)

    for field, largest in NUMBER_LIMITS.items():
        value = merged.get(field)
        if value in ("", None):
            cleaned[field] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            add(field, _("Enter a whole number."))
            continue
        if number < 0 or number > largest:
            add(
                field,
                _("Enter a number between 0 and %(largest)s.") % {"largest": f"{largest:,}"},
            )
            continue
        cleaned[field] = number

    if cleaned.get("website"):
        try:
            URLValidator(schemes=["http", "https"])(cleaned["website"])
        except ValidationError:
            add("website", _("Enter a full web address starting with https://."))
    if "country" not in errors:
        for field, clean in (
            ("vat_number", clean_vat_number),
            ("registration_number", clean_registration_number),
        ):
            try:
                cleaned[field] = clean(cleaned.get(field, ""), country)
            except ValidationError as exc:
                for m in exc.message_dict[field]:
                    add(field, m)

    if not errors:
        others = (
            Organisation.objects.exclude(pk=instance.pk) if instance else Organisation.objects.all()
        )
        if (
            cleaned["registration_number"]
            and others.filter(
                country=country, registration_number=cleaned["registration_number"]
            ).exists()
        ):
            add(
                "registration_number",
                _("An organisation with this registration number is registered already."),
            )
        if cleaned["vat_number"] and others.filter(vat_number=cleaned["vat_number"]).exists():
            add("vat_number", _("An organisation with this VAT number is registered already."))
        if others.filter(legal_name__iexact=cleaned["legal_name"], country=country).exists():
            add(
                "legal_name",
                _("An organisation with this name is registered in this country already."),
            )
    if errors:
        raise ValidationError(errors)
    cleaned["size_class"] = sme_size_class(
        cleaned.get("staff_headcount"),
        cleaned.get("annual_turnover_eur"),
        cleaned.get("balance_sheet_eur"),
    )
    return cleaned


def organisation_create(
    *, actor: User, data: dict[str, Any], is_demo: bool = False
) -> Organisation:
    """Self-service registration; the person who registers becomes the owner."""
    require(actor, "organisation.create")
    cleaned = _clean_organisation(data)
    with transaction.atomic():
        organisation = Organisation(**cleaned, is_demo=is_demo)
        try:
            with transaction.atomic():
                organisation.save()
        except IntegrityError:
            raise ValidationError(
                {"legal_name": _("This organisation is registered already.")}
            ) from None
        Membership.objects.create(organisation=organisation, user=actor, role=OrgRole.OWNER)
        audit_record(actor=actor, action="organisation.create", obj=organisation, changes=cleaned)
    forget_roles(actor)
    return organisation


def organisation_update(
    *, actor: User, organisation: Organisation, data: dict[str, Any]
) -> Organisation:
    require(actor, "organisation.update", organisation)
    unknown = (
        set(data)
        - set(ORGANISATION_FIELDS)
        - {
            "country",
            "kind",
            "sectors",
            "staff_headcount",
            "annual_turnover_eur",
            "balance_sheet_eur",
        }
    )
    if unknown:
        raise ValidationError(
            {name: _("This field cannot be changed.") for name in sorted(unknown)}
        )
    cleaned = _clean_organisation(data, instance=organisation)
    with transaction.atomic():
        changes = diff_fields(organisation, cleaned)
        if changes:
            organisation.save()
            audit_record(
                actor=actor, action="organisation.update", obj=organisation, changes=changes
            )
    return organisation


# --- memberships -------------------------------------------------------------------------------


def _lock_organisation(organisation: Organisation) -> None:
    """Serialise the membership changes of one organisation until the transaction ends, so two
    owners stepping down at once cannot each count the other. Locking the owners' rows with a
    COUNT is no lock at all: Django drops FOR UPDATE from aggregates."""
    list(Organisation.objects.select_for_update().filter(pk=organisation.pk).values_list("pk"))


def _owner_count(organisation: Organisation) -> int:
    return Membership.objects.filter(organisation=organisation, role=OrgRole.OWNER).count()


def _refresh_membership(membership: Membership) -> None:
    """Read the membership again under the lock: another request may have changed or removed it."""
    try:
        membership.refresh_from_db(fields=["role"])
    except Membership.DoesNotExist:
        raise NotFound(_("This person is not a member any more.")) from None


def membership_add(
    *, actor: User, organisation: Organisation, user: User, role: str = OrgRole.MEMBER
) -> Membership:
    """Add someone directly (the demo data, administrators helping a team). People normally
    join by accepting an invitation, which proves they own the address."""
    require(actor, "membership.manage", organisation)
    if role not in OrgRole.values:
        raise ValidationError(
            {"role": _("Choose one of: %(roles)s.") % {"roles": ", ".join(OrgRole.values)}}
        )
    if role == OrgRole.OWNER:
        require(actor, "membership.grant_owner", organisation)
    with transaction.atomic():
        if Membership.objects.filter(organisation=organisation, user=user).exists():
            raise ValidationError({"user": _("This person is a member already.")})
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    organisation=organisation, user=user, role=role
                )
        except IntegrityError:
            raise ValidationError({"user": _("This person is a member already.")}) from None
        audit_record(
            actor=actor,
            action="membership.add",
            obj=membership,
            changes={"user": user.email, "role": role},
            organisation_id=organisation.pk,
        )
    forget_roles(user)
    return membership


def membership_set_role(*, actor: User, membership: Membership, role: str) -> Membership:
    organisation = membership.organisation
    require(actor, "membership.manage", organisation)
    if role not in OrgRole.values:
        raise ValidationError(
            {"role": _("Choose one of: %(roles)s.") % {"roles": ", ".join(OrgRole.values)}}
        )
    with transaction.atomic():
        _lock_organisation(organisation)
        # Roles are read again under the lock; the actor's may have changed meanwhile.
        forget_roles(actor)
        require(actor, "membership.manage", organisation)
        _refresh_membership(membership)
        if OrgRole.OWNER in (role, membership.role):
            require(actor, "membership.grant_owner", organisation)
        if (
            membership.role == OrgRole.OWNER
            and role != OrgRole.OWNER
            and _owner_count(organisation) <= 1
        ):
            raise InvalidTransition(
                _("The last owner cannot step down; make someone else owner first."), field="role"
            )
        changes = diff_fields(membership, {"role": role})
        if changes:
            membership.save()
            audit_record(
                actor=actor,
                action="membership.set_role",
                obj=membership,
                changes=changes,
                organisation_id=organisation.pk,
            )
    forget_roles(membership.user)
    return membership


def membership_remove(*, actor: User, membership: Membership) -> None:
    organisation = membership.organisation
    if membership.user_id == actor.pk:
        return membership_leave(actor=actor, organisation=organisation)
    require(actor, "membership.manage", organisation)
    with transaction.atomic():
        _lock_organisation(organisation)
        forget_roles(actor)
        require(actor, "membership.manage", organisation)
        _refresh_membership(membership)
        if membership.role == OrgRole.OWNER:
            require(actor, "membership.grant_owner", organisation)
            if _owner_count(organisation) <= 1:
                raise InvalidTransition(_("The last owner cannot be removed."))
        audit_record(
            actor=actor,
            action="membership.remove",
            obj=membership,
            changes={"user": membership.user.email, "role": membership.role},
            organisation_id=organisation.pk,
        )
        membership.delete()
    forget_roles(membership.user)


def membership_leave(*, actor: User, organisation: Organisation) -> None:
    with transaction.atomic():
        _lock_organisation(organisation)
        membership = Membership.objects.filter(organisation=organisation, user=actor).first()
        if membership is None:
            raise NotFound(_("You are not a member of this organisation."))
        if membership.role == OrgRole.OWNER and _owner_count(organisation) <= 1:
            raise InvalidTransition(
                _("You are the last owner: make someone else owner before you leave.")
            )
        audit_record(
            actor=actor,
            action="membership.leave",
            obj=membership,
            changes={"user": actor.email, "role": membership.role},
            organisation_id=organisation.pk,
        )
        membership.delete()
    forget_roles(actor)


# --- invitations -------------------------------------------------------------------------------


def invitation_create(
    *, actor: User, organisation: Organisation, email: str, role: str = OrgRole.MEMBER
) -> tuple[Invitation, str]:
    """Invite someone by e-mail. Returns the invitation and its secret token (sent, never stored)."""
    require(actor, "invitation.manage", organisation)
    email = _clean_email(email)
    if role not in OrgRole.values:
        raise ValidationError(
            {"role": _("Choose one of: %(roles)s.") % {"roles": ", ".join(OrgRole.values)}}
        )
    if role == OrgRole.OWNER:
        require(actor, "membership.grant_owner", organisation)
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise ValidationError({"email": _("This person is a member already.")})
    if Invitation.objects.filter(
        organisation=organisation,
        email__iexact=email,
        status=InvitationStatus.PENDING,
        expires_at__gt=timezone.now(),
    ).exists():
        raise ValidationError({"email": _("This person has a pending invitation already.")})
    token = ApiToken.generate().replace(ApiToken.PREFIX, "inv_")
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organisation=organisation,
            email=email,
            role=role,
            token_hash=hash_secret(token),
            invited_by=actor,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        audit_record(
            actor=actor,
            action="invitation.create",
            obj=invitation,
            changes={"email": email, "role": role},
        )
    link = f"{settings.SITE_URL}/invitations/{token}/"
    existing = User.objects.filter(email__iexact=email).first()
    language = (
        (existing.preferred_language if existing else "") or translation.get_language() or "en"
    )
    with translation.override(language):
        body = render_to_string(
            "accounts/email/invitation.txt",
            {"invitation": invitation, "link": link, "actor": actor},
        )
        subject = _("Invitation to join %(org)s on AI Factory Hub") % {
            "org": organisation.legal_name
        }
    transaction.on_commit(lambda: mail_send(subject=subject, body=body, to=[email]))
    return invitation, token


def invitation_by_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("organisation")
        .filter(token_hash=hash_secret(token or ""))
        .first()
    )
    if invitation is None:
        raise NotFound(_("This invitation does not exist."))
    return invitation


def invitation_accept(*, actor: User, token: str = "", invitation_id=None) -> Membership:
    """Accept with the token from the e-mail, or by id (from the dashboard): a verified account
    with the invited address proves what the token proves."""
    with transaction.atomic():
        if invitation_id is not None:
            invitation = Invitation.objects.filter(pk=invitation_id).first()
            if invitation is None:
                raise NotFound(_("This invitation does not exist."))
        else:
            invitation = invitation_by_token(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != InvitationStatus.PENDING:
            raise InvalidTransition(
                _("This invitation was %(status)s already.")
                % {"status": invitation.get_status_display()}
            )
        if invitation.is_expired:
            raise InvalidTransition(_("This invitation has expired; ask for a new one."))
        if not allowed(actor, "invitation.accept", invitation):
            if invitation.email.lower() != actor.email.lower():
                raise NotAllowed(
                    _("This invitation is for %(email)s; sign in with that address.")
                    % {"email": invitation.email}
                )
            raise NotAllowed(_("Verify your e-mail address first."))
        membership, created = Membership.objects.get_or_create(
            organisation=invitation.organisation, user=actor, defaults={"role": invitation.role}
        )
        invitation.status = InvitationStatus.ACCEPTED
        invitation.accepted_by = actor
        invitation.decided_at = timezone.now()
        invitation.save()
        audit_record(
            actor=actor,
            action="invitation.accept",
            obj=invitation,
            changes={
                "status": [InvitationStatus.PENDING, InvitationStatus.ACCEPTED],
                "role": membership.role,
            },
            organisation_id=invitation.organisation_id,
        )
    forget_roles(actor)
    return membership


def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    require(actor, "invitation.manage", invitation.organisation)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != InvitationStatus.PENDING:
            raise InvalidTransition(_("Only a pending invitation can be revoked."))
        invitation.status = InvitationStatus.REVOKED
        invitation.decided_at = timezone.now()
        invitation.save()
        audit_record(
            actor=actor,
            action="invitation.revoke",
            obj=invitation,
            changes={"status": [InvitationStatus.PENDING, InvitationStatus.REVOKED]},
        )
    return invitation


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
