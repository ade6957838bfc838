"""The portal in a real browser (Playwright driving Debian's Chromium), used as a person would.

Elements are found by their role and label, so these tests also check that the forms are labelled.
The live server runs in this process, so the mails it sends are in django.core.mail.outbox.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from aifactory.accounts.models import Invitation, Membership, Organisation, User
from aifactory.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def mailed_path(message, prefix: str) -> str:
    """The path of the link in a mail that starts with prefix; the mail names the public site."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(prefix) + r"\S+)", message.body)
    assert match, message.body
    return match.group(1)


def sign_up(page, *, email: str, first_name: str, last_name: str) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill(last_name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("I accept the terms of use").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your mailbox")).to_be_visible()


def sign_in(page, email: str) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def verify_from_mailbox(page, email: str) -> None:
    message = next(m for m in reversed(mail.outbox) if m.to == [email])
    assert message.subject == "Confirm your e-mail address"
    page.goto(mailed_path(message, "/accounts/verify/"))
    expect(page.get_by_role("heading", name="Your e-mail address is confirmed")).to_be_visible()


def assert_no_horizontal_overflow(page) -> None:
    widths = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth, location.pathname]"
    )
    assert widths[0] <= widths[1], f"{widths[2]} is {widths[0]}px wide on a {widths[1]}px screen"


def test_sign_up_register_an_organisation_invite_and_switch_to_german(page, open_page):
    # 1. From the home page to the sign-up form.
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    sign_up(page, email="anna.becker@example.lu", first_name="Anna", last_name="Becker")
    expect(page.get_by_role("main")).to_contain_text("anna.becker@example.lu")

    # 2. The link in the mail confirms the address; then she signs in.
    assert len(mail.outbox) == 1
    verify_from_mailbox(page, "anna.becker@example.lu")
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    sign_in(page, "anna.becker@example.lu")
    expect(page.get_by_role("heading", name="Hello, Anna")).to_be_visible()

    # 3. Register her company; a bad VAT number is refused next to the field, nothing is saved.
    page.get_by_role("link", name="Register an organisation").first.click()
    expect(page.get_by_role("heading", name="Register an organisation")).to_be_visible()
    page.get_by_label("Legal name").fill("Menuiserie Becker S.à r.l.")
    page.get_by_label("Country").select_option("LU")
    page.get_by_label("Kind").select_option(label="SME")
    page.get_by_label("Registration number").fill("B123456")
    page.get_by_label("VAT number").fill("LU12345678")
    page.get_by_label("Crafts").check()
    page.get_by_label("Staff headcount").fill("7")
    page.get_by_label("Annual turnover (EUR)").fill("900000")
    page.get_by_label("Balance sheet total (EUR)").fill("400000")
    page.get_by_role("button", name="Register").click()

    vat = page.get_by_label("VAT number")
    expect(vat).to_have_attribute("aria-invalid", "true")
    expect(vat).to_have_accessible_description(re.compile("is not a valid EU VAT number"))
    expect(page.get_by_role("alert")).to_contain_text("Please correct the fields marked below.")
    expect(page.get_by_label("Legal name")).to_have_value("Menuiserie Becker S.à r.l.")
    assert not Organisation.objects.exists()

    vat.fill("LU12345613")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Menuiserie Becker S.à r.l.")
    expect(page.get_by_role("status").filter(has_text="you are its owner")).to_be_visible()
    facts = page.get_by_role("region", name="Profile")
    expect(facts).to_contain_text("Micro")
    expect(facts).to_contain_text("LU12345613")
    organisation = Organisation.objects.get()
    assert organisation.size_class == "micro"

    # 4. Invite a colleague from the members page; the form answers without reloading the page.
    page.get_by_role("link", name="Manage members").click()
    expect(page.get_by_role("heading", name="Members", level=1)).to_be_visible()
    page.evaluate("() => { window.notReloaded = true; }")
    invite = page.get_by_role("region", name="Invite someone")
    invite.get_by_label("E-mail address").fill("ben.weber@")
    invite.get_by_role("button", name="Send invitation").click()
    expect(invite.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    assert not Invitation.objects.exists()
    invite.get_by_label("E-mail address").fill("ben.weber@example.lu")
    invite.get_by_label("Role").select_option("member")
    invite.get_by_role("button", name="Send invitation").click()
    pending = page.get_by_role("region", name="Pending invitations")
    expect(pending.get_by_role("cell", name="ben.weber@example.lu", exact=True)).to_be_visible()
    sent = page.get_by_role("status").filter(
        has_text="We sent an invitation to ben.weber@example.lu"
    )
    expect(sent).to_be_visible()
    assert page.evaluate("() => window.notReloaded === true"), "the page was reloaded"
    expect(
        page.get_by_role("region", name="Invite someone").get_by_label("E-mail address")
    ).to_be_empty()

    invitation_mail = mail.outbox[-1]
    assert invitation_mail.to == ["ben.weber@example.lu"]
    assert "Menuiserie Becker" in invitation_mail.body

    # The colleague opens the link in his own browser, signs up, confirms and accepts.
    ben = open_page()
    ben.goto(mailed_path(invitation_mail, "/invitations/"))
    expect(ben.get_by_role("heading", name="Join Menuiserie Becker S.à r.l.")).to_be_visible()
    ben.get_by_role("main").get_by_role("link", name="Sign up").click()
    sign_up(ben, email="ben.weber@example.lu", first_name="Ben", last_name="Weber")
    verify_from_mailbox(ben, "ben.weber@example.lu")
    ben.get_by_role("main").get_by_role("link", name="Sign in").click()
    sign_in(ben, "ben.weber@example.lu")
    invitations = ben.get_by_role("region", name="Invitations for you")
    expect(invitations).to_contain_text("Menuiserie Becker S.à r.l.")
    invitations.get_by_role("button", name="Accept").click()
    expect(ben.get_by_role("heading", level=1)).to_have_text("Menuiserie Becker S.à r.l.")
    expect(
        ben.get_by_role("status").filter(has_text="Welcome to Menuiserie Becker")
    ).to_be_visible()
    assert Invitation.objects.get().status == "accepted"
    assert Membership.objects.get(user__email="ben.weber@example.lu").role == "member"

    page.reload()
    expect(page.get_by_role("row", name=re.compile("Ben Weber"))).to_be_visible()
    expect(page.get_by_role("region", name="Pending invitations")).to_contain_text(
        "No pending invitations."
    )

    # 5. Anna switches the portal to German and stays on the same page.
    members_url = page.url
    page.get_by_label("Language").select_option("de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    assert page.url == members_url
    nav = page.get_by_role("banner").get_by_role("navigation")
    expect(nav.get_by_role("link", name="Organisationen")).to_be_visible()
    expect(page.get_by_role("heading", name="Mitglieder", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Einladung senden")).to_be_visible()
    expect(page.get_by_label("Sprache")).to_have_value("de")
    # The choice is remembered for the next page.
    nav.get_by_role("link", name="Organisationen").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", name="Organisationen", level=1)).to_be_visible()


def test_pages_fit_a_phone_screen_and_the_navigation_is_reachable(open_page, make_user, make_org):
    user = make_user()
    organisation = make_org(owner=user, legal_name="Fiduciaire Internationale du Luxembourg S.A.")
    phone = open_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)

    phone.goto("/")
    assert_no_horizontal_overflow(phone)
    expect(phone.get_by_role("link", name="Sign in").first).to_be_in_viewport()
    phone.get_by_role("link", name="Sign in").first.click()
    expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_no_horizontal_overflow(phone)

    sign_in(phone, user.email)
    nav = phone.get_by_role("navigation", name="Main")
    link = nav.get_by_role("link", name="Organisations")
    expect(link).to_be_in_viewport()
    link.tap()
    expect(phone.get_by_role("heading", name="Organisations", level=1)).to_be_visible()
    phone.get_by_role("link", name=organisation.legal_name).tap()
    expect(phone.get_by_role("heading", level=1)).to_have_text(organisation.legal_name)
    assert_no_horizontal_overflow(phone)

    # The personal menu opens by touch and offers to sign out.
    phone.locator("details.usermenu summary").tap()
    sign_out = phone.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_in_viewport()
    sign_out.tap()
    expect(phone.get_by_role("navigation", name="Main")).to_have_count(0)


def test_skip_link_comes_first_and_sign_in_works_with_the_keyboard_only(page, make_user):
    user = make_user()
    page.goto("/accounts/login/")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()

    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail address")).to_be_focused()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("main").get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert User.objects.get(pk=user.pk).last_login is not None
