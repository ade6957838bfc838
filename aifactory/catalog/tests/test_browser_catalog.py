"""The catalogue in a real browser (Playwright driving Debian's Chromium): searching with facets,
and a listing going from a provider's draft to the public catalogue through an operator."""

import re

import pytest
from playwright.sync_api import expect

from aifactory.catalog import services
from aifactory.catalog.models import Offering
from aifactory.conftest import PASSWORD

from .conftest import draft_data

pytestmark = pytest.mark.browser


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def publish(provider, operator, **changes):
    offering = services.offering_create(
        actor=provider["manager"], data=draft_data(provider["org"], **changes)
    )
    services.offering_submit(actor=provider["manager"], offering=offering)
    return services.offering_approve(actor=operator, offering=offering)


def test_search_the_catalogue_with_facets(page, provider, operator):
    publish(
        provider,
        operator,
        external_id="sol-bakery",
        type="solution",
        title={"fr": "Prévision des ventes pour boulangeries"},
        description={
            "fr": "Prévoit les ventes de pain du lendemain à partir des données de caisse, "
            "pour cuire juste ce qu'il faut et jeter moins de pain."
        },
        sectors=["crafts"],
        languages=["fr", "lb"],
    )
    publish(
        provider,
        operator,
        external_id="course-ml-finance",
        type="course",
        title={"en": "Machine learning for fund administrators"},
        description={"en": "Two days on anomaly detection in fund accounting."},
        sectors=["finance"],
        stages=["upskill"],
    )
    services.catalog_index_pending()

    page.goto("/")
    page.get_by_role("navigation", name="Explore").get_by_role("link", name="Catalogue").click()
    expect(page.get_by_role("heading", name="Catalogue", level=1)).to_be_visible()
    results = page.locator("#catalog-results")
    expect(results).to_contain_text("2 published offerings")
    expect(page.locator("#count-type-course")).to_have_text("1")

    # Ticking a facet updates the results and the counts in place (HTMX), and the address.
    page.evaluate("() => { window.notReloaded = true; }")
    page.get_by_role("checkbox", name=re.compile(r"^Course")).check()
    expect(results).to_contain_text("1 published offering")
    expect(results).to_contain_text("Machine learning for fund administrators")
    expect(results).not_to_contain_text("boulangeries")
    expect(page.locator("#count-sector-crafts")).to_have_text("0")
    expect(page).to_have_url(re.compile(r"type=course"))
    assert page.evaluate("() => window.notReloaded === true")

    # A need in German finds the French listing, and says why.
    page.get_by_role("checkbox", name=re.compile(r"^Course")).uncheck()
    expect(results).to_contain_text("2 published offerings")
    search = page.get_by_label("Search the catalogue")
    search.fill("Wir sind eine Bäckerei und werfen jeden Abend Brot weg")
    search.press("Enter")
    expect(results).to_contain_text("best first")
    card = results.get_by_role("listitem").filter(has_text="boulangeries").first
    expect(card).to_be_visible()
    expect(card.get_by_role("list", name="Why it matched")).to_contain_text("French")
    assert page.evaluate("() => window.notReloaded === true")

    # The offering's page, in the French it is written in.
    card.get_by_role("link", name="Prévision des ventes pour boulangeries").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Prévision des ventes pour boulangeries"
    )
    expect(page.get_by_role("main")).to_contain_text("Written in French")


def test_a_provider_proposes_a_listing_and_an_operator_approves_it(
    page, open_page, provider, operator
):
    # The provider's manager lists a workshop, in German only.
    sign_in(page, provider["manager"].email)
    page.locator("details.usermenu summary").click()
    page.get_by_role("link", name="My listings").click()
    expect(page.get_by_role("heading", name="My listings")).to_be_visible()
    page.get_by_role("link", name="List an offering").click()
    page.get_by_label("Type").select_option(label="Service")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_label("Title in English")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("Please correct the fields marked below.")
    assert not Offering.objects.exists()

    page.get_by_label("Title in German").fill("KI-Werkstatt für Schreinereien")
    page.get_by_label("Description in German").fill(
        "Ein Tag in Ihrer Werkstatt: wo KI beim Aufmaß und bei Angeboten hilft."
    )
    page.get_by_label("Discover").check()
    page.get_by_label("Crafts").check()
    page.get_by_label("Price or cost").fill("800 € pro Tag")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("KI-Werkstatt für Schreinereien")
    expect(page.get_by_role("status").filter(has_text="Saved as a draft")).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="is submitted for review")).to_be_visible()
    offering = Offering.objects.get()
    assert offering.status == "in_review"

    # Not public yet.
    visitor = open_page()
    visitor.goto("/catalog/")
    expect(visitor.locator("#catalog-results")).not_to_contain_text("KI-Werkstatt")

    # The operator finds it in the review queue and approves it.
    desk = open_page()
    sign_in(desk, operator.email)
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Catalogue").click()
    desk.get_by_role("link", name="Review queue").click()
    item = desk.get_by_role("listitem").filter(has_text="KI-Werkstatt für Schreinereien")
    expect(item).to_contain_text("Holzwierk S.à r.l.")
    item.get_by_role("button", name="Approve and publish").click()
    expect(desk.get_by_role("status").filter(has_text="is published")).to_be_visible()
    expect(desk.get_by_role("main")).to_contain_text("Nothing waits for review.")
    offering.refresh_from_db()
    assert offering.status == "published"

    # Now everyone finds it.
    visitor.reload()
    expect(visitor.locator("#catalog-results")).to_contain_text("KI-Werkstatt für Schreinereien")
    visitor.get_by_role("link", name="KI-Werkstatt für Schreinereien").click()
    expect(visitor.get_by_role("main")).to_contain_text("800 € pro Tag")
    jsonld = visitor.locator('script[type="application/ld+json"]')
    assert '"@type": "Service"' in jsonld.text_content()
