"""The readiness check in a real browser: answers saved as they are chosen (HTMX), kept after a
reload, completion refused while questions are open, the result and its printable page."""

import re

import pytest
from playwright.sync_api import expect

from aifactory.advisor import readiness
from aifactory.advisor.models import Assessment, AssessmentStatus
from aifactory.conftest import PASSWORD

from .readiness_helpers import *  # noqa: F403 - the readiness fixtures

pytestmark = pytest.mark.browser


def option(page, question_id: str, level: int):
    """The radio button of that level, found by its label within its question."""
    question = readiness.questionnaire().question(question_id)
    text = readiness.tr(next(o for o in question.options if o.level == level).text, "en")
    return page.locator(f"#q-{question_id}").get_by_label(text, exact=True)


def test_fill_in_come_back_complete_and_print(page, bakery, demo_catalogue):
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(bakery["owner"].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Readiness check").click()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="AI readiness check")).to_be_visible()

    # Choosing an answer saves it at once: no button pressed.
    option(page, "data_customers", 2).check()
    expect(page.locator("#readiness-progress")).to_contain_text("1 of 20 questions answered")
    expect(page.locator("#readiness-progress")).to_contain_text("Saved.")
    page.reload()
    expect(option(page, "data_customers", 2)).to_be_checked()

    page.get_by_role("button", name="Complete the assessment").click()
    missing = page.get_by_role("alert").filter(has_text="Some questions are not answered yet")
    expect(missing).to_be_visible()
    expect(missing.get_by_role("link", name="1", exact=True)).to_have_attribute(
        "href", "#q-strategy_ideas"
    )

    levels = {"data": [2, 1, 1, 1], "compliance": [1, 2, 1, 1]}
    for d in readiness.questionnaire().dimensions:
        for n, question in enumerate(d.questions):
            level = levels.get(d.key, [4] * 4)[n]
            option(page, question.id, level).check()
    expect(page.locator("#readiness-progress")).to_contain_text("20 of 20 questions answered")
    page.get_by_role("button", name="Complete the assessment").click()

    expect(page.get_by_role("heading", name="Your AI readiness")).to_be_visible()
    assessment = Assessment.objects.get(organisation=bakery["org"])
    assert assessment.status == AssessmentStatus.COMPLETED
    chart = page.get_by_role("img", name=re.compile("AI readiness of Bäckerei"))
    expect(chart).to_be_visible()
    table = page.locator("#rq-levels")
    expect(table.get_by_role("row", name=re.compile("^Data"))).to_contain_text("1 · Starting out")
    plan = page.locator("#rq-plan")
    expect(plan.get_by_role("heading", name=re.compile("^Data"))).to_be_visible()
    expect(plan.get_by_role("heading", name=re.compile("^Compliance and AI Act"))).to_be_visible()
    first = assessment.result["plan"][0]["offerings"][0]
    expect(plan.locator(f'[data-offering="{first["external_id"]}"] a')).to_have_attribute(
        "href", f"/catalog/{first['external_id']}/"
    )

    page.get_by_role("link", name="Printable version").click()
    expect(page.get_by_role("heading", name="AI readiness check")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    page.emulate_media(media="print")
    expect(page.locator(".rq-print-tools")).to_be_hidden()
    expect(page.get_by_role("img", name=re.compile("AI readiness of"))).to_be_visible()
