"""Support cases through the REST API: shapes, filters, problem+json errors."""

from datetime import timedelta

from django.utils import timezone

from aifactory.advisor.models import Case
from aifactory.advisor.services import cases as services

from .cases_helpers import NEED_DE

PROBLEM = "application/problem+json"


def test_open_read_and_answer(api, catalogue, customer_org, advisor):
    customer, desk = api(customer_org["owner"]), api(advisor)
    response = customer.post(
        "/cases",
        {"organisation": str(customer_org["org"].pk), "need": NEED_DE, "subject": "Offerten"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    ref = body["reference"]
    assert body["status"] == "new" and body["subject"] == "Offerten" and not body["overdue"]
    assert body["matchmaking"]["results"] and body["entries"][0]["data"]["event"] == "opened"
    assert body["entries"][0]["summary"] == "Case opened."

    assert (
        desk.post(f"/cases/{ref}/assign", {"assignee": advisor.email}).json()["assigned_to"][
            "email"
        ]
        == advisor.email
    )
    note = desk.post(f"/cases/{ref}/notes", {"body": "Internal: small budget"})
    assert note.status_code == 201 and note.json()["visibility"] == "internal"
    answer = desk.post(f"/cases/{ref}/messages", {"body": "Guten Tag!", "await_customer": True})
    assert answer.status_code == 201

    seen = customer.get(f"/cases/{ref}").json()
    assert seen["status"] == "waiting_for_customer" and seen["first_response_at"]
    assert "Internal: small budget" not in str(seen)
    assert all(e["visibility"] == "shared" for e in seen["entries"])
    assert "Internal: small budget" in str(desk.get(f"/cases/{ref}").json())

    link = desk.post(f"/cases/{ref}/offerings", {"offering": "sol-quote-assistant"})
    assert [o["external_id"] for o in link.json()["offerings"]] == ["sol-quote-assistant"]
    assert customer.get(f"/cases/{ref}").json()["offerings"][0]["external_id"] == (
        "sol-quote-assistant"
    )
    assert desk.delete(f"/cases/{ref}/offerings/sol-quote-assistant").status_code == 200

    closed = customer.post(f"/cases/{ref}/status", {"status": "closed", "reason": "withdrawn"})
    assert closed.json()["status"] == "closed" and closed.json()["close_reason"] == "withdrawn"


def test_errors_are_problems(api, case, customer_org, advisor):
    customer, desk = api(customer_org["owner"]), api(advisor)
    ref = case.reference
    cases = [
        (customer.post(f"/cases/{ref}/messages", {"body": "  "}), 422, "body"),
        (customer.post(f"/cases/{ref}/messages", {"body": "x", "color": "red"}), 422, "color"),
        (
            customer.post(
                "/cases", {"organisation": str(customer_org["org"].pk), "need": "x" * 20_000}
            ),
            422,
            "need",
        ),
        (desk.post(f"/cases/{ref}/status", {"status": "triaged"}), 200, None),
        (desk.post(f"/cases/{ref}/status", {"status": "triaged"}), 409, "status"),
        (desk.post(f"/cases/{ref}/status", {"status": "new"}), 409, "status"),
        (desk.post(f"/cases/{ref}/status", {"status": "closed"}), 422, "reason"),
        (
            customer.post(f"/cases/{ref}/status", {"status": "closed", "reason": "resolved"}),
            403,
            None,
        ),
        (desk.post(f"/cases/{ref}/offerings", {"offering": "no-such-thing"}), 422, "offering"),
        (
            desk.post(f"/cases/{ref}/assign", {"assignee": customer_org["owner"].email}),
            422,
            "assignee",
        ),
        (desk.post(f"/cases/{ref}/triage", {"stage": "moon"}), 422, "stage"),
        (desk.get("/cases?status=sleeping"), 422, "status"),
        (desk.get("/cases/C-1999-00001"), 404, None),
    ]
    for response, status, field in cases:
        assert response.status_code == status, (status, response.content)
        if status >= 400:
            assert response["Content-Type"] == PROBLEM
        if field:
            assert field in response.json()["errors"], response.json()
    assert Case.objects.count() == 1


def test_list_filters_and_overdue(api, case, customer_org, advisor):
    desk = api(advisor)
    Case.objects.filter(pk=case.pk).update(first_response_due=timezone.now() - timedelta(hours=2))
    rows = desk.get("/cases?overdue=true").json()["items"]
    assert [r["reference"] for r in rows] == [case.reference] and rows[0]["overdue"]
    assert desk.get("/cases?mine=true").json()["count"] == 0
    assert desk.get("/cases?unassigned=true&status=open").json()["count"] == 1
    services.case_assign(actor=advisor, case=case, assignee=advisor)
    assert desk.get("/cases?mine=true").json()["count"] == 1
    assert desk.get("/cases?stage=fund").json()["count"] == 0
    assert api(customer_org["member"]).get("/cases").json()["count"] == 1


def test_html_is_returned_as_text(api, catalogue, customer_org):
    customer = api(customer_org["owner"])
    need = "<script>alert('x')</script> Wir brauchen Hilfe"
    body = customer.post(
        "/cases", {"organisation": str(customer_org["org"].pk), "need": need}
    ).json()
    assert body["need"] == need  # JSON carries the text; the pages escape it


def test_other_organisations_get_nothing(api, case, outsider, make_user):
    stranger = api(outsider)
    assert stranger.get(f"/cases/{case.reference}").status_code == 404
    assert stranger.post(f"/cases/{case.reference}/messages", {"body": "hi"}).status_code == 404
    assert stranger.get("/cases").json()["count"] == 0
    reviewer = api(make_user(staff_role="reviewer"))
    assert reviewer.get(f"/cases/{case.pk}").status_code == 404
