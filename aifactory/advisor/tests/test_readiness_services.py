"""The services of the readiness assessment: start, answer, complete, and the action plan."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from aifactory.advisor import readiness
from aifactory.advisor.models import Assessment, AssessmentStatus
from aifactory.advisor.services import readiness as services
from aifactory.catalog.models import Offering, OfferingStatus
from aifactory.core.errors import InvalidTransition
from aifactory.core.models import AuditEvent

from .readiness_helpers import *  # noqa: F403 - the readiness fixtures
from .readiness_helpers import answers_at


def start(bakery, **kwargs):
    assessment, _created = services.assessment_start(
        actor=bakery["owner"], organisation=bakery["org"], **kwargs
    )
    return assessment


def test_start_makes_one_draft_and_continues_it(bakery):
    first, created = services.assessment_start(
        actor=bakery["owner"], organisation=bakery["org"], language="lb"
    )
    assert created and first.status == AssessmentStatus.DRAFT
    assert (first.language, first.version) == ("lb", readiness.CURRENT_VERSION)
    again, created = services.assessment_start(actor=bakery["member"], organisation=bakery["org"])
    assert not created and again.pk == first.pk
    assert Assessment.objects.count() == 1
    assert AuditEvent.objects.filter(action="readiness.start").count() == 1


def test_the_default_language_is_the_person_s_else_the_portal_s(bakery, make_org):
    from aifactory.accounts.services import user_update_profile

    with translation.override("lb"):
        assert start(bakery).language == "lb"
    user_update_profile(
        user=bakery["member"], first_name="Léa", last_name="", preferred_language="fr"
    )
    own = make_org(owner=bakery["member"])
    with translation.override("de"):
        assert start({"owner": bakery["member"], "org": own}).language == "fr"


def test_answers_are_kept_merged_and_cleared(bakery):
    assessment = start(bakery, language="en")
    services.assessment_answer(
        actor=bakery["owner"],
        assessment=assessment,
        answers={"data_customers": "paper", "skills_use": "never"},
    )
    # Someone else comes back later: the earlier answers are still there.
    again = start({"owner": bakery["member"], "org": bakery["org"]})
    services.assessment_answer(
        actor=bakery["member"],
        assessment=again,
        answers={"data_customers": "one_system", "skills_use": None},
        language="de",
    )
    stored = Assessment.objects.get(pk=assessment.pk)
    assert stored.answers == {"data_customers": "one_system"}
    assert stored.language == "de"
    event = AuditEvent.objects.filter(action="readiness.answer").latest("created_at")
    assert event.changes == {
        "data_customers": ["paper", "one_system"],
        "skills_use": ["never", None],
        "language": ["en", "de"],
    }


def test_an_invalid_option_is_refused_naming_the_question_and_nothing_is_saved(bakery):
    assessment = start(bakery, answers={"strategy_ideas": "heard"})
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        services.assessment_answer(
            actor=bakery["owner"],
            assessment=assessment,
            answers={"strategy_ideas": "ideas", "data_history": "forever"},
        )
    errors = caught.value.message_dict
    assert list(errors) == ["data_history"]
    assert errors["data_history"][0].startswith(
        "Question 5 (“How far back can you look at your sales, orders or jobs?”): “forever”"
    )
    assert Assessment.objects.get(pk=assessment.pk).answers == {"strategy_ideas": "heard"}


def test_bad_answers_at_start_leave_no_empty_draft(bakery):
    with pytest.raises(ValidationError):
        start(bakery, answers={"strategy_ideas": "maybe"})
    with pytest.raises(ValidationError) as caught:
        start(bakery, language="es")
    assert "language" in caught.value.message_dict
    assert not Assessment.objects.exists()


def test_completion_is_refused_while_questions_are_open_naming_them(bakery):
    answers = answers_at({})
    for missing in ("skills_training", "technology_connect", "compliance_oversight"):
        del answers[missing]
    assessment = start(bakery, answers=answers)
    with translation.override("de"), pytest.raises(ValidationError) as caught:
        services.assessment_complete(actor=bakery["owner"], assessment=assessment)
    errors = caught.value.message_dict
    assert set(errors) == {"skills_training", "technology_connect", "compliance_oversight"}
    assert errors["skills_training"] == [
        "Frage 9 („Hat jemand in Ihrem Betrieb eine Schulung zu KI oder Daten besucht?“) "
        "ist noch nicht beantwortet."
    ]
    stored = Assessment.objects.get(pk=assessment.pk)
    assert stored.status == AssessmentStatus.DRAFT and stored.result == {}
    assert not AuditEvent.objects.filter(action="readiness.complete").exists()


def test_complete_scores_plans_and_freezes(completed, bakery):
    stored = Assessment.objects.get(pk=completed.pk)
    assert stored.status == AssessmentStatus.COMPLETED and stored.completed_at
    levels = {row["key"]: row["level"] for row in stored.result["dimensions"]}
    assert levels == {
        "strategy": 5,
        "data": 1,
        "skills": 3,
        "processes": 3,
        "technology": 3,
        "compliance": 1,
    }
    # (5 + 1 + 3 + 3 + 3 + 1.5) / 6 = 2.75
    assert stored.overall_level == 2 == stored.result["overall"]["level"]
    assert stored.result["overall"]["score"] == 2.75
    event = AuditEvent.objects.get(action="readiness.complete")
    assert event.changes["overall_level"] == 2
    assert event.changes["levels"]["data"] == 1

    with pytest.raises(InvalidTransition):
        services.assessment_complete(actor=bakery["owner"], assessment=stored)
    with pytest.raises(InvalidTransition):
        services.assessment_answer(
            actor=bakery["owner"], assessment=stored, answers={"data_customers": "exportable"}
        )
    # A new assessment starts fresh; the completed one is history.
    fresh, created = services.assessment_start(actor=bakery["owner"], organisation=bakery["org"])
    assert created and fresh.answers == {}


def test_the_plan_works_on_the_weakest_and_recommends_published_offerings(completed, bakery):
    plan = completed.result["plan"]
    assert [item["dimension"] for item in plan] == ["data", "compliance"]
    assert [item["level"] for item in plan] == [1, 1]
    assert plan[0]["steps"] == ["data-start-1", "data-start-2", "data-start-3"]
    assert plan[0]["query"].startswith("Betriebsdaten an einem Ort ordnen")  # in German
    recommended = [o for item in plan for o in item["offerings"]]
    assert all(1 <= len(item["offerings"]) <= 3 for item in plan)
    ids = [o["external_id"] for o in recommended]
    assert len(ids) == len(set(ids)), "an offering is recommended once"
    published = set(
        Offering.objects.filter(status=OfferingStatus.PUBLISHED).values_list(
            "external_id", flat=True
        )
    )
    assert set(ids) <= published
    # What helps: data services for the data, AI Act and data protection for compliance.
    assert {"svc-data-preparation-quality", "svc-pseudonymisation-data-service"} & set(
        o["external_id"] for o in plan[0]["offerings"]
    )
    assert {"svc-ai-act-support", "course-datenschutz-ki", "course-ai-act-essentials"} & set(
        o["external_id"] for o in plan[1]["offerings"]
    )
    # Nothing for another sector (a course on AI in health care does not help a bakery).
    for external_id in ids:
        sectors = set(Offering.objects.get(external_id=external_id).sectors)
        assert sectors & {"crafts", "retail", "general"}, external_id
    # History: the titles are stored, so a later change of the catalogue does not rewrite it.
    first = recommended[0]
    Offering.objects.filter(external_id=first["external_id"]).update(title={"en": "Renamed"})
    completed.refresh_from_db()
    assert (
        completed.result["plan"][0]["offerings"][0]["title"] == first["title"] != {"en": "Renamed"}
    )


def test_the_result_reads_in_every_language(completed):
    q = readiness.questionnaire()
    de = readiness.present_result(q, completed.result, "de")
    lb = readiness.present_result(q, completed.result, "lb")
    assert de["overall"]["name"] == "Am Erkunden" and lb["overall"]["name"] == "Um Entdecken"
    assert de["plan"][0]["name"] == "Daten" and lb["plan"][0]["name"] == "Donnéeën"
    assert de["plan"][0]["steps"][0].startswith("Bringen Sie Kunden-")
    assert lb["plan"][1]["steps"][2].startswith("Schreift einfach Reegele")
    # Why an offering was chosen is stored as facts and worded for the reader.
    for item in completed.result["plan"]:
        for o in item["offerings"]:
            assert o["sector"] in ("crafts", "retail", "")
    en = readiness.present_result(q, completed.result, "en")
    worded = {r for item in en["plan"] for o in item["offerings"] for r in o["reasons"]}
    assert worded <= {
        "Made for your sector: Crafts.",
        "Made for your sector: Retail.",
        "Your organisation meets its conditions.",
    }


def test_only_members_fill_in(bakery, staff_advisor, stranger):
    assessment = start(bakery)
    for person in (staff_advisor, stranger):
        with pytest.raises(PermissionDenied):
            services.assessment_start(actor=person, organisation=bakery["org"])
        with pytest.raises(PermissionDenied):
            services.assessment_answer(
                actor=person, assessment=assessment, answers={"skills_use": "never"}
            )
        with pytest.raises(PermissionDenied):
            services.assessment_complete(actor=person, assessment=assessment)
    assert Assessment.objects.get(pk=assessment.pk).answers == {}
