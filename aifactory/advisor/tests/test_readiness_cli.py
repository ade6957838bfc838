"""`aifactory readiness`: real processes on the test database."""

import json
import xml.etree.ElementTree as ET

import pytest

from aifactory.advisor.services import readiness as services
from aifactory.core.tests import processes

from .readiness_helpers import *  # noqa: F403 - the readiness fixtures
from .readiness_helpers import answers_at

pytestmark = pytest.mark.django_db(transaction=True)


def test_questions_in_a_language():
    result = processes.run("readiness", "questions", "--lang", "de")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "== Daten (data)" in out
    assert " 4. Wo sind Ihre Kundendaten (Adressen, Aufträge, Rechnungen)?  [data_customers]" in out
    assert "      1  paper                Meist auf Papier oder im Kopf." in out
    as_json = json.loads(processes.run("readiness", "questions", "--lang", "fr", "--json").stdout)
    assert as_json["language"] == "fr" and len(as_json["dimensions"]) == 6
    bad = processes.run("readiness", "questions", "--lang", "es")
    assert bad.returncode != 0 and "invalid choice: 'es'" in bad.stderr


def test_show_list_and_chart(bakery):
    assessment, _ = services.assessment_start(
        actor=bakery["owner"],
        organisation=bakery["org"],
        language="fr",
        answers=answers_at({"processes": 1, "data": 2}, default=4),
    )
    draft = processes.run("readiness", "show", str(assessment.pk))
    assert draft.returncode == 0, draft.stderr
    assert "20 of 20 questions answered" in draft.stdout
    assert "not completed yet" in draft.stdout

    services.assessment_complete(actor=bakery["owner"], assessment=assessment)
    shown = processes.run("readiness", "show", str(assessment.pk))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"Bäckerei <Backstuff> S.à r.l. — readiness assessment {assessment.pk}"
    assert "overall level 3 of 5: En essai" in lines  # in the assessment's language
    assert any(line.split() == ["Processus", "#....", "1", "(1.00)"] for line in lines)
    assert "- Processus (level 1)" in lines and "- Données (level 2)" in lines

    as_json = json.loads(processes.run("readiness", "show", str(assessment.pk), "--json").stdout)
    assert as_json["status"] == "completed" and as_json["overall_level"] == 3
    assert [d["level"] for d in as_json["result"]["dimensions"]] == [4, 2, 4, 1, 4, 4]
    english = processes.run("readiness", "show", str(assessment.pk), "--lang", "en", "--json")
    assert json.loads(english.stdout)["result"]["plan"][0]["name"] == "Processes"

    svg = processes.run("readiness", "show", str(assessment.pk), "--svg")
    assert ET.fromstring(svg.stdout).get("data-levels") == "4,2,4,1,4,4"

    listing = processes.run("readiness", "list", "--organisation", "backstuff")
    assert listing.stdout.split()[:5] == [
        str(assessment.pk),
        assessment.completed_at.date().isoformat(),
        "completed",
        "level",
        "3",
    ]
    assert processes.run("readiness", "list", "--status", "draft").stdout == ""

    missing = processes.run("readiness", "show", "not-an-id")
    assert missing.returncode != 0
    assert "assessment_id: no assessment not-an-id" in missing.stderr
    assert "Traceback" not in missing.stderr
