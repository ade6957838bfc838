"""Support cases through the services: opening, the state machine, permissions, e-mails."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aifactory.advisor import selectors
from aifactory.advisor.models import Case, CaseEntry
from aifactory.advisor.services import cases as services
from aifactory.catalog.models import Offering
from aifactory.core.errors import InvalidTransition, NotFound
from aifactory.core.models import AuditEvent
from aifactory.core.workdays import TZ, add_working_days

from .cases_helpers import NEED_DE, mails_to

# Real commits, so the e-mails sent after each commit go out as in a request.
pytestmark = pytest.mark.django_db(transaction=True)


# --- opening -----------------------------------------------------------------------------------


def test_open_keeps_the_matchmaking_and_sets_the_target(catalogue, customer_org, advisor):
    owner, org = customer_org["owner"], customer_org["org"]
    before = timezone.now()
    opened = services.case_open(actor=owner, organisation=org, need=NEED_DE)
    year = timezone.localdate().year
    assert opened.reference == f"C-{year}-00001"
    assert opened.status == "new" and opened.stage == "discover"
    assert opened.sector == "crafts"  # the organisation's sector
    assert opened.subject.startswith("Wir sind eine Schreinerei")
    assert opened.language == "de"
    snapshot = opened.matchmaking
    assert snapshot["text"] == NEED_DE
    ids = [r["external_id"] for r in snapshot["results"]]
    assert "sol-quote-assistant" in ids  # described in French, found from German
    first = snapshot["results"][0]
    assert {"id", "title", "score", "reasons", "group", "eligible"} <= first.keys()
    assert first["reasons"] and all(r["message"] for r in first["reasons"])
    assert {g["key"] for g in snapshot["groups"]} <= {
        "use",
        "talk",
        "learn",
        "fund",
        "access",
        "data",
    }
    assert not opened.offerings.exists()  # recommending is the advisor's call
    due = add_working_days(opened.created_at, 2)
    assert opened.first_response_due == due and due > before
    assert AuditEvent.objects.filter(action="case.open", object_id=str(opened.pk)).exists()
    # The front desk hears of it; the opener gets a receipt with the reference.
    assert mails_to(advisor.email) and opened.reference in mails_to(advisor.email)[0].subject
    assert mails_to(owner.email) and opened.reference in mails_to(owner.email)[0].body

    second = services.case_open(actor=customer_org["member"], organisation=org, need="Förderung?")
    assert second.reference == f"C-{year}-00002"


def test_reference_numbers_keep_counting_past_five_digits(catalogue, customer_org):
    year = timezone.localdate().year
    services.case_open(actor=customer_org["owner"], organisation=customer_org["org"], need="A")
    Case.objects.update(reference=f"C-{year}-99999")
    nxt = services.case_open(
        actor=customer_org["owner"], organisation=customer_org["org"], need="B"
    )
    assert nxt.reference == f"C-{year}-100000"
    again = services.case_open(
        actor=customer_org["owner"], organisation=customer_org["org"], need="C"
    )
    assert again.reference == f"C-{year}-100001"


@pytest.mark.parametrize(
    ("need", "fragment"),
    [
        ("", "cannot be empty"),
        ("   \n\t ", "cannot be empty"),
        ("x" * 20_000, "20000 given"),
        ("Hilfe\x00", "NUL"),
    ],
)
def test_bad_needs_are_refused_with_nothing_written(catalogue, customer_org, need, fragment):
    with pytest.raises(ValidationError) as exc:
        services.case_open(actor=customer_org["owner"], organisation=customer_org["org"], need=need)
    assert fragment in " ".join(exc.value.message_dict["need"])
    assert not Case.objects.exists() and not mail.outbox


def test_unknown_sector_and_long_subject_are_named(catalogue, customer_org):
    with pytest.raises(ValidationError) as exc:
        services.case_open(
            actor=customer_org["owner"],
            organisation=customer_org["org"],
            need="Hilfe",
            subject="s" * 201,
            sector="bakeries",
        )
    assert set(exc.value.message_dict) == {"subject", "sector"}


def test_only_members_open_cases(catalogue, customer_org, outsider, advisor):
    for person in (outsider, advisor):
        with pytest.raises(PermissionDenied):
            services.case_open(actor=person, organisation=customer_org["org"], need="Hilfe")
    assert not Case.objects.exists()


# --- the state machine -------------------------------------------------------------------------


def test_the_whole_journey(case, customer_org, advisor):
    owner = customer_org["owner"]
    services.case_assign(actor=advisor, case=case, assignee=advisor)
    case = services.case_triage(actor=advisor, case=case, stage="upskill", sector="crafts")
    assert case.status == "triaged" and case.stage == "upskill"

    services.case_message(actor=advisor, case=case, body="Guten Tag!", await_customer=True)
    case.refresh_from_db()
    assert case.status == "waiting_for_customer"
    answered = case.first_response_at
    assert answered is not None

    services.case_message(actor=owner, case=case, body="Danke, wir sind interessiert.")
    case.refresh_from_db()
    assert case.status == "in_progress"

    services.case_message(actor=advisor, case=case, body="Sehr gut.")
    case.refresh_from_db()
    assert case.first_response_at == answered  # the first answer stays the first

    case = services.case_close(actor=advisor, case=case, reason="resolved")
    assert (case.status, case.close_reason) == ("closed", "resolved") and case.closed_at
    with pytest.raises(InvalidTransition):
        services.case_message(actor=owner, case=case, body="Noch eine Frage")

    case = services.case_reopen(actor=owner, case=case)
    assert (case.status, case.close_reason, case.closed_at) == ("in_progress", "", None)
    events = [e.data for e in case.entries.filter(kind="event")]
    assert [e["event"] for e in events][:3] == ["opened", "assigned", "triaged"]
    moves = [(e["old"], e["new"]) for e in events if e["event"] == "status"]
    assert moves == [
        ("new", "triaged"),
        ("triaged", "waiting_for_customer"),
        ("waiting_for_customer", "in_progress"),
        ("in_progress", "closed"),
        ("closed", "in_progress"),
    ]
    actions = set(
        AuditEvent.objects.filter(object_id=str(case.pk)).values_list("action", flat=True)
    )
    assert {"case.open", "case.assign", "case.triage", "case.message", "case.close"} <= actions
    assert "case.reopen" in actions


def test_first_message_of_the_factory_moves_a_new_case_on(case, advisor):
    services.case_message(actor=advisor, case=case, body="Hello")
    case.refresh_from_db()
    assert case.status == "in_progress" and case.first_response_at is not None


def test_customer_message_does_not_count_as_an_answer(case, customer_org):
    services.case_message(actor=customer_org["member"], case=case, body="Any news?")
    case.refresh_from_db()
    assert case.status == "new" and case.first_response_at is None


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("in_progress", "triaged"),
        ("in_progress", "new"),
        ("waiting_for_customer", "triaged"),
        ("triaged", "triaged"),
        ("new", "new"),
        ("closed", "waiting_for_customer"),
        ("closed", "triaged"),
    ],
)
def test_invalid_transitions_are_refused(case, advisor, start, target):
    Case.objects.filter(pk=case.pk).update(status=start, closed_at=timezone.now())
    case.refresh_from_db()
    with pytest.raises(InvalidTransition):
        services.case_set_status(actor=advisor, case=case, status=target)
    case.refresh_from_db()
    assert case.status == start


def test_set_status_checks_its_input(case, advisor):
    with pytest.raises(ValidationError) as exc:
        services.case_set_status(actor=advisor, case=case, status="done")
    assert "status" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.case_set_status(actor=advisor, case=case, status="closed", reason="")
    assert "reason" in exc.value.message_dict
    with pytest.raises(InvalidTransition):
        services.case_close(
            actor=advisor,
            case=services.case_close(actor=advisor, case=case, reason="duplicate"),
            reason="duplicate",
        )


def test_the_customer_may_withdraw_and_reopen_but_not_run_the_case(case, customer_org, advisor):
    member = customer_org["member"]
    for call in (
        lambda: services.case_set_status(actor=member, case=case, status="in_progress"),
        lambda: services.case_close(actor=member, case=case, reason="resolved"),
        lambda: services.case_triage(actor=member, case=case, stage="fund"),
        lambda: services.case_assign(actor=member, case=case, assignee=advisor),
        lambda: services.case_note(actor=member, case=case, body="x"),
        lambda: services.case_message(actor=member, case=case, body="x", await_customer=True),
    ):
        with pytest.raises(PermissionDenied):
            call()
    case = services.case_close(actor=member, case=case, reason="withdrawn")
    assert case.close_reason == "withdrawn"
    case = services.case_set_status(actor=member, case=case, status="in_progress")
    assert case.status == "in_progress"


def test_reopening_has_a_time_limit_for_the_customer(case, customer_org, advisor, settings):
    settings.ADVISOR_REOPEN_DAYS = 30
    services.case_close(actor=advisor, case=case, reason="resolved")
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - timedelta(days=31))
    case.refresh_from_db()
    with pytest.raises(InvalidTransition) as exc:
        services.case_reopen(actor=customer_org["owner"], case=case)
    assert "30 days" in exc.value.message
    assert services.case_reopen(actor=advisor, case=case).status == "in_progress"
    with pytest.raises(InvalidTransition):
        services.case_reopen(actor=advisor, case=case)


# --- assignment, triage, offerings -------------------------------------------------------------


def test_assignment_rules(case, advisor, operator, make_user):
    reviewer = make_user(staff_role="reviewer")
    with pytest.raises(ValidationError) as exc:
        services.case_assign(actor=advisor, case=case, assignee=reviewer)
    assert "assignee" in exc.value.message_dict
    services.case_assign(actor=operator, case=case, assignee=advisor)
    with pytest.raises(InvalidTransition):
        services.case_assign(actor=operator, case=case, assignee=advisor)
    with pytest.raises(PermissionDenied):
        services.case_assign(actor=reviewer, case=case, assignee=advisor)
    case = services.case_assign(actor=advisor, case=case, assignee=None)
    assert case.assigned_to is None


def test_triage_checks_values(case, advisor):
    with pytest.raises(ValidationError) as exc:
        services.case_triage(actor=advisor, case=case, stage="launch", sector="bakery")
    assert set(exc.value.message_dict) == {"stage", "sector"}
    services.case_triage(actor=advisor, case=case, stage="fund")
    with pytest.raises(InvalidTransition):  # nothing would change
        services.case_triage(actor=advisor, case=case, stage="fund")


def test_linking_offerings(case, advisor, customer_org):
    quote = Offering.objects.get(external_id="sol-quote-assistant")
    services.case_link_offering(actor=advisor, case=case, offering=quote)
    assert list(case.offerings.all()) == [quote]
    with pytest.raises(InvalidTransition):
        services.case_link_offering(actor=advisor, case=case, offering=quote)
    draft = Offering.objects.create(
        external_id="draft-1", type="solution", title={"en": "Draft"}, provider_name="X"
    )
    with pytest.raises(ValidationError):
        services.case_link_offering(actor=advisor, case=case, offering=draft)
    services.case_unlink_offering(actor=advisor, case=case, offering=quote)
    with pytest.raises(NotFound):
        services.case_unlink_offering(actor=advisor, case=case, offering=quote)
    events = [e.data["event"] for e in case.entries.filter(kind="event")]
    assert events[-2:] == ["linked", "unlinked"]


# --- what each side sees and hears -------------------------------------------------------------


def test_internal_notes_never_reach_the_customer(case, customer_org, advisor):
    services.case_assign(actor=advisor, case=case, assignee=advisor)
    mail.outbox.clear()
    services.case_note(
        actor=advisor, case=case, body="Secret: check their funding", visibility="internal"
    )
    assert not mail.outbox
    services.case_triage(actor=advisor, case=case, stage="fund")  # internal classification...
    owner = customer_org["owner"]
    # ...but the move from new to triaged is shared.
    assert [m.to for m in mail.outbox] == [[owner.email]]
    seen_by_customer = list(selectors.case_entries(owner, case))
    assert all(e.visibility == "shared" for e in seen_by_customer)
    assert not any("Secret" in e.body for e in seen_by_customer)
    assert any("Secret" in e.body for e in selectors.case_entries(advisor, case))
    assert not any("Secret" in m.body for m in mail.outbox)


def test_shared_changes_are_mailed_to_both_sides(case, customer_org, advisor, operator):
    owner, member = customer_org["owner"], customer_org["member"]
    services.case_assign(actor=operator, case=case, assignee=advisor)
    assert mails_to(owner.email) and mails_to(advisor.email)
    assert not mails_to(operator.email)  # the one who did it is not told

    mail.outbox.clear()
    services.case_message(actor=member, case=case, body="Wann können wir sprechen?")
    # The member wrote, so they are a participant from now on; the opener and the advisor hear.
    assert {tuple(m.to) for m in mail.outbox} == {(owner.email,), (advisor.email,)}
    assert all("Wann können wir sprechen?" in m.body for m in mail.outbox)

    mail.outbox.clear()
    services.case_note(actor=advisor, case=case, body="Summary of our call", visibility="shared")
    assert {tuple(m.to) for m in mail.outbox} == {(owner.email,), (member.email,)}

    mail.outbox.clear()
    services.case_link_offering(
        actor=advisor, case=case, offering=Offering.objects.get(external_id="course-ai-for-crafts")
    )
    services.case_close(actor=advisor, case=case, reason="resolved")
    assert len(mails_to(owner.email)) == 2 and len(mails_to(member.email)) == 2


def test_mails_speak_the_recipients_language(catalogue, customer_org, advisor):
    owner = customer_org["owner"]
    owner.preferred_language = "de"
    owner.save()
    advisor.preferred_language = "fr"
    advisor.save()
    opened = services.case_open(actor=owner, organisation=customer_org["org"], need=NEED_DE)
    (receipt,) = mails_to(owner.email)
    (notice,) = mails_to(advisor.email)
    assert "Wir haben Ihre Anfrage" in receipt.subject
    assert "Nouveau dossier" in notice.subject
    assert opened.reference in receipt.subject and opened.reference in notice.subject


def test_unassigned_cases_go_to_every_advisor(case, advisor, make_user):
    second = make_user(staff_role="advisor")
    mail.outbox.clear()
    services.case_message(actor=case.opened_by, case=case, body="Hallo?")
    assert mails_to(advisor.email) and mails_to(second.email)


# --- the first-response target -----------------------------------------------------------------


def test_first_response_due_counts_holidays():
    from datetime import datetime

    christmas_eve = datetime(2026, 12, 24, 9, 0, tzinfo=TZ)
    assert services.first_response_due(christmas_eve) == datetime(2026, 12, 29, 9, 0, tzinfo=TZ)
    before_national_day = datetime(2026, 6, 22, 15, 0, tzinfo=TZ)
    assert services.first_response_due(before_national_day) == datetime(
        2026, 6, 25, 15, 0, tzinfo=TZ
    )


def test_first_response_days_is_a_setting(catalogue, customer_org, settings):
    settings.ADVISOR_FIRST_RESPONSE_DAYS = 5
    opened = services.case_open(
        actor=customer_org["owner"], organisation=customer_org["org"], need="Hilfe"
    )
    assert opened.first_response_due == add_working_days(opened.created_at, 5)


def test_overdue_until_the_factory_answers(case, advisor):
    assert not selectors.is_overdue(case)
    Case.objects.filter(pk=case.pk).update(first_response_due=timezone.now() - timedelta(hours=1))
    case.refresh_from_db()
    assert selectors.is_overdue(case)
    assert list(selectors.cases_list(advisor, overdue=True)) == [case]
    assert selectors.case_counts(advisor)["overdue"] == 1
    services.case_message(actor=advisor, case=case, body="Sorry for the wait.")
    case.refresh_from_db()
    assert not selectors.is_overdue(case)
    assert not selectors.cases_list(advisor, overdue=True).exists()


def test_list_filters(case, advisor, customer_org, outsider):
    services.case_triage(actor=advisor, case=case, stage="fund", sector="crafts")
    assert list(selectors.cases_list(advisor, stage="fund", sector="crafts")) == [case]
    assert not selectors.cases_list(advisor, stage="build").exists()
    assert list(selectors.cases_list(advisor, unassigned=True)) == [case]
    assert not selectors.cases_list(advisor, mine=True).exists()
    services.case_assign(actor=advisor, case=case, assignee=advisor)
    assert list(selectors.cases_list(advisor, mine=True)) == [case]
    assert list(selectors.cases_list(customer_org["member"], status="open")) == [case]
    assert not selectors.cases_list(outsider).exists()
    with pytest.raises(ValidationError) as exc:
        selectors.cases_list(advisor, status="sleeping", stage="x")
    assert set(exc.value.message_dict) == {"status", "stage"}


def test_messages_are_checked(case, customer_org):
    for body, fragment in (("", "cannot be empty"), ("x" * 10_001, "10001 given")):
        with pytest.raises(ValidationError) as exc:
            services.case_message(actor=customer_org["owner"], case=case, body=body)
        assert fragment in " ".join(exc.value.message_dict["body"])
    assert not CaseEntry.objects.filter(kind="message").exists()
