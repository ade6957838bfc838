from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status

from aifactory.core.errors import NotAllowed
from aifactory.core.permissions import org_role

from . import selectors, services
from .schemas import (
    InvitationAccept,
    InvitationCreated,
    InvitationIn,
    InvitationOut,
    MemberOut,
    MeOut,
    MeUpdate,
    OrganisationIn,
    OrganisationOut,
    OrganisationPatch,
    RoleIn,
    TokenCreated,
    TokenIn,
    TokenOut,
)

router = Router(tags=["accounts"])


def _me(user) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email_verified": user.email_verified,
        "staff_role": user.staff_role,
        "preferred_language": user.preferred_language,
        "organisations": [
            {
                "organisation_id": m.organisation_id,
                "organisation": m.organisation.legal_name,
                "role": m.role,
            }
            for m in user.memberships.select_related("organisation")
        ],
    }


def _org(user, organisation) -> OrganisationOut:
    out = OrganisationOut.from_orm(organisation)
    # Lists carry the role from the same query (selectors.organisations_visible).
    out.my_role = getattr(organisation, "my_role", None) or org_role(user, organisation)
    return out


@router.get("/me", response=MeOut, summary="The signed-in person and their organisations")
def me(request: HttpRequest):
    return _me(request.user)


@router.patch("/me", response=MeOut, summary="Update my name and preferred language")
def me_update(request: HttpRequest, payload: MeUpdate):
    user = request.user
    data = payload.dict(exclude_unset=True)
    services.user_update_profile(
        user=user,
        first_name=data.get("first_name", user.first_name) or "",
        last_name=data.get("last_name", user.last_name) or "",
        preferred_language=data.get("preferred_language", user.preferred_language) or "",
    )
    return _me(user)


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations I belong to")
def organisations_list(request: HttpRequest, all: bool = False):
    """Staff may pass ``all=true`` to list every organisation."""
    user = request.user
    return [_org(user, o) for o in selectors.organisations_visible(user, all_for_staff=all)]


@router.post("/organisations", response={201: OrganisationOut}, summary="Register an organisation")
def organisations_create(request: HttpRequest, payload: OrganisationIn):
    organisation = services.organisation_create(actor=request.user, data=payload.dict())
    return Status(201, _org(request.user, organisation))


@router.get("/organisations/{organisation_id}", response=OrganisationOut)
def organisations_read(request: HttpRequest, organisation_id: UUID):
    return _org(request.user, selectors.organisation_get(request.user, organisation_id))


@router.patch("/organisations/{organisation_id}", response=OrganisationOut)
def organisations_update(request: HttpRequest, organisation_id: UUID, payload: OrganisationPatch):
    organisation = selectors.organisation_get(request.user, organisation_id)
    services.organisation_update(
        actor=request.user, organisation=organisation, data=payload.dict(exclude_unset=True)
    )
    return _org(request.user, organisation)


@router.get("/organisations/{organisation_id}/members", response=list[MemberOut])
def members_list(request: HttpRequest, organisation_id: UUID):
    organisation = selectors.organisation_get(request.user, organisation_id)
    return list(selectors.memberships_of(request.user, organisation))


@router.patch("/organisations/{organisation_id}/members/{membership_id}", response=MemberOut)
def members_set_role(
    request: HttpRequest, organisation_id: UUID, membership_id: UUID, payload: RoleIn
):
    organisation = selectors.organisation_get(request.user, organisation_id)
    membership = selectors.membership_get(request.user, organisation, membership_id)
    return services.membership_set_role(
        actor=request.user, membership=membership, role=payload.role
    )


@router.delete("/organisations/{organisation_id}/members/{membership_id}", response={204: None})
def members_remove(request: HttpRequest, organisation_id: UUID, membership_id: UUID):
    organisation = selectors.organisation_get(request.user, organisation_id)
    membership = selectors.membership_get(request.user, organisation, membership_id)
    services.membership_remove(actor=request.user, membership=membership)
    return Status(204, None)


@router.post("/organisations/{organisation_id}/leave", response={204: None})
def organisations_leave(request: HttpRequest, organisation_id: UUID):
    organisation = selectors.organisation_get(request.user, organisation_id)
    services.membership_leave(actor=request.user, organisation=organisation)
    return Status(204, None)


@router.get("/organisations/{organisation_id}/invitations", response=list[InvitationOut])
def invitations_list(request: HttpRequest, organisation_id: UUID):
    organisation = selectors.organisation_get(request.user, organisation_id)
    return list(selectors.invitations_of(request.user, organisation))


@router.post("/organisations/{organisation_id}/invitations", response={201: InvitationCreated})
def invitations_create(request: HttpRequest, organisation_id: UUID, payload: InvitationIn):
    """The token is returned once, for clients that deliver the invitation themselves."""
    organisation = selectors.organisation_get(request.user, organisation_id)
    invitation, token = services.invitation_create(
        actor=request.user, organisation=organisation, email=payload.email, role=payload.role
    )
    invitation.token = token
    return Status(201, invitation)


@router.delete(
    "/organisations/{organisation_id}/invitations/{invitation_id}", response=InvitationOut
)
def invitations_revoke(request: HttpRequest, organisation_id: UUID, invitation_id: UUID):
    organisation = selectors.organisation_get(request.user, organisation_id)
    invitation = selectors.invitation_get(request.user, organisation, invitation_id)
    return services.invitation_revoke(actor=request.user, invitation=invitation)


@router.post(
    "/invitations/accept", response=MemberOut, summary="Accept an invitation with its token"
)
def invitations_accept(request: HttpRequest, payload: InvitationAccept):
    return services.invitation_accept(actor=request.user, token=payload.token)


@router.get("/tokens", response=list[TokenOut], summary="My API tokens")
def tokens_list(request: HttpRequest):
    return list(selectors.tokens_of(request.user))


@router.post("/tokens", response={201: TokenCreated}, summary="Create a token (shown once)")
def tokens_create(request: HttpRequest, payload: TokenIn):
    """From the portal's session only: a token, perhaps leaked, must not mint others."""
    from aifactory.api import authenticated_by_bearer

    if authenticated_by_bearer(request):
        raise NotAllowed(
            _(
                "A token cannot create tokens. Create one in the portal (Settings → API tokens) "
                "or with “aifactory tokens create”."
            )
        )
    token, secret = services.token_create(
        user=request.user, name=payload.name, expires_in_days=payload.expires_in_days
    )
    token.token = secret
    return Status(201, token)


@router.delete("/tokens/{token_id}", response=TokenOut, summary="Revoke a token")
def tokens_revoke(request: HttpRequest, token_id: UUID):
    token = selectors.token_get(request.user, token_id)
    return services.token_revoke(user=request.user, token=token)
