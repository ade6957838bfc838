"""Services of people and organisations: size classes, sign-up, verification, sign-in limits."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aifactory.accounts import services
from aifactory.accounts.models import LoginFailure, TermsAcceptance, User
from aifactory.core.errors import InvalidTransition, NotAllowed, NotFound, ServiceError
from aifactory.core.models import AuditEvent
from aifactory.core.permissions import allowed

pytestmark = pytest.mark.django_db

M = 1_000_000

# (headcount, turnover, balance sheet) -> class, at and around each ceiling of Recommendation
# 2003/361/EC: micro < 10 staff and (turnover <= 2m or balance <= 2m); small < 50 and 10m / 10m;
# medium < 250 and (turnover <= 50m or balance <= 43m).
SIZE_CASES = [
    ((0, 0, 0), "micro"),
    ((9, 2 * M, None), "micro"),
    ((9, None, 2 * M), "micro"),
    ((9, 2 * M + 1, 2 * M), "micro"),
    ((9, 2 * M, 2 * M + 1), "micro"),
    ((9, 2 * M + 1, 2 * M + 1), "small"),
    ((9, 2 * M + 1, None), "small"),
    ((10, 1, 1), "small"),
    ((49, 10 * M, None), "small"),
    ((49, 10 * M + 1, 10 * M), "small"),
    ((49, 10 * M + 1, 10 * M + 1), "medium"),
    ((50, 1, 1), "medium"),
    ((249, 50 * M, None), "medium"),
    ((249, None, 43 * M), "medium"),
    ((249, 50 * M + 1, 43 * M), "medium"),
    ((249, 50 * M, 43 * M + 1), "medium"),
    ((249, 50 * M + 1, 43 * M + 1), "large"),
    ((249, 50 * M + 1, None), "large"),
    ((250, 1, 1), "large"),
    ((250, None, None), "large"),  # the staff ceiling alone decides
    ((None, 50 * M + 1, 43 * M + 1), "large"),  # so do both financial ceilings
    ((None, 1, 1), "unknown"),
    ((5, None, None), "unknown"),
    ((None, None, None), "unknown"),
    ((249, None, None), "unknown"),
]


@pytest.mark.parametrize(("figures", "expected"), SIZE_CASES)
def test_size_class_follows_the_eu_definition(make_user, figures, expected):
    headcount, turnover, balance = figures
    organisation = services.organisation_create(
        actor=make_user(),
        data={
            "legal_name": "Sized S.A.",
            "country": "LU",
            "kind": "sme",
            "staff_headcount": headcount,
            "annual_turnover_eur": turnover,
            "balance_sheet_eur": balance,
        },
    )
    organisation.refresh_from_db()
    assert organisation.size_class == expected


def test_size_class_is_recomputed_on_update(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner, staff_headcount=5, annual_turnover_eur=500_000)
    services.organisation_update(
        actor=owner, organisation=organisation, data={"staff_headcount": 300}
    )
    organisation.refresh_from_db()
    assert organisation.size_class == "large"
    services.organisation_update(
        actor=owner,
        organisation=organisation,
        data={"staff_headcount": None, "annual_turnover_eur": None},
    )
    organisation.refresh_from_db()
    assert organisation.size_class == "unknown"


def test_organisation_create_needs_a_signed_in_person():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        services.organisation_create(
            actor=AnonymousUser(), data={"legal_name": "X", "country": "LU", "kind": "sme"}
        )


def test_update_without_changes_records_nothing(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner, city="Wiltz")
    services.organisation_update(actor=owner, organisation=organisation, data={"city": "Wiltz"})
    assert not AuditEvent.objects.filter(action="organisation.update").exists()


# --- memberships, through the services ------------------------------------------------------------


def test_membership_rules_in_the_services(make_user, make_org, add_member):
    owner, manager, member = make_user(), make_user(), make_user()
    organisation = make_org(owner=owner)
    owner_m = organisation.memberships.get(user=owner)
    manager_m = add_member(organisation, manager, "manager")
    member_m = add_member(organisation, member, "member")

    with pytest.raises(PermissionDenied):
        services.membership_set_role(actor=member, membership=manager_m, role="member")
    with pytest.raises(PermissionDenied):
        services.membership_set_role(actor=manager, membership=member_m, role="owner")
    with pytest.raises(InvalidTransition):
        services.membership_set_role(actor=owner, membership=owner_m, role="member")
    with pytest.raises(InvalidTransition):
        services.membership_leave(actor=owner, organisation=organisation)
    services.membership_set_role(actor=manager, membership=member_m, role="manager")
    member_m.refresh_from_db()
    assert member_m.role == "manager"

    services.membership_leave(actor=member, organisation=organisation)
    with pytest.raises(NotFound):
        services.membership_leave(actor=member, organisation=organisation)


def test_membership_remove_of_oneself_is_leaving(make_user, make_org, add_member):
    owner, member = make_user(), make_user()
    organisation = make_org(owner=owner)
    membership = add_member(organisation, member)
    services.membership_remove(actor=member, membership=membership)
    assert not organisation.memberships.filter(user=member).exists()
    assert AuditEvent.objects.filter(action="membership.leave", actor=member).exists()


def test_role_cache_is_dropped_after_a_change(make_user, make_org, add_member):
    """A person whose role was just lowered must not keep the old rights in the same request."""
    from aifactory.core.permissions import allowed

    owner, manager = make_user(), make_user()
    organisation = make_org(owner=owner)
    membership = add_member(organisation, manager, "manager")
    assert allowed(manager, "organisation.update", organisation)
    services.membership_set_role(actor=owner, membership=membership, role="member")
    assert not allowed(membership.user, "organisation.update", organisation)


# --- invitations, through the services ------------------------------------------------------------


def test_invitation_round_trip_in_the_services(
    make_user, make_org, django_capture_on_commit_callbacks
):
    owner = make_user()
    organisation = make_org(owner=owner)
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invitation_create(
            actor=owner, organisation=organisation, email="Guest@Example.org", role="member"
        )
    assert invitation.email == "guest@example.org"
    assert token in mail.outbox[0].body
    assert token not in invitation.token_hash

    guest = make_user("guest@example.org")
    membership = services.invitation_accept(actor=guest, token=token)
    assert membership.role == "member"
    with pytest.raises(InvalidTransition):
        services.invitation_accept(actor=guest, token=token)
    with pytest.raises(InvalidTransition):
        services.invitation_revoke(actor=owner, invitation=invitation)


def test_invitation_mail_is_not_sent_when_the_transaction_fails(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner)
    # Inside the test's transaction nothing commits, so nothing may be sent.
    services.invitation_create(actor=owner, organisation=organisation, email="g@example.org")
    assert mail.outbox == []


def test_wrong_person_cannot_accept(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner)
    _invitation, token = services.invitation_create(
        actor=owner, organisation=organisation, email="guest@example.org"
    )
    with pytest.raises(ServiceError):
        services.invitation_accept(actor=make_user(), token=token)


# --- people -------------------------------------------------------------------------------------


def test_sign_up_requires_the_terms():
    with pytest.raises(ValidationError) as caught:
        services.user_sign_up(email="lena@example.org", password="correct-Horse-battery-9")
    assert "accept_terms" in caught.value.message_dict
    assert not User.objects.exists()
    assert mail.outbox == []


def test_sign_up_sends_a_verification_link_that_works_once():
    user = services.user_sign_up(
        email="Lena@Example.org", password="correct-Horse-battery-9", accept_terms=True
    )
    assert user.email == "lena@example.org"
    assert not user.email_verified
    assert TermsAcceptance.objects.filter(user=user, version=settings.TERMS_VERSION).exists()
    assert user.check_password("correct-Horse-battery-9")
    assert "correct-Horse-battery-9" not in user.password

    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    token = body.split("/accounts/verify/")[1].split("/")[0]
    assert services.user_verify_email(token=token) == user
    user.refresh_from_db()
    assert user.email_verified
    # A second use changes nothing and records nothing more.
    services.user_verify_email(token=token)
    assert AuditEvent.objects.filter(action="user.verify_email").count() == 1


def test_a_tampered_verification_token_fails(make_user):
    user = make_user(verified=False)
    token = services.verification_token(user)
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), token + "x", "nonsense", ""):
        with pytest.raises(ValidationError) as caught:
            services.user_verify_email(token=bad)
        assert "token" in caught.value.message_dict
    user.refresh_from_db()
    assert not user.email_verified


def test_a_verification_token_of_a_changed_address_fails(make_user):
    user = make_user(verified=False)
    token = services.verification_token(user)
    User.objects.filter(pk=user.pk).update(email="other@example.org")
    with pytest.raises(ValidationError):
        services.user_verify_email(token=token)


def test_an_expired_verification_token_fails(make_user, monkeypatch):
    user = make_user(verified=False)
    max_age = settings.EMAIL_VERIFICATION_MAX_AGE_DAYS * 86400
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - max_age - 60)
    old_token = services.verification_token(user)
    monkeypatch.setattr(time, "time", lambda: real_time() - max_age + 60)
    recent_token = services.verification_token(user)
    monkeypatch.setattr(time, "time", real_time)

    with pytest.raises(ValidationError) as caught:
        services.user_verify_email(token=old_token)
    assert "expired" in caught.value.message_dict["token"][0]
    user.refresh_from_db()
    assert not user.email_verified
    services.user_verify_email(token=recent_token)
    user.refresh_from_db()
    assert user.email_verified


def test_passwords_are_hashed_with_argon2_outside_the_tests(tmp_path):
    env = {**os.environ, "AIFACTORY_ENV": "development", "AIFACTORY_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from django.contrib.auth.hashers import make_password; "
        "print(settings.PASSWORD_HASHERS[0]); print(make_password('x').split('$')[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["django.contrib.auth.hashers.Argon2PasswordHasher", "argon2"]


def test_sign_in_rate_limit():
    email, ip = "lena@example.org", "192.0.2.10"
    limit = settings.LOGIN_MAX_FAILURES
    for _ in range(limit - 1):
        services.login_failure_record(email=email, ip_address=ip)
    assert not services.login_is_locked(email=email, ip_address=ip)
    services.login_failure_record(email="LENA@example.org", ip_address=ip)
    assert services.login_is_locked(email=email, ip_address=ip)
    assert services.login_is_locked(email="Lena@Example.org", ip_address="198.51.100.1")
    # Another address from the same client is still allowed a few tries.
    assert not services.login_is_locked(email="other@example.org", ip_address=ip)

    # Failures older than the lock-out window no longer count.
    LoginFailure.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1)
    )
    assert not services.login_is_locked(email=email, ip_address=ip)

    for _ in range(limit):
        services.login_failure_record(email=email, ip_address=ip)
    services.login_failures_clear(email=email)
    assert not services.login_is_locked(email=email, ip_address=ip)


def test_sign_in_rate_limit_per_client_address():
    ip = "192.0.2.20"
    for n in range(settings.LOGIN_MAX_FAILURES * 4):
        services.login_failure_record(email=f"p{n}@example.org", ip_address=ip)
    assert services.login_is_locked(email="fresh@example.org", ip_address=ip)
    assert not services.login_is_locked(email="fresh@example.org", ip_address="192.0.2.21")


def test_staff_role_is_given_by_administrators_only(make_user):
    admin, advisor, person = (
        make_user(staff_role="administrator"),
        make_user(staff_role="advisor"),
        make_user(),
    )
    with pytest.raises(PermissionDenied):
        services.user_set_staff_role(actor=advisor, user=person, staff_role="operator")
    with pytest.raises(ValidationError) as caught:
        services.user_set_staff_role(actor=admin, user=person, staff_role="king")
    assert "role" in caught.value.message_dict
    services.user_set_staff_role(actor=admin, user=person, staff_role="operator")
    person.refresh_from_db()
    # Only administrators get Django's staff status (the admin site).
    assert (person.staff_role, person.is_staff, person.is_superuser) == ("operator", False, False)
    event = AuditEvent.objects.get(action="user.set_staff_role")
    assert event.actor == admin
    assert event.changes["staff_role"] == ["", "operator"]


def test_accepting_an_invitation_is_a_permission_rule(make_user, make_org):
    """Only a verified account with the invited address may accept; the refusal says why."""
    owner = make_user()
    organisation = make_org(owner=owner)
    invitation, token = services.invitation_create(
        actor=owner, organisation=organisation, email="guest@example.org"
    )
    stranger = make_user()
    unverified = make_user("guest@example.org", verified=False)
    assert not allowed(stranger, "invitation.accept", invitation)
    assert not allowed(unverified, "invitation.accept", invitation)
    assert not allowed(owner, "invitation.accept", invitation)

    with pytest.raises(NotAllowed, match="This invitation is for guest@example.org"):
        services.invitation_accept(actor=stranger, token=token)
    with pytest.raises(NotAllowed, match="Verify your e-mail address first"):
        services.invitation_accept(actor=unverified, token=token)

    unverified.email_verified = True
    unverified.save()
    assert allowed(unverified, "invitation.accept", invitation)
    assert services.invitation_accept(actor=unverified, token=token).user == unverified
