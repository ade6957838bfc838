"""The support-case pages: plain forms (no JavaScript needed), HTMX fragments, escaping."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from aifactory.advisor.models import Case
from aifactory.advisor.services import cases as services

from .cases_helpers import NEED_DE


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_long_need_travels_from_the_match_page_through_the_session(catalogue, customer_org):
    owner, org = customer_org["owner"], customer_org["org"]
    client = client_for(owner)
    need = (NEED_DE + " ") * (4000 // len(NEED_DE))
    response = client.post("/match/", {"text": need, "sector": "crafts", "organisation": org.pk})
    assert response.status_code == 200
    page = client.get("/cases/new/?from=match").content.decode()
    assert need.strip()[-200:] in page
    assert f'value="{org.pk}" selected' in page and 'value="crafts" selected' in page
    # Someone else's session has nothing to carry.
    assert (
        "Wir sind eine Schreinerei"
        not in client_for(owner).get("/cases/new/?from=match").content.decode()
    )


def test_ask_the_factory_with_a_plain_form(catalogue, customer_org, advisor):
    owner, org = customer_org["owner"], customer_org["org"]
    client = client_for(owner)
    query = urlencode({"need": NEED_DE, "sector": "crafts", "organisation": str(org.pk)})
    page = client.get(f"/cases/new/?{query}").content.decode()
    assert 'id="case-form"' in page and "Wir sind eine Schreinerei" in page
    assert f'value="{org.pk}" selected' in page and 'value="crafts" selected' in page

    response = client.post(
        "/cases/new/", {"organisation": str(org.pk), "need": NEED_DE, "subject": "", "sector": ""}
    )
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    detail = client.get(response["Location"]).content.decode()
    assert case.reference in detail and 'id="case-need"' in detail
    assert "Assistant de devis pour menuiseries" in detail  # the matchmaking snapshot
    assert 'id="message-form"' in detail and 'id="message_body"' in detail
    assert 'id="note-form"' not in detail  # notes are the factory's
    listing = client.get("/cases/").content.decode()
    assert case.reference in listing


def test_bad_input_on_the_form(catalogue, customer_org):
    owner, org = customer_org["owner"], customer_org["org"]
    client = client_for(owner)
    response = client.post("/cases/new/", {"organisation": str(org.pk), "need": "x" * 20_000})
    page = response.content.decode()
    assert response.status_code == 200 and "At most 5000 characters (20000 given)." in page
    response = client.post("/cases/new/", {"organisation": str(org.pk), "need": "   "})
    assert "This field" in response.content.decode()
    other = client.post("/cases/new/", {"organisation": "not-mine", "need": "Hilfe"})
    assert other.status_code == 200 and "Select a valid choice" in other.content.decode()
    assert not Case.objects.exists()


def test_someone_without_an_organisation_is_told_what_to_do(make_user):
    page = client_for(make_user()).get("/cases/new/").content.decode()
    assert 'id="case-form"' not in page and "/organisations/new/" in page


def test_conversation_and_internal_notes(
    case, customer_org, advisor, django_capture_on_commit_callbacks
):
    owner = customer_org["owner"]
    desk, customer = client_for(advisor), client_for(owner)
    url = f"/cases/{case.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(url + "notes/", {"body": "Only for us: <b>budget</b>", "visibility": "internal"})
    assert not mail.outbox  # internal notes are never mailed
    with django_capture_on_commit_callbacks(execute=True):
        reply = desk.post(url + "messages/", {"body": "Guten Tag, Herr Schmit!"})
    assert reply.status_code == 302
    assert [m.to for m in mail.outbox] == [[owner.email]]

    staff_page = desk.get(url).content.decode()
    assert "Only for us: &lt;b&gt;budget&lt;/b&gt;" in staff_page
    assert "internal-marker" in staff_page
    customer_page = customer.get(url).content.decode()
    assert "Only for us" not in customer_page and "internal-marker" not in customer_page
    assert "Guten Tag, Herr Schmit!" in customer_page
    assert 'id="withdraw-form"' in customer_page and 'id="close-form"' not in customer_page

    empty = customer.post(url + "messages/", {"body": "   "})
    assert empty.status_code == 200 and "This field is required." in empty.content.decode()
    # The customer cannot post notes, not even by hand.
    assert customer.post(url + "notes/", {"body": "x", "visibility": "shared"}).status_code == 403


def test_user_text_is_escaped_everywhere(catalogue, customer_org, advisor):
    owner, org = customer_org["owner"], customer_org["org"]
    evil = "<script>alert(1)</script>"
    case = services.case_open(actor=owner, organisation=org, need=f"{evil} Hilfe", subject=evil)
    services.case_message(actor=owner, case=case, body=evil)
    for client, url in (
        (client_for(owner), f"/cases/{case.pk}/"),
        (client_for(owner), "/cases/"),
        (client_for(advisor), f"/cases/{case.pk}/"),
        (client_for(advisor), "/advisor/inbox/"),
        (client_for(advisor), "/dashboard/"),
    ):
        page = client.get(url).content.decode()
        assert evil not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or url == "/dashboard/", url


def test_status_buttons(case, customer_org, advisor):
    url = f"/cases/{case.pk}/"
    customer, desk = client_for(customer_org["member"]), client_for(advisor)
    desk.post(url + "status/", {"status": "waiting_for_customer"})
    assert Case.objects.get().status == "waiting_for_customer"
    # An impossible move is a message on the page, not an error page.
    refused = desk.post(url + "status/", {"status": "triaged"}, follow=True)
    assert "cannot go from" in refused.content.decode()
    customer.post(url + "status/", {"status": "closed", "reason": "withdrawn"})
    case.refresh_from_db()
    assert (case.status, case.close_reason) == ("closed", "withdrawn")
    page = customer.get(url).content.decode()
    assert 'id="reopen-form"' in page and 'id="message-form"' not in page
    customer.post(url + "status/", {"status": "in_progress"})
    assert Case.objects.get().status == "in_progress"


def test_staff_handle_the_case_from_the_page(case, advisor):
    url = f"/cases/{case.pk}/"
    desk = client_for(advisor)
    desk.post(url + "assign/", {"assignee": str(advisor.pk)})
    desk.post(url + "triage/", {"stage": "fund", "sector": "crafts"})
    desk.post(url + "offerings/", {"offering": "course-ai-for-crafts"})
    case.refresh_from_db()
    assert case.assigned_to == advisor and (case.stage, case.status) == ("fund", "triaged")
    offering = case.offerings.get()
    page = desk.get(url).content.decode()
    assert 'id="linked-course-ai-for-crafts"' in page
    missing = desk.post(url + "offerings/", {"offering": "nothing-like-it"})
    assert "No such offering." in missing.content.decode()
    desk.post(url + f"offerings/{offering.pk}/unlink/")
    assert not case.offerings.exists()


def test_inbox_filters_and_highlights_overdue(case, catalogue, customer_org, advisor):
    late = services.case_open(
        actor=customer_org["owner"], organisation=customer_org["org"], need="Förderung für KI?"
    )
    Case.objects.filter(pk=late.pk).update(first_response_due=timezone.now() - timedelta(days=1))
    desk = client_for(advisor)
    page = desk.get("/advisor/inbox/").content.decode()
    assert case.reference in page and late.reference in page
    assert (
        f'id="case-{late.reference}" data-organisation="{late.organisation_id}" class="overdue"'
        in page
    )
    assert "1 overdue" in page

    only_late = desk.get("/advisor/inbox/?status=open&overdue=on").content.decode()
    assert late.reference in only_late and case.reference not in only_late

    # HTMX asks for the results only.
    fragment = desk.get("/advisor/inbox/?status=open&mine=on", headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert body.startswith('<section id="inbox-results"') and "No cases match" in body

    # "Take it" assigns the case to me and comes back to the inbox.
    taken = desk.post(
        f"/cases/{case.pk}/assign/", {"assignee": "me", "next": "/advisor/inbox/?mine=on"}
    )
    assert taken["Location"] == "/advisor/inbox/?mine=on"
    assert Case.objects.get(pk=case.pk).assigned_to == advisor
    outside = desk.post(
        f"/cases/{late.pk}/assign/", {"assignee": "me", "next": "https://evil.example"}
    )
    assert outside["Location"] == f"/cases/{late.pk}/"


@pytest.mark.parametrize("role", ["advisor", "operator"])
def test_dashboard_panels(case, customer_org, make_user, role):
    staff = make_user(staff_role=role)
    page = client_for(staff).get("/dashboard/").content.decode()
    assert "/advisor/inbox/" in page
    mine = client_for(customer_org["member"]).get("/dashboard/").content.decode()
    assert case.reference in mine and "/cases/new/" in mine
