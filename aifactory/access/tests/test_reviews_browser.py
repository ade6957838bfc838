"""Fast Lane end to end in a real browser (Playwright driving Debian's Chromium).

A start-up applies for GPU hours in the portal; an operator confirms the eligibility, writes the
technical assessment and accepts with fewer GPU hours on the decision screen, which shows what is
left in the pool; the applicant then sees the decision, opens the project and its allocation.
"""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from aifactory.access.models import Allocation, Application
from aifactory.conftest import PASSWORD

from .applications_helpers import make_call, make_mode, pool  # noqa: F401

pytestmark = pytest.mark.browser


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_fast_lane_application_to_project_with_reduced_hours(
    page,
    open_page,
    make_user,
    make_org,
    pool,  # noqa: F811
):
    make_call(make_mode(pool), code="fast-lane-2026", title={"en": "Fast Lane 2026"})
    founder = make_user("founder@orbital.test")
    make_org(owner=founder, legal_name="Orbital Start-up S.A.", kind="startup")
    operator = make_user("operator@factory.test", staff_role="operator")
    start = (date.today() + timedelta(days=14)).isoformat()

    # The founder starts an application, fills the form and submits it.
    sign_in(page, founder.email)
    page.goto("/access/applications/new/")
    page.get_by_label("Call").select_option(label="Fast Lane 2026")
    page.get_by_label("Organisation").select_option(label="Orbital Start-up S.A.")
    page.get_by_role("button", name="Start the application").click()
    expect(page.locator("#application-form")).to_be_visible()
    for field, value in {
        "Title": "Onboard cloud detection for small satellites",
        "Abstract": "We train a compact vision model that flags clouds before downlink.",
        "Objectives and expected impact": "Halve the downlink of useless images.",
        "Reasons for this category": "It classifies images; no people are involved.",
        "Model type": "vision transformer",
        "Datasets to be used": "Sentinel-2 L1C tiles with cloud masks.",
        "GPU hours": "20000",
        "Duration (months)": "3",
        "Justification and benchmark evidence": "Linear scaling measured up to 32 GPUs.",
        "Ethics and safety": "Earth observation only.",
    }.items():
        page.get_by_label(field, exact=True).fill(value)
    page.get_by_label("Sector").select_option("space")
    page.get_by_label("AI Act risk category").select_option("minimal")
    page.get_by_label("Start date").fill(start)
    page.locator("#save-application").click()
    expect(page.locator("#missing")).to_have_count(0)
    page.locator("#submit-application").click()
    expect(page.locator("[data-status]").first).to_have_attribute(
        "data-status", "eligibility_check"
    )
    application = Application.objects.get(title="Onboard cloud detection for small satellites")
    detail = f"/access/applications/{application.pk}/"

    # The operator confirms the eligibility and writes the technical assessment.
    desk = open_page()
    sign_in(desk, operator.email)
    desk.goto("/access/queue/")
    desk.locator(f"#application-{application.reference}").get_by_role(
        "link", name=application.reference
    ).click()
    desk.locator("#eligibility-form").get_by_label("Eligible").select_option("yes")
    desk.get_by_role("button", name="Record the eligibility decision").click()
    technical = desk.locator("#technical-form")
    expect(technical).to_be_visible()
    technical.get_by_label("Technical feasibility").fill("The code runs on our GPU nodes.")
    technical.get_by_label("Software and environment").fill("PyTorch 2 in a container.")
    technical.get_by_label("Data (availability, size, transfer)").fill("2 TB, already staged.")
    technical.get_by_label("Scaling evidence").fill("Shown to 32 GPUs; 15,000 hours suffice.")
    technical.get_by_label("Recommendation").select_option("accept_reduced")
    desk.locator("#technical-submit").click()
    expect(desk.locator("#reviews")).to_contain_text("PyTorch 2 in a container.")

    # The decision screen shows the pool; the operator grants fewer GPU hours.
    desk.locator("#open-decision").click()
    expect(desk.locator("#pool-gpu_hours")).to_contain_text("1000000")
    expect(desk.locator("#pool-gpu_hours")).to_have_attribute("data-fits", "yes")
    desk.get_by_label("Outcome").select_option("accepted_reduced")
    granted = desk.get_by_label("Granted: GPU hours")
    expect(granted).to_have_value("20000")
    granted.fill("15000")
    desk.get_by_label("Reason").fill("The scaling evidence covers 15,000 hours.")
    desk.locator("#decide-submit").click()
    expect(desk.locator("#messages")).to_contain_text("is open")
    expect(desk.locator("#decision-outcome")).to_have_attribute("data-outcome", "accepted_reduced")

    # The founder sees the decision, opens the project and its allocation.
    page.goto(detail)
    expect(page.locator("#decision-granted")).to_contain_text("15000 granted of 20000 requested")
    expect(page.locator("#decision-reason")).to_contain_text("covers 15,000 hours")
    page.locator("#decision-project").click()
    allocation = Allocation.objects.get(project__application=application)
    assert allocation.resources["gpu_hours"] == 15000
    table = page.locator(f"#resources-{allocation.pk}")
    expect(table).to_contain_text("GPU hours")
    expect(table).to_contain_text("15000")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Onboard cloud detection for small satellites"
    )
