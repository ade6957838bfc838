"""The catalogue's REST API: public reads, the provider's and the operator's actions, errors."""

import pytest
from django.test import Client

from aifactory.catalog import services
from aifactory.catalog.models import Offering

from .conftest import record

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def catalogue(operator):
    services.catalog_import(
        actor=operator,
        records=[
            record(id=f"sol-{n:02}", sectors=["finance"] if n % 2 else ["space"]) for n in range(12)
        ]
        + [
            record(id="course-de", type="course", stage="upskill", languages=["de", "lb"]),
            record(id="fund-eu", type="funding", stage=["fund"], deployment=["eu-saas"]),
        ],
    )


def test_anyone_lists_published_offerings_with_filters_and_pages(catalogue, api, draft):
    anonymous = api()
    page = anonymous.get("/catalog/offerings?limit=5&offset=10").json()
    assert page["count"] == 14 and len(page["items"]) == 4
    assert draft.external_id not in str(page)

    def ids(query):
        items = anonymous.get(f"/catalog/offerings?{query}").json()["items"]
        return [o["external_id"] for o in items]

    assert ids("type=course") == ["course-de"]
    assert ids("stage=fund") == ["fund-eu"]
    assert ids("language=lb") == ["course-de"]
    assert ids("deployment=eu-saas") == ["fund-eu"]
    assert len(ids("sector=finance")) == 6
    assert ids("sector=finance&type=funding") == []
    item = anonymous.get("/catalog/offerings/course-de").json()
    assert item["title"] == {"en": "Demand forecasting for bakeries"}
    assert item["review_note"] is None  # the moderators' note is for editors only


def test_unknown_filter_values_are_errors(db, api):
    response = api().get("/catalog/offerings?sector=astrology&type=gadget&language=xx")
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert set(response.json()["errors"]) == {"sector", "type", "language"}


def test_a_bad_token_is_refused_even_on_public_reads(db):
    response = Client().get(
        "/api/v1/catalog/offerings", headers={"Authorization": "Bearer afh_wrong"}
    )
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM


def test_a_provider_proposes_edits_and_submits(provider, operator, api):
    client = api(provider["manager"])
    body = {
        "type": "service",
        "title": "Atelier IA pour les menuisiers",
        "description": "Une journée avec votre équipe pour trouver les bons cas d'usage.",
        "stages": "discover",
        "provider_organisation_id": str(provider["org"].pk),
        "tags": ["workshop"],
    }
    response = client.post("/catalog/offerings", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "draft" and created["title"] == {
        "fr": "Atelier IA pour les menuisiers"
    }
    key = created["external_id"]
    assert api().get(f"/catalog/offerings/{key}").status_code == 404  # not public yet
    assert client.get(f"/catalog/offerings/{created['id']}").status_code == 200
    drafts = client.get("/catalog/offerings?status=draft").json()
    assert [o["external_id"] for o in drafts["items"]] == [key]

    response = client.patch(f"/catalog/offerings/{key}", {"price": "800 € par jour"})
    assert response.json()["price"] == "800 € par jour"
    assert client.post(f"/catalog/offerings/{key}/submit").json()["status"] == "in_review"

    moderator = api(operator)
    response = moderator.post(f"/catalog/offerings/{key}/reject", {"reason": "Ajoutez l'URL."})
    assert response.json()["status"] == "draft"
    assert client.get(f"/catalog/offerings/{key}").json()["review_note"] == "Ajoutez l'URL."
    client.post(f"/catalog/offerings/{key}/submit")
    assert moderator.post(f"/catalog/offerings/{key}/approve").json()["status"] == "published"
    assert api().get(f"/catalog/offerings/{key}").status_code == 200


def test_errors_are_problem_details(provider, operator, api, draft):
    client = api(provider["owner"])
    key = draft.external_id
    response = client.post(f"/catalog/offerings/{key}/approve")
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    response = api(operator).post(f"/catalog/offerings/{key}/approve")
    assert response.status_code == 409
    assert response.json()["detail"] == "Only an offering in review can be approved."
    response = client.patch(f"/catalog/offerings/{key}", {"title": {"en": "x" * 201}, "url": "x"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"title", "url"}
    response = client.patch(f"/catalog/offerings/{key}", {"title": None})
    assert response.status_code == 422  # null is refused, not read as "unchanged"
    response = client.patch(f"/catalog/offerings/{key}", {"colour": "red"})
    assert response.status_code == 422 and "colour" in response.json()["errors"]
    assert Offering.objects.get(pk=draft.pk).title == draft.title
    response = api(operator).post(f"/catalog/offerings/{key}/reject", {})
    assert response.status_code == 422 and "reason" in response.json()["errors"]


def test_import_lists_every_bad_record(operator, api):
    client = api(operator)
    response = client.post(
        "/catalog/import", [record(), record(id="x", sectors=["foo"]), record(id="y", oops=1)]
    )
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["records"] == [
        {"index": 1, "id": "x", "field": "sectors", "message": "Unknown sector: “foo”."},
        {"index": 2, "id": "y", "field": "oops", "message": "Unknown key."},
    ]
    assert body["errors"] == {"1.sectors": ["Unknown sector: “foo”."], "2.oops": ["Unknown key."]}
    assert not Offering.objects.exists()

    response = client.client.post(
        "/api/v1/catalog/import", "[{", content_type="application/json", headers=client.headers
    )
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]

    response = client.post("/catalog/import", [record()])
    assert response.json() == {"created": ["sol-bakery-forecast"], "updated": [], "unchanged": []}
    export = api().get("/catalog/export").json()
    assert [r["id"] for r in export] == ["sol-bakery-forecast"]


def test_html_in_text_comes_back_as_text_and_is_escaped_in_pages(operator, api, make_user):
    script = "<script>alert('x')</script>"
    services.catalog_import(actor=operator, records=[record(title={"en": script})])
    response = api().get("/catalog/offerings/sol-bakery-forecast")
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["title"] == {"en": script}
    admin = Client()
    admin.force_login(make_user(staff_role="administrator"))
    page = admin.get("/admin/catalog/offering/").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert script not in page
