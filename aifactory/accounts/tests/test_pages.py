"""The account and organisation pages, driven with Django's test client as a browser would."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from aifactory.accounts import services
from aifactory.accounts.models import ApiToken, Invitation, Membership, Organisation, User
from aifactory.conftest import PASSWORD
from aifactory.core.models import AuditEvent
from aifactory.core.roles import OrgRole, StaffRole

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def link_path(body: str, prefix: str) -> str:
    """The path of the first link in an e-mail that starts with prefix (after the site URL)."""
    match = re.search(re.escape(settings.SITE_URL) + r"(" + re.escape(prefix) + r"\S+)", body)
    assert match, body
    return match.group(1)


def text(response) -> str:
    return response.content.decode()


# --- sign-up, verification, sign-in ------------------------------------------------------------


def test_sign_up_verify_and_sign_in():
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {
            "email": "New.Person@Example.org",
            "first_name": "Nina",
            "last_name": "Neu",
            "password": PASSWORD,
            "password2": PASSWORD,
            "accept_terms": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Check your mailbox" in text(response)
    assert "new.person@example.org" in text(response)
    assert len(mail.outbox) == 1

    # Not verified yet: sign-in is refused with a way to get a new link.
    response = client.post(
        "/accounts/login/", {"email": "new.person@example.org", "password": PASSWORD}
    )
    assert "_auth_user_id" not in client.session
    assert "confirm your e-mail address first" in text(response)
    assert 'action="/accounts/verify/resend/"' in text(response)

    response = client.get(link_path(mail.outbox[0].body, "/accounts/verify/"))
    assert response.status_code == 200
    assert "Your e-mail address is confirmed" in text(response)
    assert User.objects.get(email="new.person@example.org").email_verified

    response = client.post(
        "/accounts/login/", {"email": "New.Person@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_sign_up_errors_are_shown_by_the_fields_and_nothing_is_saved():
    response = Client().post(
        "/accounts/signup/",
        {"email": "x@example.org", "password": "short", "password2": "other"},
    )
    assert response.status_code == 200
    page = text(response)
    assert 'id="id_password2_error"' in page
    assert "The two passwords differ." in page
    assert not User.objects.filter(email="x@example.org").exists()

    response = Client().post(
        "/accounts/signup/",
        {"email": "x@example.org", "password": "123", "password2": "123", "accept_terms": "on"},
    )
    page = text(response)
    assert 'id="id_password_error"' in page
    assert "This password is too short." in page
    assert not User.objects.filter(email="x@example.org").exists()

    response = Client().post(
        "/accounts/signup/",
        {"email": "x@example.org", "password": PASSWORD, "password2": PASSWORD},
    )
    page = text(response)
    assert 'id="id_accept_terms_error"' in page
    assert "Please accept the terms of use." in page
    assert 'aria-invalid="true"' in page
    assert not User.objects.filter(email="x@example.org").exists()
    assert mail.outbox == []


def test_bad_verification_link_is_a_clear_error():
    response = Client().get("/accounts/verify/not-a-token/")
    assert response.status_code == 400
    assert "This link is not valid." in text(response)


def test_resend_verification_does_not_tell_whether_an_address_exists(make_user):
    make_user("waiting@example.org", verified=False)
    known = Client().post("/accounts/verify/resend/", {"email": "waiting@example.org"})
    unknown = Client().post("/accounts/verify/resend/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert "If an account with an unconfirmed address" in text(known)
    assert "If an account with an unconfirmed address" in text(unknown)
    assert [m.to for m in mail.outbox] == [["waiting@example.org"]]


def test_wrong_password_is_refused_with_a_message(make_user):
    make_user("someone@example.org")
    client = Client()
    response = client.post("/accounts/login/", {"email": "someone@example.org", "password": "no"})
    assert response.status_code == 200
    assert "The e-mail address or the password is not right." in text(response)
    assert "_auth_user_id" not in client.session


def test_login_lock_out_refuses_even_the_right_password(make_user):
    make_user("target@example.org")
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        response = client.post(
            "/accounts/login/", {"email": "target@example.org", "password": "wrong-guess"}
        )
        assert response.status_code == 200
    response = client.post(
        "/accounts/login/", {"email": "target@example.org", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert "Too many failed sign-ins" in text(response)
    assert "_auth_user_id" not in client.session

    # Another address from the same client is not locked by these few failures.
    make_user("other@example.org")
    response = client.post("/accounts/login/", {"email": "other@example.org", "password": PASSWORD})
    assert response.status_code == 302


def test_login_only_follows_local_next(make_user):
    make_user("n@example.org")
    response = Client().post(
        "/accounts/login/",
        {"email": "n@example.org", "password": PASSWORD, "next": "/organisations/"},
    )
    assert response["Location"] == "/organisations/"
    response = Client().post(
        "/accounts/login/",
        {"email": "n@example.org", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/dashboard/"


def test_preferred_language_is_activated_on_login(make_user):
    user = make_user("lang@example.org")
    client = signed_in(user)
    response = client.post(
        "/accounts/settings/",
        {"first_name": "Lea", "last_name": "Lang", "preferred_language": "de"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.preferred_language) == ("Lea", "de")

    fresh = Client()
    response = fresh.post("/accounts/login/", {"email": "lang@example.org", "password": PASSWORD})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert 'lang="de"' in text(fresh.get("/dashboard/"))


def test_settings_reject_an_unknown_language(make_user):
    user = make_user()
    response = signed_in(user).post(
        "/accounts/settings/", {"first_name": "", "last_name": "", "preferred_language": "xx"}
    )
    assert response.status_code == 200
    assert 'id="id_preferred_language_error"' in text(response)


def test_sign_out_is_a_post(make_user):
    client = signed_in(make_user())
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_by_email(make_user):
    make_user("forgetful@example.org")
    client = Client()
    response = client.post(
        "/accounts/password-reset/", {"email": "forgetful@example.org"}, follow=True
    )
    assert "Check your mailbox" in text(response)
    path = link_path(mail.outbox[0].body, "/accounts/password-reset/")
    response = client.get(path, follow=True)
    assert "Choose a new password" in text(response)
    new = "another-Horse-battery-7"
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": new, "new_password2": new},
        follow=True,
    )
    assert "Your password is changed" in text(response)
    assert AuditEvent.objects.filter(action="user.set_password").exists()
    response = Client().post(
        "/accounts/login/", {"email": "forgetful@example.org", "password": new}
    )
    assert response.status_code == 302


# --- terms of use ------------------------------------------------------------------------------


def test_terms_redirect_and_accept(make_user):
    user = make_user(terms=False)
    client = signed_in(user)
    response = client.get("/organisations/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/terms/?next=%2Forganisations%2F"

    page = client.get(response["Location"])
    assert settings.TERMS_VERSION in text(page)
    assert "I accept the terms of use" in text(page)

    response = client.post("/accounts/terms/", {"next": "/organisations/"})
    assert response["Location"] == "/organisations/"
    assert services.terms_accepted(user)
    assert client.get("/organisations/").status_code == 200


def test_terms_accept_ignores_a_foreign_next(make_user):
    client = signed_in(make_user(terms=False))
    response = client.post("/accounts/terms/", {"next": "//evil.example/x"})
    assert response["Location"] == "/dashboard/"


def test_terms_page_is_public_without_an_accept_button():
    response = Client().get("/accounts/terms/")
    assert response.status_code == 200
    assert "I accept the terms of use" not in text(response)


# --- pages need a signed-in person -------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/",
        "/accounts/settings/",
        "/accounts/tokens/",
        "/organisations/",
        "/organisations/new/",
        "/audit/",
    ],
)
def test_anonymous_people_are_sent_to_sign_in(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


# --- organisations -----------------------------------------------------------------------------

GOOD_ORGANISATION = {
    "legal_name": "Schreinerei Beispiel S.à r.l.",
    "country": "LU",
    "kind": "sme",
    "registration_number": "B123456",
    "vat_number": "LU 1234 5613",
    "sectors": ["crafts", "construction"],
    "staff_headcount": "12",
    "annual_turnover_eur": "1500000",
    "balance_sheet_eur": "",
    "website": "https://schreinerei.example.lu",
    "street": "1, rue de la Forêt",
    "postcode": "L-9000",
    "city": "Ettelbruck",
}


def test_register_an_organisation_through_the_form(make_user):
    user = make_user()
    client = signed_in(user)
    form = client.get("/organisations/new/")
    assert form.status_code == 200
    assert 'name="sectors" value="finance"' in text(form)
    assert '<option value="LU">Luxembourg</option>' in text(form)

    response = client.post("/organisations/new/", GOOD_ORGANISATION, follow=True)
    organisation = Organisation.objects.get(legal_name=GOOD_ORGANISATION["legal_name"])
    assert response.redirect_chain[-1][0] == f"/organisations/{organisation.pk}/"
    page = text(response)
    assert 'badge-accent">Small<' in page  # 12 people, 1.5 M€ turnover
    assert organisation.vat_number == "LU12345613"
    assert organisation.sectors == ["crafts", "construction"]
    assert Membership.objects.get(organisation=organisation, user=user).role == OrgRole.OWNER


def test_a_bad_organisation_shows_errors_by_the_fields_and_saves_nothing(make_user):
    client = signed_in(make_user())
    data = dict(
        GOOD_ORGANISATION,
        legal_name="",
        vat_number="LU12345678",
        website="not a url",
        registration_number="123",
    )
    response = client.post("/organisations/new/", data)
    assert response.status_code == 200
    page = text(response)
    for field in ("legal_name", "vat_number", "website", "registration_number"):
        assert f'id="id_{field}_error"' in page, field
        assert re.search(rf'id="id_{field}"[^>]*aria-invalid="true"', page) or re.search(
            rf'aria-invalid="true"[^>]*id="id_{field}"', page
        ), field
    assert "The legal name is required." in page
    assert "is not a valid EU VAT number" in page
    assert "Enter a full web address starting with https://." in page
    # What the person typed is kept.
    assert 'value="Ettelbruck"' in page
    assert not Organisation.objects.exists()
    assert not AuditEvent.objects.filter(action="organisation.create").exists()


def test_edit_an_organisation(make_user, make_org, add_member):
    owner = make_user()
    organisation = make_org(owner=owner)
    client = signed_in(owner)
    page = client.get(f"/organisations/{organisation.pk}/edit/")
    assert f'value="{organisation.legal_name}"' in text(page)
    data = dict(GOOD_ORGANISATION, legal_name=organisation.legal_name, city="Wiltz")
    response = client.post(f"/organisations/{organisation.pk}/edit/", data)
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.city == "Wiltz"

    member = make_user()
    add_member(organisation, member)
    assert signed_in(member).get(f"/organisations/{organisation.pk}/edit/").status_code == 403
    detail = text(signed_in(member).get(f"/organisations/{organisation.pk}/"))
    assert f"/organisations/{organisation.pk}/edit/" not in detail


def test_another_organisation_is_not_visible(make_user, make_org):
    organisation = make_org()
    stranger = signed_in(make_user())
    assert stranger.get(f"/organisations/{organisation.pk}/").status_code == 403
    assert organisation.legal_name not in text(stranger.get("/organisations/"))


def test_organisations_are_listed_by_name(make_user, make_org, add_member):
    me = make_user()
    for name in ("Zeta Works", "Alpha Labs", "Mid Corp"):
        make_org(owner=me, legal_name=name)
    page = text(signed_in(me).get("/organisations/"))
    positions = [page.index(name) for name in ("Alpha Labs", "Mid Corp", "Zeta Works")]
    assert positions == sorted(positions)


def test_staff_can_list_all_organisations(make_user, make_org):
    organisation = make_org()
    advisor = signed_in(make_user(staff_role=StaffRole.ADVISOR))
    mine = text(advisor.get("/organisations/"))
    assert organisation.legal_name not in mine
    assert 'href="/organisations/?all=1"' in mine
    assert organisation.legal_name in text(advisor.get("/organisations/?all=1"))

    member = signed_in(make_user())
    page = text(member.get("/organisations/?all=1"))
    assert organisation.legal_name not in page
    assert 'href="/organisations/?all=1"' not in page


# --- members and invitations -------------------------------------------------------------------


def test_invite_through_the_members_page_and_accept(
    make_user, make_org, django_capture_on_commit_callbacks
):
    owner = make_user()
    organisation = make_org(owner=owner)
    client = signed_in(owner)
    members_url = f"/organisations/{organisation.pk}/members/"
    assert "Send invitation" in text(client.get(members_url))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/organisations/{organisation.pk}/invitations/",
            {"email": "colleague@example.org", "role": "manager"},
            follow=True,
        )
    assert "We sent an invitation to colleague@example.org." in text(response)
    assert "colleague@example.org" in text(response)
    path = link_path(mail.outbox[-1].body, "/invitations/")

    # Anonymous: told to sign in with the invited address.
    page = text(Client().get(path))
    assert organisation.legal_name in page
    assert "Sign in or sign up with colleague@example.org" in page

    # Someone else: told this is not for them, and cannot accept.
    other = signed_in(make_user("other@example.org"))
    assert "You are signed in as other@example.org" in text(other.get(path))
    other.post(path)
    assert not Membership.objects.filter(organisation=organisation, user__email="other@example.org")

    colleague = make_user("colleague@example.org")
    invited = signed_in(colleague)
    assert "Accept the invitation" in text(invited.get(path))
    response = invited.post(path, follow=True)
    assert response.redirect_chain[-1][0] == f"/organisations/{organisation.pk}/"
    assert Membership.objects.get(organisation=organisation, user=colleague).role == "manager"

    page = text(invited.get(path))
    assert "This invitation was accepted already." in page
    assert "Accept the invitation" not in page


def test_invitation_errors_are_shown_by_the_field(make_user, make_org, add_member):
    owner = make_user("boss@example.org")
    organisation = make_org(owner=owner)
    response = signed_in(owner).post(
        f"/organisations/{organisation.pk}/invitations/",
        {"email": "boss@example.org", "role": "member"},
    )
    assert response.status_code == 200
    assert 'id="id_email_error"' in text(response)
    assert "This person is a member already." in text(response)
    assert not Invitation.objects.exists()


def test_unknown_and_revoked_invitations_are_clear(make_user, make_org):
    assert "This invitation does not exist" in text(Client().get("/invitations/inv_nothing/"))
    owner = make_user()
    organisation = make_org(owner=owner)
    invitation, token = services.invitation_create(
        actor=owner, organisation=organisation, email="late@example.org"
    )
    client = signed_in(owner)
    response = client.post(
        f"/organisations/{organisation.pk}/invitations/{invitation.pk}/revoke/", **HTMX
    )
    assert response.status_code == 200
    assert "is revoked" in text(response)
    assert 'hx-swap-oob="innerHTML"' in text(response)
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    page = text(signed_in(make_user("late@example.org")).get(f"/invitations/{token}/"))
    assert "This invitation was revoked." in page
    assert "Accept the invitation" not in page

    expiring, token = services.invitation_create(
        actor=owner, organisation=organisation, email="slow@example.org"
    )
    Invitation.objects.filter(pk=expiring.pk).update(expires_at=timezone.now())
    slow = signed_in(make_user("slow@example.org"))
    page = text(slow.get(f"/invitations/{token}/"))
    assert "This invitation has expired." in page
    assert "Accept the invitation" not in page
    response = slow.post(f"/invitations/{token}/", follow=True)
    assert "This invitation has expired; ask for a new one." in text(response)
    assert not Membership.objects.filter(organisation=organisation, user__email="slow@example.org")


def test_accept_an_invitation_from_the_dashboard(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner)
    invitation, _token = services.invitation_create(
        actor=owner, organisation=organisation, email="dash@example.org"
    )
    person = make_user("dash@example.org")
    client = signed_in(person)
    page = text(client.get("/dashboard/"))
    assert organisation.legal_name in page
    assert f"/invitations/{invitation.pk}/accept/" in page
    response = client.post(f"/invitations/{invitation.pk}/accept/")
    assert response["Location"] == f"/organisations/{organisation.pk}/"
    assert Membership.objects.filter(organisation=organisation, user=person).exists()

    # Someone else cannot accept it by its id.
    second, _token = services.invitation_create(
        actor=owner, organisation=organisation, email="not-you@example.org"
    )
    client.post(f"/invitations/{second.pk}/accept/")
    second.refresh_from_db()
    assert second.status == "pending"


def test_change_role_and_remove_with_htmx(make_user, make_org, add_member):
    owner = make_user()
    organisation = make_org(owner=owner)
    member = add_member(organisation, make_user())
    client = signed_in(owner)
    base = f"/organisations/{organisation.pk}/members/{member.pk}"

    response = client.post(f"{base}/role/", {"role": "manager"}, **HTMX)
    assert response.status_code == 200
    assert text(response).lstrip().startswith(f'<tr id="member-{member.pk}">')
    assert "is now manager" in text(response)
    member.refresh_from_db()
    assert member.role == "manager"

    response = client.post(f"{base}/remove/", **HTMX)
    assert response.status_code == 200
    assert "<tr" not in text(response)
    assert "is no longer a member" in text(response)
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_a_plain_member_sees_no_controls_and_the_server_refuses(make_user, make_org, add_member):
    owner = make_user()
    organisation = make_org(owner=owner)
    owner_membership = Membership.objects.get(organisation=organisation, user=owner)
    member = make_user()
    add_member(organisation, member)
    client = signed_in(member)

    page = text(client.get(f"/organisations/{organisation.pk}/members/"))
    assert "/remove/" not in page
    assert "/role/" not in page
    assert "Send invitation" not in page
    assert "Leave organisation" in page

    base = f"/organisations/{organisation.pk}/members/{owner_membership.pk}"
    assert client.post(f"{base}/role/", {"role": "member"}).status_code == 403
    assert client.post(f"{base}/remove/").status_code == 403
    owner_membership.refresh_from_db()
    assert owner_membership.role == OrgRole.OWNER
    response = client.post(
        f"/organisations/{organisation.pk}/invitations/",
        {"email": "x@example.org", "role": "member"},
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_the_last_owner_cannot_leave_but_a_member_can(make_user, make_org, add_member):
    owner = make_user()
    organisation = make_org(owner=owner)
    member = make_user()
    add_member(organisation, member)

    response = signed_in(owner).post(f"/organisations/{organisation.pk}/leave/", follow=True)
    assert "You are the last owner" in text(response)
    assert Membership.objects.filter(organisation=organisation, user=owner).exists()

    response = signed_in(member).post(f"/organisations/{organisation.pk}/leave/", **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/organisations/"
    assert not Membership.objects.filter(organisation=organisation, user=member).exists()


# --- API tokens --------------------------------------------------------------------------------


def test_token_create_shows_the_secret_once_and_revoke(make_user, api):
    user = make_user()
    client = signed_in(user)
    response = client.post(
        "/accounts/tokens/new/", {"name": "laptop", "expires_in_days": "30"}, **HTMX
    )
    assert response.status_code == 200
    secret = re.search(r'value="(afh_[^"]+)"', text(response)).group(1)
    token = ApiToken.objects.get(user=user, name="laptop")
    assert secret.startswith(token.prefix)
    assert "data-copy" in text(response)

    listing = text(client.get("/accounts/tokens/"))
    assert secret not in listing
    assert token.prefix in listing
    assert "laptop" in listing

    caller = api()
    caller.headers["Authorization"] = f"Bearer {secret}"
    assert caller.get("/me").status_code == 200

    response = client.post(f"/accounts/tokens/{token.pk}/revoke/", **HTMX)
    assert response.status_code == 200
    assert "revoked" in text(response)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert caller.get("/me").status_code == 401


def test_token_form_errors_and_other_peoples_tokens(make_user):
    user = make_user()
    client = signed_in(user)
    response = client.post("/accounts/tokens/new/", {"name": "", "expires_in_days": "30"})
    assert response.status_code == 200
    assert 'id="id_name_error"' in text(response)
    response = client.post("/accounts/tokens/new/", {"name": "x", "expires_in_days": "999"})
    assert 'id="id_expires_in_days_error"' in text(response)
    assert not ApiToken.objects.exists()

    theirs, _secret = services.token_create(user=make_user(), name="theirs")
    assert client.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_token_create_without_javascript_renders_the_whole_page(make_user):
    client = signed_in(make_user())
    response = client.post("/accounts/tokens/new/", {"name": "ci", "expires_in_days": "7"})
    assert response.status_code == 200
    assert "<html" in text(response)
    assert re.search(r'value="afh_[^"]+"', text(response))
    # The language switcher returns to the token list, not to this POST-only address.
    assert '<input type="hidden" name="next" value="/accounts/tokens/">' in text(response)


def test_terms_redirect_tells_htmx_to_load_the_page(db, make_user, client):
    """An HTMX request must not swap the whole terms page into a fragment."""
    user = make_user(terms=False)
    client.force_login(user)
    response = client.get("/organisations/?a=1&b=2", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/terms/?next=%2Forganisations%2F%3Fa%3D1%26b%3D2"


def test_old_failed_sign_ins_are_pruned(make_user):
    """Failures older than the lock-out window count for nothing, so they are not kept."""
    from datetime import timedelta

    from aifactory.accounts.models import LoginFailure

    make_user("someone@example.org")
    window = timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    now = timezone.now()
    LoginFailure.objects.bulk_create(
        [
            LoginFailure(email=f"old{n}@example.org", created_at=now - window - timedelta(hours=n))
            for n in range(3)
        ]
        + [LoginFailure(email="recent@example.org", created_at=now - window / 2)]
    )

    response = Client().post("/accounts/login/", {"email": "someone@example.org", "password": "no"})
    assert response.status_code == 200
    assert sorted(LoginFailure.objects.values_list("email", flat=True)) == [
        "recent@example.org",
        "someone@example.org",
    ]
