"""The readiness assessment through /api/v1/readiness."""

import xml.etree.ElementTree as ET

from aifactory.advisor import readiness
from aifactory.advisor.models import Assessment

from .readiness_helpers import *  # noqa: F403 - the readiness fixtures
from .readiness_helpers import answers_at


def test_the_questionnaire_is_public_in_each_language(client):
    response = client.get("/api/v1/readiness/questionnaire?lang=lb")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == readiness.CURRENT_VERSION and body["language"] == "lb"
    assert [d["key"] for d in body["dimensions"]][:2] == ["strategy", "data"]
    data = body["dimensions"][1]
    assert data["name"] == "Donnéeën"
    assert data["questions"][0]["options"][0] == {
        "value": "paper",
        "level": 1,
        "text": "Meeschtens op Pabeier oder am Kapp.",
    }
    assert len(body["levels"]) == 5
    wrong = client.get("/api/v1/readiness/questionnaire?lang=es")
    assert wrong.status_code == 422 and "lang" in wrong.json()["errors"]
    assert client.get("/api/v1/readiness/questionnaire?version=9").status_code == 422


def test_fill_in_and_complete_through_the_api(demo_catalogue, bakery, api):
    owner = api(bakery["owner"])
    org = str(bakery["org"].pk)
    created = owner.post(
        "/readiness/assessments",
        {"organisation": org, "language": "fr", "answers": {"data_customers": "paper"}},
    )
    assert created.status_code == 201, created.content
    assessment = created.json()
    assert assessment["status"] == "draft" and assessment["language"] == "fr"
    assert (assessment["answered"], assessment["total"]) == (1, 20)
    assert assessment["result"] is None
    path = f"/readiness/assessments/{assessment['id']}"

    # Starting again continues the open draft.
    again = api(bakery["member"]).post("/readiness/assessments", {"organisation": org})
    assert again.status_code == 200 and again.json()["id"] == assessment["id"]

    # A wrong option is refused with 422, naming the question; nothing is saved.
    wrong = owner.patch(path, {"answers": {"skills_use": "daily", "data_history": "months"}})
    assert wrong.status_code == 422
    assert wrong["Content-Type"] == "application/problem+json"
    assert list(wrong.json()["errors"]) == ["skills_use"]
    assert "Question 8 (“Does your team use AI tools" in wrong.json()["errors"]["skills_use"][0]
    assert owner.get(path).json()["answers"] == {"data_customers": "paper"}
    assert owner.patch(path, {"answer": {}}).status_code == 422  # unknown key

    # Completing early names every open question.
    early = owner.post(path + "/complete")
    assert early.status_code == 422
    assert len(early.json()["errors"]) == 19
    assert "data_history" in early.json()["errors"]

    answers = answers_at({"skills": 1, "technology": [2, 1, 2]}, default=4)
    saved = owner.patch(path, {"answers": answers})
    assert saved.status_code == 200 and saved.json()["answered"] == 20
    done = owner.post(path + "/complete?lang=de")
    assert done.status_code == 200, done.content
    result = done.json()["result"]
    assert done.json()["status"] == "completed" and done.json()["overall_level"] == 3
    assert {d["key"]: d["level"] for d in result["dimensions"]} == {
        "strategy": 4,
        "data": 4,
        "skills": 1,
        "processes": 4,
        "technology": 1,
        "compliance": 4,
    }
    assert result["overall"]["name"] == "Am Ausprobieren"
    assert [item["dimension"] for item in result["plan"]] == ["skills", "technology"]
    assert result["plan"][0]["name"] == "Kompetenzen"
    assert result["plan"][0]["steps"][0].startswith("Besuchen Sie einen kurzen Einführungskurs")
    offerings = result["plan"][0]["offerings"]
    assert offerings and all({"external_id", "title", "type"} <= set(o) for o in offerings)
    assert all(isinstance(o["title"], str) and o["title"] for o in offerings)

    # Completed means frozen.
    assert owner.patch(path, {"answers": {"data_customers": "exportable"}}).status_code == 409
    assert owner.post(path + "/complete").status_code == 409

    chart = owner.get(path + "/chart.svg?lang=en")
    assert chart.status_code == 200 and chart["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(chart.content)
    assert root.get("data-levels") == "4,4,1,4,1,4"
    listing = owner.get("/readiness/assessments?status=completed")
    assert [a["id"] for a in listing.json()["items"]] == [assessment["id"]]


def test_the_chart_of_a_draft_does_not_exist_yet(bakery, api):
    owner = api(bakery["owner"])
    created = owner.post("/readiness/assessments", {"organisation": str(bakery["org"].pk)})
    chart = owner.get(f"/readiness/assessments/{created.json()['id']}/chart.svg")
    assert chart.status_code == 404 and chart["Content-Type"] == "application/problem+json"


def test_an_outsider_cannot_see_or_touch_another_organisation_s_assessment(
    completed, bakery, stranger, staff_advisor, api
):
    other = api(stranger)
    path = f"/readiness/assessments/{completed.pk}"
    assert other.get(path).status_code == 404
    assert other.get(path + "/chart.svg").status_code == 404
    assert other.patch(path, {"answers": {"data_customers": "paper"}}).status_code == 404
    assert other.post(path + "/complete").status_code == 404
    assert other.get("/readiness/assessments").json()["items"] == []
    assert other.get(f"/readiness/assessments?organisation={bakery['org'].pk}").status_code == 403
    start = other.post("/readiness/assessments", {"organisation": str(bakery["org"].pk)})
    assert start.status_code == 403
    assert Assessment.objects.filter(organisation=bakery["org"]).count() == 1

    advisor = api(staff_advisor)
    assert advisor.get(path).json()["overall_level"] == 2
    listed = advisor.get(f"/readiness/assessments?organisation={bakery['org'].pk}").json()
    assert [a["id"] for a in listed["items"]] == [str(completed.pk)]
    refused = advisor.post("/readiness/assessments", {"organisation": str(bakery["org"].pk)})
    assert refused.status_code == 403
    assert api().get(path).status_code == 401
