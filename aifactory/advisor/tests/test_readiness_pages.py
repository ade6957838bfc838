"""The readiness assessment in the portal: start, save as you go, complete, result, print."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import translation

from aifactory.advisor.models import Assessment, AssessmentStatus
from aifactory.advisor.services import readiness as services

from .readiness_helpers import *  # noqa: F403 - the readiness fixtures
from .readiness_helpers import answers_at


@pytest.fixture(autouse=True)
def keep_the_language():
    """A page request activates its language for the thread; put back the one before, so the
    next test does not run in Luxembourgish."""
    before = translation.get_language()
    yield
    translation.activate(before)


def login(user, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def checked(html: str, question_id: str) -> str | None:
    """The value of the radio button checked for a question, as the browser would show it."""
    for tag in re.findall(rf'<input[^>]*name="{question_id}"[^>]*>', html):
        if " checked" in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def test_start_answer_come_back_and_complete(demo_catalogue, bakery):
    owner = login(bakery["owner"])
    index = owner.get("/readiness/")
    assert index.status_code == 200
    assert "Bäckerei &lt;Backstuff&gt; S.à r.l." in index.content.decode()

    started = owner.post(f"/readiness/organisations/{bakery['org'].pk}/start/", {"language": "fr"})
    assessment = Assessment.objects.get(organisation=bakery["org"])
    assert started.status_code == 302 and started["Location"] == f"/readiness/{assessment.pk}/"
    assert assessment.language == "fr"

    page = owner.get(started["Location"]).content.decode()
    assert "Où sont vos données clients (adresses, commandes, factures) ?" in page
    assert page.count('type="radio"') == 100  # 20 questions, 5 options each

    saved = owner.post(
        f"/readiness/{assessment.pk}/answers/",
        {"data_customers": "scattered", "skills_use": "some_alone", "action": "save"},
    )
    assert saved.status_code == 302
    # With HTMX each choice is saved on its own and the progress line comes back.
    live = owner.post(
        f"/readiness/{assessment.pk}/answers/",
        {"data_customers": "scattered", "skills_use": "some_alone", "strategy_ideas": "ideas"},
        headers={"HX-Request": "true"},
    )
    assert live.status_code == 200
    assert "3 of 20 questions answered" in live.content.decode()
    assert 'id="readiness-progress"' in live.content.decode()

    # Someone else of the bakery comes back later: the answers are there.
    member = login(bakery["member"])
    again = member.post(f"/readiness/organisations/{bakery['org'].pk}/start/")
    assert again["Location"] == f"/readiness/{assessment.pk}/"
    page = member.get(again["Location"]).content.decode()
    assert checked(page, "data_customers") == "scattered"
    assert checked(page, "strategy_ideas") == "ideas"
    assert checked(page, "data_quality") is None

    # Completing too early: refused, each open question marked, nothing lost.
    early = member.post(
        f"/readiness/{assessment.pk}/answers/", {"data_quality": "messy", "action": "complete"}
    )
    assert early.status_code == 422
    html = early.content.decode()
    assert 'id="rq-missing"' in html
    assert html.count("is not answered yet") == 16
    assert '<a href="#q-data_history">5</a>' in html
    assert checked(html, "data_quality") == "messy"
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.DRAFT
    assert len(assessment.answers) == 4

    answers = answers_at({"data": 1, "compliance": [2, 1, 2, 1], "strategy": 5})
    done = member.post(f"/readiness/{assessment.pk}/answers/", {**answers, "action": "complete"})
    assert done.status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.COMPLETED and assessment.overall_level == 2

    result = member.get(done["Location"])
    html = result.content.decode()
    assert result.status_code == 200
    assert 'id="rq-overall-level" aria-hidden="true">2<' in html
    assert "Level 2 of 5: Exploring" in html
    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    ET.fromstring(svg)
    levels = re.findall(r'<tr data-dimension="(\w+)" data-level="(\d)">', html)
    assert levels == [
        ("strategy", "5"),
        ("data", "1"),
        ("skills", "3"),
        ("processes", "3"),
        ("technology", "3"),
        ("compliance", "1"),
    ]
    plan = re.findall(r'<div class="rq-plan-item" data-dimension="(\w+)">', html)
    assert plan == ["data", "compliance"]
    for item in assessment.result["plan"]:
        for offering in item["offerings"]:
            assert f'href="/catalog/{offering["external_id"]}/"' in html
    assert "Bäckerei &lt;Backstuff&gt; S.à r.l." in html and "<Backstuff>" not in html
    assert f'href="/readiness/{assessment.pk}/print/?lang=en"' in html


def test_an_unknown_option_in_the_form_is_shown_next_to_its_question(bakery):
    assessment, _ = services.assessment_start(actor=bakery["owner"], organisation=bakery["org"])
    response = login(bakery["owner"]).post(
        f"/readiness/{assessment.pk}/answers/", {"strategy_ideas": "maybe", "action": "save"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    error = re.search(
        r'<fieldset class="rq-question has-error" id="q-strategy_ideas".*?</ul>', html, re.S
    )
    assert error and "maybe" in error.group(0)
    assessment.refresh_from_db()
    assert assessment.answers == {}


def test_the_printable_page(completed, bakery):
    client = login(bakery["owner"])
    response = client.get(f"/readiness/{completed.pk}/print/?lang=lb")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="lb">' in html
    assert 'class="topbar"' not in html and "mainnav" not in html  # no navigation
    assert "advisor/readiness.css" in html
    assert "Donnéeën" in html and "Konformitéit an AI Act" in html
    assert "Schreift einfach Reegele fir KI-Tools" in html  # a step of the plan, in lb
    assert re.search(r'data-print-href="http://testserver/catalog/[\w-]+/"', html)
    ET.fromstring(re.search(r"<svg .*?</svg>", html, re.S).group(0))
    css = Path(finders.find("advisor/readiness.css")).read_text(encoding="utf-8")
    rules = css[css.index("@media print") :]
    assert ".topbar" in rules and ".rq-print-tools" in rules and "display: none" in rules

    # A draft prints as the questionnaire, the answers given so far ticked.
    draft, _ = services.assessment_start(
        actor=bakery["owner"], organisation=bakery["org"], answers={"data_customers": "paper"}
    )
    html = client.get(f"/readiness/{draft.pk}/print/?lang=de").content.decode()
    assert "Wo sind Ihre Kundendaten" in html
    ticked = re.search(r'data-question="data_customers".*?</ul>', html, re.S).group(0)
    assert ticked.count("✓") == 1 and "✓</span>Meist auf Papier oder im Kopf." in ticked


def test_the_chart_as_a_file(completed, bakery):
    response = login(bakery["member"]).get(f"/readiness/{completed.pk}/chart.svg?lang=fr")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.get("data-levels") == "5,1,3,3,3,1"
    assert "Compétences" in response.content.decode()


def test_an_outsider_sees_nothing(completed, bakery, stranger):
    client = login(stranger)
    for path in ("", "print/", "chart.svg"):
        assert client.get(f"/readiness/{completed.pk}/{path}").status_code == 404
    assert client.get(f"/readiness/organisations/{bakery['org'].pk}/").status_code == 403
    start = client.post(f"/readiness/organisations/{bakery['org'].pk}/start/")
    assert start.status_code == 403
    answer = client.post(f"/readiness/{completed.pk}/answers/", {"data_customers": "paper"})
    assert answer.status_code == 404
    assert "Backstuff" not in client.get("/readiness/").content.decode()


def test_the_advisor_reads_results_and_progress_but_does_not_answer(
    completed, bakery, staff_advisor
):
    client = login(staff_advisor)
    assert "Level 2 of 5" in client.get(f"/readiness/{completed.pk}/").content.decode()
    listing = client.get("/readiness/").content.decode()
    assert f'href="/readiness/organisations/{bakery["org"].pk}/"' in listing

    draft, _ = services.assessment_start(
        actor=bakery["owner"], organisation=bakery["org"], answers={"data_customers": "paper"}
    )
    page = client.get(f"/readiness/{draft.pk}/").content.decode()
    assert 'type="radio"' not in page
    assert "1 of 20 questions answered" in page
    assert (
        client.post(f"/readiness/{draft.pk}/answers/", {"skills_use": "never"}).status_code == 403
    )
    history = client.get(f"/readiness/organisations/{bakery['org'].pk}/").content.decode()
    assert 'id="rq-start"' not in history
    assert 'id="rq-history"' in history


def test_the_summary_include_for_pages_about_an_organisation(
    completed, bakery, staff_advisor, stranger
):
    template = Template('{% include "advisor/readiness_summary.html" with organisation=org %}')

    def render(user):
        request = RequestFactory().get("/")
        request.user = user
        return template.render(Context({"org": bakery["org"], "request": request}))

    html = render(staff_advisor)
    assert "Level 2 of 5: Exploring" in html
    assert re.findall(r'<tr data-dimension="(\w+)"><th scope="row">[^<]+</th><td>(\d)</td>', html)[
        :2
    ] == [
        ("strategy", "5"),
        ("data", "1"),
    ]
    assert f'href="/readiness/{completed.pk}/"' in html
    assert render(stranger).strip() == ""


def test_the_dashboard_panel(completed, bakery, staff_advisor):
    html = login(bakery["owner"]).get("/dashboard/").content.decode()
    assert 'id="readiness-title"' in html
    assert f'href="/readiness/{completed.pk}/"' in html
    staff = login(staff_advisor).get("/dashboard/").content.decode()
    assert "1 assessment completed in the last 30 days." in staff


def test_the_pages_speak_the_chosen_language(completed, bakery):
    html = login(bakery["owner"], "de").get(f"/readiness/{completed.pk}/").content.decode()
    assert '<html lang="de">' in html
    assert "Ihr Aktionsplan" in html and "Your action plan" not in html
    assert "Kompetenzen" in html and "Am Erkunden" in html
    lb = login(bakery["owner"], "lb").get("/readiness/").content.decode()
    assert "KI-Reifegrad-Check" in lb and "AI readiness check" not in lb


def test_a_completed_assessment_is_not_changed_from_the_page(completed, bakery):
    client = login(bakery["owner"])
    response = client.post(
        f"/readiness/{completed.pk}/answers/",
        {"data_customers": "exportable", "action": "save"},
        follow=True,
    )
    assert response.redirect_chain == [(f"/readiness/{completed.pk}/", 302)]
    assert "This assessment is completed; start a new one to change it." in (
        response.content.decode()
    )
    completed.refresh_from_db()
    assert completed.answers["data_customers"] == "paper"
