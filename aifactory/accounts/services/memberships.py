"""Memberships and invitations."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aifactory.core.errors import InvalidTransition, NotAllowed, NotFound
from aifactory.core.mail import mail_send
from aifactory.core.permissions import allowed, forget_roles, require
from aifactory.core.roles import OrgRole
from aifactory.core.services import audit_record, diff_fields

from ..models import (
    ApiToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organisation,
    User,
    hash_secret,
)
from ._common import _clean_email

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
