"""The questionnaire's content and its scoring rules (pure functions, no database)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from aifactory.advisor import readiness

from .readiness_helpers import answers_at

Q = readiness.questionnaire()


def test_six_dimensions_about_twenty_questions_each_option_a_level():
    assert [d.key for d in Q.dimensions] == [
        "strategy",
        "data",
        "skills",
        "processes",
        "technology",
        "compliance",
    ]
    assert 18 <= len(Q.questions) <= 24
    assert [q.number for q in Q.questions] == list(range(1, len(Q.questions) + 1))
    for question in Q.questions:
        levels = [o.level for o in question.options]
        assert levels == sorted(levels), f"{question.id}: options go from level 1 upwards"
        assert {1, 5} <= set(levels)


def _texts(node, path=""):
    """Every {en, de, fr, lb} text of the questionnaire file, with where it is."""
    if (
        isinstance(node, dict)
        and set(node) >= {"en"}
        and all(isinstance(v, str) for v in node.values())
    ):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _texts(value, f"{path}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _texts(value, f"{path}/{n}")


def test_the_questionnaire_is_complete_in_all_four_languages():
    assert readiness.problems(Q) == []
    raw = json.loads(readiness.questionnaire_file(Q.version).read_text(encoding="utf-8"))
    texts = list(_texts(raw))
    # 20 questions, 100 options, 6 × 2 dimension texts, 5 × 2 level texts, 36 steps, 12 queries
    assert len(texts) == 190
    for path, text in texts:
        assert set(text) == {"en", "de", "fr", "lb"}, path
        for lang in ("de", "fr", "lb"):
            assert text[lang].strip(), f"{path}: empty in {lang}"
            assert text[lang] != text["en"], f"{path}: {lang} is the English text"
        # Typographic quotes only: a straight one could end an HTML attribute.
        assert not any('"' in t for t in text.values()), path


def test_a_missing_translation_is_found():
    raw = json.loads(readiness.questionnaire_file(Q.version).read_text(encoding="utf-8"))
    del raw["dimensions"][1]["questions"][0]["options"][2]["text"]["lb"]
    raw["dimensions"][0]["questions"][1]["options"][0]["level"] = 7
    found = readiness.problems(readiness._parse(raw))
    assert "question data_customers option spreadsheets: no text in lb" in found
    assert "question strategy_owner option nobody: level 7" in found


def test_texts_follow_the_language_asked_for():
    question = Q.question("data_customers")
    assert (
        readiness.tr(question.text, "fr")
        == "Où sont vos données clients (adresses, commandes, factures) ?"
    )
    assert question.option("paper").text["lb"] == "Meeschtens op Pabeier oder am Kapp."
    with translation.override("de"):
        assert question.label() == "4. Wo sind Ihre Kundendaten (Adressen, Aufträge, Rechnungen)?"
    assert readiness.normalise_language("de-lu") == "de"
    assert readiness.normalise_language("pt") == "en"


def test_levels_are_the_mean_rounded_down_and_overall_weighs_dimensions_equally():
    answers = answers_at(
        {
            "strategy": [5, 4, 4],  # 4.33 → 4
            "data": [1, 2, 2, 2],  # 1.75 → 1
            "skills": [3, 4, 5],  # 4.00 → 4
            "processes": [2, 2, 3],  # 2.33 → 2
            "technology": [5, 5, 5],  # 5
            "compliance": [1, 1, 1, 2],  # 1.25 → 1
        }
    )
    result = readiness.score(Q, answers)
    levels = {row["key"]: (row["level"], row["score"]) for row in result["dimensions"]}
    assert levels == {
        "strategy": (4, 4.33),
        "data": (1, 1.75),
        "skills": (4, 4.0),
        "processes": (2, 2.33),
        "technology": (5, 5.0),
        "compliance": (1, 1.25),
    }
    # (13/3 + 7/4 + 4 + 7/3 + 5 + 5/4) / 6 = 18.67 / 6 = 3.11 → 3
    assert result["overall"] == {"level": 3, "score": 3.11}
    assert result["method"] == "mean-rounded-down"


def test_exact_arithmetic_at_the_edges():
    assert readiness.score(Q, answers_at({}, default=1))["overall"] == {"level": 1, "score": 1.0}
    assert readiness.score(Q, answers_at({}, default=5))["overall"] == {"level": 5, "score": 5.0}
    # Means of exactly 3 in every dimension stay 3: no floating-point 2.999….
    mixed = answers_at({"strategy": [2, 3, 4], "skills": [4, 3, 2], "technology": [1, 3, 5]})
    assert {row["level"] for row in readiness.score(Q, mixed)["dimensions"]} == {3}


def test_scoring_refuses_missing_answers_naming_each_question():
    answers = answers_at({})
    del answers["data_quality"], answers["compliance_rules"]
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        readiness.score(Q, answers)
    errors = caught.value.message_dict
    assert set(errors) == {"data_quality", "compliance_rules"}
    assert errors["data_quality"] == [
        "Question 6 (“How tidy are these data?”) is not answered yet."
    ]


def test_unknown_questions_and_options_are_refused_naming_them():
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        readiness.clean_answers(
            Q,
            {
                "data_customers": "in_the_cloud",
                "how_big": "very",
                "skills_use": 3,
                "strategy_ideas": "ideas",
            },
        )
    errors = caught.value.message_dict
    assert set(errors) == {"data_customers", "how_big", "skills_use"}
    assert errors["data_customers"] == [
        "Question 4 (“Where are your customer data (addresses, orders, invoices)?”): "
        "“in_the_cloud” is not one of its answers. "
        "Choose one of: paper, scattered, spreadsheets, one_system, exportable."
    ]
    assert errors["skills_use"][0].startswith("Question 8 (“Does your team use AI tools")
    assert errors["how_big"] == [
        "There is no question “how_big” in version 1 of the questionnaire."
    ]
    with pytest.raises(ValidationError) as caught:
        readiness.clean_answers(Q, ["paper"])
    assert "answers" in caught.value.message_dict


def test_the_plan_takes_the_two_weakest_and_a_third_on_a_tie():
    def dims(*scores):
        keys = [d.key for d in Q.dimensions]
        return [{"key": k, "level": int(s), "score": s} for k, s in zip(keys, scores, strict=True)]

    assert readiness.weakest(dims(3, 1.5, 4, 2.33, 5, 1.25)) == ["compliance", "data"]
    # processes (2.33) is at the level of data (2.5): both level 2, so it comes along.
    assert readiness.weakest(dims(3, 2.5, 4, 2.33, 5, 1.25)) == ["compliance", "processes", "data"]
    # Equal scores: the questionnaire's order decides, never more than three.
    assert readiness.weakest(dims(2, 2, 2, 2, 2, 2)) == ["strategy", "data", "skills"]


def test_queries_and_facets_follow_the_level_and_the_sector():
    data = Q.dimension("data")
    assert readiness.band(2) == "start" and readiness.band(3) == "grow"
    assert readiness.query(data, 1, "fr").startswith("Organiser et nettoyer les données")
    assert readiness.facets(data, 4, ["crafts"]) == {
        "stage": ["build"],
        "sector": ["crafts", "general"],
    }
    assert readiness.facets(Q.dimension("skills"), 1, []) == {"stage": ["discover", "upskill"]}


def test_the_questionnaire_in_one_language():
    out = readiness.present_questionnaire(Q, "lb")
    assert out["language"] == "lb"
    first = out["dimensions"][0]["questions"][0]
    assert (
        first["text"] == "Hutt Dir Iech scho Gedanke gemaach, wat KI fir Äre Betrib kéint maachen?"
    )
    assert [o["level"] for o in first["options"]] == [1, 2, 3, 4, 5]
    assert [lvl["name"] for lvl in out["levels"]][0] == "Um Ufank"
    options = [o for d in out["dimensions"] for q in d["questions"] for o in q["options"]]
    assert all(isinstance(o["text"], str) and o["text"] for o in options)
    assert "Keng Reegelen." in {o["text"] for o in options}
