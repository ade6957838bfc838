"""The REST API of organisations, memberships and invitations, used as a client would use it."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from aifactory.accounts.models import Invitation, InvitationStatus, Membership, Organisation
from aifactory.core.models import AuditEvent

pytestmark = pytest.mark.django_db

ORG = {
    "legal_name": "Menuiserie Kieffer S.à r.l.",
    "country": "LU",
    "kind": "sme",
    "registration_number": "B123456",
    "vat_number": "LU26375245",
    "sectors": ["crafts", "construction"],
    "staff_headcount": 12,
    "annual_turnover_eur": 1_500_000,
    "balance_sheet_eur": 800_000,
    "website": "https://kieffer.example.lu",
    "city": "Ettelbruck",
}


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return body


# --- organisations -----------------------------------------------------------------------------


def test_create_makes_the_creator_owner_and_records_the_fields(api, make_user):
    user = make_user()
    response = api(user).post("/organisations", ORG)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["my_role"] == "owner"
    assert body["size_class"] == "small"
    assert body["vat_number"] == "LU26375245"
    organisation = Organisation.objects.get(pk=body["id"])
    assert organisation.memberships.get().user == user
    assert organisation.memberships.get().role == "owner"
    event = AuditEvent.objects.get(action="organisation.create")
    assert event.actor == user
    assert event.object_id == str(organisation.pk)
    assert event.organisation_id == organisation.pk
    assert event.changes["legal_name"] == ORG["legal_name"]
    assert event.changes["registration_number"] == "B123456"
    assert event.changes["size_class"] == "small"


def test_read_by_member_and_not_by_outsider(api, make_user, make_org, add_member):
    organisation = make_org()
    member, outsider = make_user(), make_user()
    add_member(organisation, member)
    make_org(owner=outsider)

    response = api(member).get(f"/organisations/{organisation.pk}")
    assert response.status_code == 200
    assert response.json()["legal_name"] == organisation.legal_name
    assert response.json()["my_role"] == "member"

    body = problem(api(outsider).get(f"/organisations/{organisation.pk}"), 403)
    assert organisation.legal_name not in str(body)

    # Advisors of the factory read every profile; they have no role in it.
    advisor = make_user(staff_role="advisor")
    response = api(advisor).get(f"/organisations/{organisation.pk}")
    assert response.status_code == 200
    assert response.json()["my_role"] is None


def test_read_unknown_organisation_is_404(api, make_user):
    problem(api(make_user()).get("/organisations/00000000-0000-0000-0000-000000000000"), 404)


@pytest.mark.parametrize(
    ("who", "status"),
    [("owner", 200), ("manager", 200), ("member", 403), ("administrator", 200), ("advisor", 403)],
)
def test_update_permissions(api, make_user, make_org, add_member, who, status):
    owner = make_user()
    organisation = make_org(owner=owner)
    if who == "owner":
        user = owner
    elif who in ("manager", "member"):
        user = make_user()
        add_member(organisation, user, who)
    else:
        user = make_user(staff_role=who)

    response = api(user).patch(f"/organisations/{organisation.pk}", {"city": "Wiltz"})

    assert response.status_code == status, response.content
    organisation.refresh_from_db()
    assert organisation.city == ("Wiltz" if status == 200 else "")
    events = AuditEvent.objects.filter(action="organisation.update")
    if status == 200:
        assert events.get().changes == {"city": ["", "Wiltz"]}
        assert events.get().actor == user
    else:
        assert not events.exists()


def test_update_recomputes_the_size_class(api, make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner, staff_headcount=5, annual_turnover_eur=500_000)
    assert organisation.size_class == "micro"
    response = api(owner).patch(f"/organisations/{organisation.pk}", {"staff_headcount": 120})
    assert response.json()["size_class"] == "medium"
    event = AuditEvent.objects.get(action="organisation.update")
    assert event.changes["size_class"] == ["micro", "medium"]
    assert event.changes["staff_headcount"] == [5, 120]


def test_list_mine_and_all_for_staff(api, make_user, make_org):
    alice, bob = make_user(), make_user()
    mine = make_org(owner=alice)
    theirs = make_org(owner=bob)
    operator = make_user(staff_role="operator")

    def names(user, query=""):
        response = api(user).get(f"/organisations{query}")
        assert response.status_code == 200
        return {o["legal_name"] for o in response.json()}

    assert names(alice) == {mine.legal_name}
    assert names(alice, "?all=true") == {mine.legal_name}
    assert names(operator) == set()
    assert names(operator, "?all=true") == {mine.legal_name, theirs.legal_name}


# --- memberships -------------------------------------------------------------------------------


@pytest.fixture
def team(make_user, make_org, add_member):
    """An organisation with an owner, a manager and a member."""
    owner, manager, member = make_user(), make_user(), make_user()
    organisation = make_org(owner=owner)
    return {
        "org": organisation,
        "owner": owner,
        "manager": manager,
        "member": member,
        "owner_m": organisation.memberships.get(user=owner),
        "manager_m": add_member(organisation, manager, "manager"),
        "member_m": add_member(organisation, member, "member"),
    }


def members_path(team, membership=None):
    path = f"/organisations/{team['org'].pk}/members"
    return f"{path}/{membership.pk}" if membership else path


def test_members_are_listed_to_members(api, team):
    response = api(team["member"]).get(members_path(team))
    assert response.status_code == 200
    assert {(m["email"], m["role"]) for m in response.json()} == {
        (team["owner"].email, "owner"),
        (team["manager"].email, "manager"),
        (team["member"].email, "member"),
    }


def test_manager_changes_a_member_role(api, team):
    response = api(team["manager"]).patch(members_path(team, team["member_m"]), {"role": "manager"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "manager"
    team["member_m"].refresh_from_db()
    assert team["member_m"].role == "manager"
    event = AuditEvent.objects.get(action="membership.set_role")
    assert event.changes == {"role": ["member", "manager"]}
    assert event.organisation_id == team["org"].pk


def test_manager_cannot_make_or_unmake_owners(api, team):
    client = api(team["manager"])
    problem(client.patch(members_path(team, team["member_m"]), {"role": "owner"}), 403)
    problem(client.patch(members_path(team, team["owner_m"]), {"role": "member"}), 403)
    problem(client.delete(members_path(team, team["owner_m"])), 403)
    assert team["org"].memberships.get(role="owner").user == team["owner"]
    team["member_m"].refresh_from_db()
    assert team["member_m"].role == "member"


def test_member_cannot_change_roles(api, team):
    problem(
        api(team["member"]).patch(members_path(team, team["manager_m"]), {"role": "member"}), 403
    )
    team["manager_m"].refresh_from_db()
    assert team["manager_m"].role == "manager"


def test_unknown_role_is_422_naming_the_field(api, team):
    body = problem(
        api(team["owner"]).patch(members_path(team, team["member_m"]), {"role": "boss"}), 422
    )
    assert "role" in body["errors"]


def test_owner_makes_another_owner_then_steps_down(api, team):
    client = api(team["owner"])
    assert client.patch(members_path(team, team["manager_m"]), {"role": "owner"}).status_code == 200
    response = client.patch(members_path(team, team["owner_m"]), {"role": "member"})
    assert response.status_code == 200, response.content
    assert team["org"].memberships.get(role="owner").user == team["manager"]


def test_last_owner_cannot_step_down_leave_or_be_removed(api, team, make_user):
    owner_path = members_path(team, team["owner_m"])
    body = problem(api(team["owner"]).patch(owner_path, {"role": "manager"}), 409)
    assert "owner" in body["detail"]
    problem(api(team["owner"]).post(f"/organisations/{team['org'].pk}/leave"), 409)
    problem(api(team["owner"]).delete(owner_path), 409)
    problem(api(make_user(staff_role="administrator")).delete(owner_path), 409)
    team["owner_m"].refresh_from_db()
    assert team["owner_m"].role == "owner"


def test_manager_removes_a_member(api, team):
    response = api(team["manager"]).delete(members_path(team, team["member_m"]))
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=team["member_m"].pk).exists()
    event = AuditEvent.objects.get(action="membership.remove")
    assert event.actor == team["manager"]
    assert event.changes == {"user": team["member"].email, "role": "member"}
    problem(api(team["member"]).get(f"/organisations/{team['org'].pk}"), 403)


def test_member_cannot_remove_others(api, team):
    problem(api(team["member"]).delete(members_path(team, team["manager_m"])), 403)
    assert Membership.objects.filter(pk=team["manager_m"].pk).exists()


def test_member_leaves(api, team):
    response = api(team["member"]).post(f"/organisations/{team['org'].pk}/leave")
    assert response.status_code == 204
    assert not team["org"].memberships.filter(user=team["member"]).exists()
    assert AuditEvent.objects.filter(action="membership.leave", actor=team["member"]).exists()


def test_one_of_two_owners_can_leave(api, team):
    api(team["owner"]).patch(members_path(team, team["manager_m"]), {"role": "owner"})
    assert api(team["owner"]).post(f"/organisations/{team['org'].pk}/leave").status_code == 204
    assert team["org"].memberships.get(role="owner").user == team["manager"]


def test_outsider_sees_nothing_of_another_organisation(api, team, make_user, make_org):
    outsider = make_user()
    own = make_org(owner=outsider)
    client = api(outsider)
    org = team["org"]

    listing = client.get("/organisations?all=true").json()
    assert [o["id"] for o in listing] == [str(own.pk)]
    for path in (
        f"/organisations/{org.pk}",
        f"/organisations/{org.pk}/members",
        f"/organisations/{org.pk}/invitations",
    ):
        body = problem(client.get(path), 403)
        assert org.legal_name not in str(body)
        assert team["owner"].email not in str(body)
    problem(client.patch(f"/organisations/{org.pk}", {"city": "Hacked"}), 403)
    problem(client.patch(members_path(team, team["member_m"]), {"role": "owner"}), 403)
    problem(client.delete(members_path(team, team["member_m"])), 403)
    problem(client.post(f"/organisations/{org.pk}/invitations", {"email": "x@example.org"}), 403)
    problem(client.post(f"/organisations/{org.pk}/leave"), 403)
    # A membership of another organisation cannot be reached through one's own.
    problem(
        client.patch(f"/organisations/{own.pk}/members/{team['member_m'].pk}", {"role": "owner"}),
        404,
    )
    problem(client.delete(f"/organisations/{own.pk}/members/{team['member_m'].pk}"), 404)
    assert team["org"].memberships.count() == 3
    assert not Invitation.objects.exists()


def test_member_cannot_see_invitations(api, team):
    problem(api(team["member"]).get(f"/organisations/{team['org'].pk}/invitations"), 403)


# --- invitations -------------------------------------------------------------------------------


def invite(api, team, email, role="member", who="manager"):
    return api(team[who]).post(
        f"/organisations/{team['org'].pk}/invitations", {"email": email, "role": role}
    )


@pytest.fixture
def invited(api, team, make_user, django_capture_on_commit_callbacks):
    """A pending invitation for a verified person, with its token."""
    person = make_user("new.colleague@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(api, team, person.email, role="manager")
    assert response.status_code == 201, response.content
    return {"person": person, "token": response.json()["token"], "id": response.json()["id"]}


def test_invitation_is_mailed_with_a_link_and_the_token_shown_once(api, team, invited):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.colleague@example.org"]
    assert team["org"].legal_name in message.subject
    link = re.search(r"https?://\S+/invitations/(\S+)/", message.body)
    assert link and link.group(1) == invited["token"]
    invitation = Invitation.objects.get(pk=invited["id"])
    assert invited["token"] not in invitation.token_hash
    listing = api(team["manager"]).get(f"/organisations/{team['org'].pk}/invitations").json()
    assert listing[0]["status"] == "pending"
    assert "token" not in listing[0]


def test_accept_by_the_invited_person_makes_a_membership(api, team, invited):
    response = api(invited["person"]).post("/invitations/accept", {"token": invited["token"]})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "manager"
    membership = team["org"].memberships.get(user=invited["person"])
    assert membership.role == "manager"
    invitation = Invitation.objects.get(pk=invited["id"])
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_by == invited["person"]
    assert AuditEvent.objects.filter(action="invitation.accept", actor=invited["person"]).exists()


def test_accept_twice_is_409(api, invited):
    client = api(invited["person"])
    assert client.post("/invitations/accept", {"token": invited["token"]}).status_code == 200
    problem(client.post("/invitations/accept", {"token": invited["token"]}), 409)


def test_accept_with_another_address_is_refused(api, team, invited, make_user):
    stranger = make_user()
    body = problem(api(stranger).post("/invitations/accept", {"token": invited["token"]}), 403)
    assert "new.colleague@example.org" in body["detail"]
    assert not team["org"].memberships.filter(user=stranger).exists()
    assert Invitation.objects.get(pk=invited["id"]).status == "pending"


def test_accept_unverified_is_refused(api, team, make_user):
    person = make_user("unverified@example.org", verified=False)
    token = invite(api, team, person.email).json()["token"]
    body = problem(api(person).post("/invitations/accept", {"token": token}), 403)
    assert "Verify" in body["detail"]
    assert not team["org"].memberships.filter(user=person).exists()


def test_accept_expired_is_refused(api, team, invited):
    Invitation.objects.filter(pk=invited["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    body = problem(
        api(invited["person"]).post("/invitations/accept", {"token": invited["token"]}), 409
    )
    assert "expired" in body["detail"]
    assert not team["org"].memberships.filter(user=invited["person"]).exists()
    listing = api(team["owner"]).get(f"/organisations/{team['org'].pk}/invitations").json()
    assert listing[0]["status"] == "expired"


def test_accept_revoked_is_refused(api, team, invited):
    path = f"/organisations/{team['org'].pk}/invitations/{invited['id']}"
    response = api(team["owner"]).delete(path)
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    problem(api(invited["person"]).post("/invitations/accept", {"token": invited["token"]}), 409)
    problem(api(team["owner"]).delete(path), 409)
    assert not team["org"].memberships.filter(user=invited["person"]).exists()


def test_unknown_token_is_404(api, make_user):
    problem(api(make_user()).post("/invitations/accept", {"token": "inv_nonsense"}), 404)


def test_duplicate_pending_invitation_is_refused(api, team, invited):
    body = problem(invite(api, team, "New.Colleague@example.org"), 422)
    assert "email" in body["errors"]
    assert Invitation.objects.count() == 1


def test_a_new_invitation_after_expiry_is_allowed(api, team, invited):
    Invitation.objects.filter(pk=invited["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert invite(api, team, "new.colleague@example.org").status_code == 201


def test_inviting_an_existing_member_is_refused(api, team):
    body = problem(invite(api, team, team["member"].email.upper()), 422)
    assert "email" in body["errors"]
    assert not Invitation.objects.exists()


def test_member_cannot_invite_and_manager_cannot_invite_owners(api, team):
    problem(invite(api, team, "a@example.org", who="member"), 403)
    problem(invite(api, team, "b@example.org", role="owner", who="manager"), 403)
    assert invite(api, team, "c@example.org", role="owner", who="owner").status_code == 201
    assert list(Invitation.objects.values_list("email", flat=True)) == ["c@example.org"]


def test_invitation_with_a_malformed_address_is_422(api, team):
    body = problem(invite(api, team, "not-an-address"), 422)
    assert "email" in body["errors"]
    assert not Invitation.objects.exists()


# --- the API itself ----------------------------------------------------------------------------


def test_openapi_lists_every_endpoint(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/api/v1/me": {"get", "patch"},
        "/api/v1/organisations": {"get", "post"},
        "/api/v1/organisations/{organisation_id}": {"get", "patch"},
        "/api/v1/organisations/{organisation_id}/members": {"get"},
        "/api/v1/organisations/{organisation_id}/members/{membership_id}": {"patch", "delete"},
        "/api/v1/organisations/{organisation_id}/leave": {"post"},
        "/api/v1/organisations/{organisation_id}/invitations": {"get", "post"},
        "/api/v1/organisations/{organisation_id}/invitations/{invitation_id}": {"delete"},
        "/api/v1/invitations/accept": {"post"},
        "/api/v1/tokens": {"get", "post"},
        "/api/v1/tokens/{token_id}": {"delete"},
        "/api/v1/audit": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path


def test_docs_render_without_a_cdn(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for url in assets:
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("path", ["/me", "/organisations", "/tokens", "/audit"])
def test_unauthenticated_is_401_with_www_authenticate(api, path):
    response = api().get(path)
    problem(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_wrong_bearer_token_is_401(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer afh_wrong"})
    problem(response, 401)


def test_malformed_json_is_a_problem_not_a_500(api, make_user):
    client = api(make_user())
    for body in ("{not json", "[1, 2", '{"legal_name": }'):
        response = client.client.post(
            "/api/v1/organisations",
            data=body,
            content_type="application/json",
            headers=client.headers,
        )
        assert 400 <= response.status_code < 500
        assert response["Content-Type"] == "application/problem+json"
    assert not Organisation.objects.exists()


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null", ""])
def test_json_that_is_not_an_object_is_422(api, make_user, body):
    client = api(make_user())
    response = client.client.post(
        "/api/v1/organisations", data=body, content_type="application/json", headers=client.headers
    )
    assert problem(response, 422)["errors"]
    assert not Organisation.objects.exists()


def test_missing_fields_are_named(api, make_user):
    body = problem(api(make_user()).post("/organisations", {}), 422)
    assert {"legal_name", "country", "kind"} <= set(body["errors"])


def test_unknown_key_is_422_naming_it(api, make_user):
    body = problem(api(make_user()).post("/organisations", {**ORG, "colour": "blue"}), 422)
    assert "colour" in body["errors"]
    assert not Organisation.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("staff_headcount", "many"),
        ("sectors", "crafts"),
        ("legal_name", ["a", "b"]),
        ("annual_turnover_eur", {"eur": 1}),
        ("country", 352),
    ],
)
def test_wrong_types_are_422_naming_the_field(api, make_user, field, value):
    body = problem(api(make_user()).post("/organisations", {**ORG, field: value}), 422)
    assert field in body["errors"], body
    assert not Organisation.objects.exists()


def test_me_shows_my_organisations(api, make_user, make_org):
    user = make_user(staff_role="advisor")
    organisation = make_org(owner=user)
    body = api(user).get("/me").json()
    assert body["email"] == user.email
    assert body["staff_role"] == "advisor"
    assert body["organisations"] == [
        {
            "organisation_id": str(organisation.pk),
            "organisation": organisation.legal_name,
            "role": "owner",
        }
    ]


def test_me_update_validates_the_language(api, make_user):
    user = make_user()
    body = problem(api(user).patch("/me", {"preferred_language": "xx"}), 422)
    assert "preferred_language" in body["errors"]
    response = api(user).patch("/me", {"first_name": "Lena", "preferred_language": "lb"})
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.first_name, user.preferred_language) == ("Lena", "lb")
    assert AuditEvent.objects.get(action="user.update").changes["first_name"] == ["", "Lena"]
