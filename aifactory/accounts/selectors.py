"""Reads of people and organisations, filtered by what the asking person may see."""

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from aifactory.core.permissions import allowed, require

from .models import ApiToken, Invitation, InvitationStatus, Membership, Organisation, User


def organisations_visible(user: User, *, all_for_staff: bool = False) -> QuerySet[Organisation]:
    """The person's own organisations; staff may ask for all of them.

    Each carries ``my_role`` (None where the person is not a member), read in the same query.
    """
    my_role = Membership.objects.filter(organisation=OuterRef("pk"), user=user).values("role")[:1]
    # GROUP BY drops Meta.ordering, so the order is spelt out.
    qs = Organisation.objects.annotate(
        member_count=Count("memberships"), my_role=Subquery(my_role)
    ).order_by("legal_name")
    if all_for_staff and allowed(user, "organisation.list_all"):
        return qs
    return qs.filter(memberships__user=user)


def organisation_get(user: User, organisation_id) -> Organisation:
    organisation = get_object_or_404(Organisation, pk=organisation_id)
    require(user, "organisation.view", organisation)
    return organisation


def memberships_of(user: User, organisation: Organisation) -> QuerySet[Membership]:
    require(user, "membership.view", organisation)
    return organisation.memberships.select_related("user").order_by("user__email")


def membership_get(user: User, organisation: Organisation, membership_id) -> Membership:
    require(user, "membership.view", organisation)
    return get_object_or_404(
        Membership.objects.select_related("user", "organisation"),
        pk=membership_id,
        organisation=organisation,
    )


def invitations_of(user: User, organisation: Organisation) -> QuerySet[Invitation]:
    require(user, "invitation.manage", organisation)
    return organisation.invitations.select_related("invited_by").order_by("-created_at")


def invitation_get(user: User, organisation: Organisation, invitation_id) -> Invitation:
    require(user, "invitation.manage", organisation)
    return get_object_or_404(Invitation, pk=invitation_id, organisation=organisation)


def invitations_addressed_to(user: User) -> QuerySet[Invitation]:
    """Open invitations for the person's verified e-mail address."""
    if not user.email_verified:
        return Invitation.objects.none()
    return Invitation.objects.select_related("organisation", "invited_by").filter(
        email__iexact=user.email,
        status=InvitationStatus.PENDING,
        expires_at__gt=timezone.now(),
    )


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def token_get(user: User, token_id) -> ApiToken:
    """The person's own token; anyone else's answers 404, so ids reveal nothing."""
    token = get_object_or_404(ApiToken, pk=token_id)
    if not allowed(user, "token.manage", token):
        raise Http404
    return token
