"""The audit log: every change of state leaves who, what, which object and which fields."""

from datetime import datetime

import pytest
from django.core.exceptions import ValidationError

from aifactory.accounts import services
from aifactory.accounts.models import ApiToken, Invitation, Membership
from aifactory.core.errors import InvalidTransition
from aifactory.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_services_record_actor_action_object_and_changes(make_user, make_org, add_member):
    owner = make_user("owner@example.org")
    organisation = make_org(owner=owner, legal_name="Audited S.A.")
    member = make_user()
    membership = add_member(organisation, member)

    services.membership_set_role(actor=owner, membership=membership, role="manager")
    invitation, _token = services.invitation_create(
        actor=owner, organisation=organisation, email="guest@example.org", role="member"
    )
    services.invitation_revoke(actor=owner, invitation=invitation)
    token, _secret = services.token_create(user=owner, name="ci", expires_in_days=7)
    services.token_revoke(user=owner, token=token)
    services.organisation_update(actor=owner, organisation=organisation, data={"city": "Wiltz"})

    def event(action):
        return AuditEvent.objects.get(action=action, actor=owner)

    created = AuditEvent.objects.get(action="user.create", object_id=str(owner.pk))
    assert created.actor == owner
    assert created.changes == {"email": "owner@example.org", "staff_role": ""}

    org_created = event("organisation.create")
    assert (org_created.object_type, org_created.object_id) == (
        "accounts.organisation",
        str(organisation.pk),
    )
    assert org_created.object_repr == "Audited S.A."
    assert org_created.changes["legal_name"] == "Audited S.A."
    assert org_created.changes["kind"] == "sme"

    role = event("membership.set_role")
    assert (role.object_type, role.object_id) == ("accounts.membership", str(membership.pk))
    assert role.changes == {"role": ["member", "manager"]}
    assert role.organisation_id == organisation.pk

    invited = event("invitation.create")
    assert invited.object_type == "accounts.invitation"
    assert invited.object_id == str(invitation.pk)
    assert invited.changes == {"email": "guest@example.org", "role": "member"}
    assert invited.organisation_id == organisation.pk
    assert event("invitation.revoke").object_id == str(invitation.pk)

    token_created = event("token.create")
    assert token_created.object_type == "accounts.apitoken"
    assert token_created.changes["name"] == "ci"
    assert token_created.changes["expires_at"]  # a date, stored as text
    assert event("token.revoke").object_id == str(token.pk)

    assert event("organisation.update").changes == {"city": ["", "Wiltz"]}
    assert Invitation.objects.get().status == "revoked"
    assert ApiToken.objects.get().revoked_at is not None
    assert Membership.objects.get(pk=membership.pk).role == "manager"


def test_a_refused_change_records_nothing(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner)
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        services.organisation_update(
            actor=owner, organisation=organisation, data={"vat_number": "LU00000001"}
        )
    with pytest.raises(InvalidTransition):
        services.membership_leave(actor=owner, organisation=organisation)
    assert AuditEvent.objects.count() == before


def test_the_actor_name_survives_the_person(make_user, make_org):
    owner = make_user("leaving@example.org")
    make_org(owner=owner)
    owner.delete()
    event = AuditEvent.objects.get(action="organisation.create")
    assert event.actor is None
    assert event.actor_repr == "leaving@example.org"


@pytest.mark.parametrize(
    ("staff_role", "status"),
    [
        ("", 403),
        ("advisor", 403),
        ("reviewer", 403),
        ("operator", 200),
        ("administrator", 200),
    ],
)
def test_audit_api_is_for_operators(api, make_user, staff_role, status):
    response = api(make_user(staff_role=staff_role)).get("/audit")
    assert response.status_code == status
    if status == 403:
        assert response["Content-Type"] == "application/problem+json"
        assert "changes" not in response.content.decode()


def test_organisation_owner_cannot_read_the_audit_of_their_organisation(api, make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner)
    assert api(owner).get(f"/audit?organisation_id={organisation.pk}").status_code == 403


def test_audit_api_filters(api, make_user, make_org):
    alice = make_user("alice@example.org")
    bob = make_user("bob@example.org")
    org_a = make_org(owner=alice)
    org_b = make_org(owner=bob)
    services.organisation_update(actor=alice, organisation=org_a, data={"city": "Wiltz"})
    services.token_create(user=bob, name="ci")
    client = api(make_user(staff_role="operator"))

    def get(query):
        response = client.get(f"/audit?{query}")
        assert response.status_code == 200, response.content
        return response.json()

    updates = get("action=organisation.update")
    assert [(e["action"], e["actor"], e["changes"]) for e in updates] == [
        ("organisation.update", "alice@example.org", {"city": ["", "Wiltz"]})
    ]
    assert {e["action"] for e in get("action=organisation.")} == {
        "organisation.create",
        "organisation.update",
    }
    assert {e["object_id"] for e in get("object_type=accounts.organisation")} == {
        str(org_a.pk),
        str(org_b.pk),
    }
    by_bob = get("actor=bob@")
    assert by_bob and {e["actor"] for e in by_bob} == {"bob@example.org"}
    assert "token.create" in {e["action"] for e in by_bob}
    in_a = get(f"organisation_id={org_a.pk}")
    assert in_a and {e["organisation_id"] for e in in_a} == {str(org_a.pk)}
    assert len(get("limit=2")) == 2
    newest_first = get("")
    assert [e["id"] for e in newest_first] == sorted((e["id"] for e in newest_first), reverse=True)


def test_audit_api_rejects_a_malformed_filter(api, make_user):
    response = api(make_user(staff_role="operator")).get("/audit?organisation_id=not-a-uuid")
    assert response.status_code == 422
    assert "organisation_id" in response.json()["errors"]


def test_state_changes_record_the_fields_they_change(make_user, make_org):
    """Each transition says what it changed, so the audit log reads without the code at hand."""
    owner = make_user()
    organisation = make_org(owner=owner)
    revoked, _token = services.invitation_create(
        actor=owner, organisation=organisation, email="no@example.org"
    )
    services.invitation_revoke(actor=owner, invitation=revoked)
    assert AuditEvent.objects.get(action="invitation.revoke").changes == {
        "status": ["pending", "revoked"]
    }

    guest = make_user("guest@example.org", verified=False)
    services.user_verify_email(token=services.verification_token(guest))
    assert AuditEvent.objects.get(action="user.verify_email").changes == {
        "email_verified": [False, True]
    }

    guest.refresh_from_db()
    _invitation, token = services.invitation_create(
        actor=owner, organisation=organisation, email=guest.email, role="manager"
    )
    services.invitation_accept(actor=guest, token=token)
    assert AuditEvent.objects.get(action="invitation.accept").changes == {
        "status": ["pending", "accepted"],
        "role": "manager",
    }

    api_token, _secret = services.token_create(user=owner, name="ci")
    services.token_revoke(user=owner, token=api_token)
    api_token.refresh_from_db()
    before, after = AuditEvent.objects.get(action="token.revoke").changes["revoked_at"]
    assert before is None
    assert datetime.fromisoformat(after) == api_token.revoked_at


@pytest.mark.parametrize("field", ["action", "object_type", "actor"])
def test_audit_api_refuses_a_nul_character_naming_the_parameter(api, make_user, field):
    """PostgreSQL cannot compare text with NUL in it; the answer is a 422, never a 500."""
    response = api(make_user(staff_role="operator")).get(f"/audit?{field}=a%00b")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
