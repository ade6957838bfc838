"""The front door end to end in a real browser (Playwright driving Debian's Chromium).

A bakery owner describes the need in German and finds a solution that is described only in
French; asks the factory about it; an advisor answers from the inbox; the owner reads the answer.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from aifactory.advisor.models import Case, CaseStatus
from aifactory.conftest import PASSWORD

pytestmark = pytest.mark.browser

NEED = (
    "Wir sind eine Bäckerei mit drei Filialen in Esch. Jeden Abend werfen wir Brot und "
    "Teilchen weg, weil wir nie wissen, wie viel wir für den nächsten Tag backen sollen."
)
FRENCH_TITLE = "Prévision des ventes pour boulangeries-pâtisseries"


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_need_in_german_to_an_answer_from_the_factory(
    demo_catalogue, page, open_page, make_user, make_org
):
    assert demo_catalogue["sol-bakery-demand-forecast"]["title"] == {"fr": FRENCH_TITLE}
    owner = make_user(email="baker@journey.test")
    make_org(owner=owner, legal_name="Bäckerei Beispill", kind="sme")
    advisor = make_user(email="advisor@journey.test", staff_role="advisor")

    # The owner describes the need in German ...
    sign_in(page, owner.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find help").click()
    page.get_by_label("Describe your business and your need").fill(NEED)
    page.get_by_role("button", name="Find help").click()

    # ... and among the results is a solution described only in French, with the reason.
    card = page.locator(".offering-card", has_text=FRENCH_TITLE)
    expect(card).to_be_visible()
    expect(card).to_contain_text("Described in French; found by meaning.")

    # Asking the factory carries the need to the case form.
    page.get_by_role("button", name="Ask the factory about this").click()
    expect(page.locator("#id_need")).to_have_value(NEED)
    page.locator("#id_subject").fill("Zu viel Brot am Abend")
    page.locator("#case-submit").click()
    reference = page.locator("#case-reference")
    expect(reference).to_have_text(re.compile(r"^C-\d{4}-\d{5}$"))
    case = Case.objects.get(reference=reference.inner_text())
    assert case.status == CaseStatus.NEW
    assert "sol-bakery-demand-forecast" in [r["external_id"] for r in case.matchmaking["results"]]

    # The advisor finds it in the inbox and answers.
    desk = open_page()
    sign_in(desk, advisor.email)
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Advisor inbox").click()
    row = desk.locator(f"#case-{case.reference}")
    expect(row).to_contain_text("Zu viel Brot am Abend")
    row.get_by_role("link", name=case.reference).click()
    desk.locator("#message_body").fill(
        "Guten Tag! Die Absatzprognose für Bäckereien passt gut. Wir stellen Sie dem Anbieter vor."
    )
    desk.locator("#message-submit").click()
    expect(desk.locator("#timeline")).to_contain_text("Die Absatzprognose für Bäckereien")

    # The owner sees the answer, and was told by e-mail.
    page.reload()
    expect(page.locator("#timeline")).to_contain_text("Die Absatzprognose für Bäckereien")
    expect(page.locator("#case-status")).not_to_have_text(re.compile("new", re.I))
    case.refresh_from_db()
    assert case.first_response_at is not None
    assert case.status == CaseStatus.IN_PROGRESS
    assert any(owner.email in m.to and case.reference in m.subject for m in mail.outbox)
