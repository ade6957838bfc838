"""The application services: the form, the team, evidence files and every transition."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from aifactory.access import services
from aifactory.access.models import (
    Application,
    ApplicationEvent,
    ApplicationStatus,
    Attachment,
    CallStatus,
    ClockStart,
    Decision,
)
from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.models import AuditEvent

from .applications_helpers import *  # noqa: F403
from .applications_helpers import COMPLETE, PDF, make_call, make_mode

S = ApplicationStatus


def test_create_gives_a_yearly_reference_and_the_creator_as_pi(application, applicant):
    year = timezone.localdate().year
    assert application.reference == f"A-{year}-00001"
    assert application.status == S.DRAFT
    pi = application.members.get()
    assert (pi.user, pi.role) == (applicant, "pi")
    assert AuditEvent.objects.filter(action="application.create").count() == 1


def test_references_count_up(applicant, org, call):
    refs = [
        services.application_create(actor=applicant, call=call, organisation=org).reference
        for _ in range(3)
    ]
    assert [r[-5:] for r in refs] == ["00001", "00002", "00003"]


@pytest.mark.django_db(transaction=True)
def test_references_unique_under_concurrency(make_user, make_org, pool):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    applicant = make_user()
    org = make_org(owner=applicant, kind="startup")
    call = make_call(make_mode(pool))
    refs, errors = [], []

    def create():
        try:
            refs.append(
                services.application_create(actor=applicant, call=call, organisation=org).reference
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(refs)) == 8


def test_only_members_create(make_user, org, call):
    with pytest.raises(PermissionDenied):
        services.application_create(actor=make_user(), call=call, organisation=org)


@pytest.mark.parametrize(
    "change",
    [
        {"status": CallStatus.CLOSED},
        {"status": CallStatus.DRAFT},
        {"closes_at_delta": -1},
    ],
)
def test_no_application_to_a_closed_call(applicant, org, call, change):
    if "closes_at_delta" in change:
        call.closes_at = timezone.now() + timedelta(hours=change["closes_at_delta"])
    else:
        call.status = change["status"]
    call.save()
    with pytest.raises(ServiceError) as exc:
        services.application_create(actor=applicant, call=call, organisation=org)
    assert exc.value.field == "call"
    assert not Application.objects.exists()


def test_update_saves_as_you_go(applicant, application):
    services.application_update(actor=applicant, application=application, data={"title": " A "})
    services.application_update(
        actor=applicant, application=application, data={"requested": {"gpu_hours": "1000"}}
    )
    application.refresh_from_db()
    assert application.title == "A"
    assert application.requested == {"gpu_hours": 1000}


@pytest.mark.parametrize(
    "data, field",
    [
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"sector": "nowhere"}, "sector"),
        ({"ai_act_risk": "huge"}, "ai_act_risk"),
        ({"personal_data": "maybe"}, "personal_data"),
        ({"requested": {"gpu_hours": "lots"}}, "requested.gpu_hours"),
        ({"requested": {"gpu_hours": -1}}, "requested.gpu_hours"),
        ({"requested": {"tpu_hours": 1}}, "requested"),
        ({"requested": [1]}, "requested"),
        ({"duration_months": "three"}, "duration_months"),
        ({"start_date": "tomorrow"}, "start_date"),
        ({"status": "decided"}, "status"),
        ({"abstract": "a\x00b"}, "abstract"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_saved(applicant, application, data, field):
    with pytest.raises(ValidationError) as exc:
        services.application_update(
            actor=applicant, application=application, data={"model_type": "kept?", **data}
        )
    assert field in exc.value.message_dict
    application.refresh_from_db()
    assert application.model_type == ""


def test_outsider_cannot_edit(make_user, application):
    with pytest.raises(PermissionDenied):
        services.application_update(actor=make_user(), application=application, data={"title": "x"})


def test_members_add_and_remove(applicant, application, make_user):
    known = make_user("colleague@example.org")
    member = services.application_member_add(
        actor=applicant, application=application, email="Colleague@example.org", role="manager"
    )
    assert member.user == known and member.role == "manager"
    with pytest.raises(ValidationError) as exc:
        services.application_member_add(
            actor=applicant, application=application, email="colleague@example.org"
        )
    assert "email" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.application_member_add(
            actor=applicant, application=application, email="x@example.org", role="pi"
        )
    assert "role" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.application_member_add(actor=applicant, application=application, email="nope")
    assert "email" in exc.value.message_dict
    services.application_member_remove(
        actor=applicant, application=application, member_id=member.pk
    )
    assert application.members.count() == 1


def test_a_manager_named_on_the_application_edits_it(applicant, application, make_user):
    manager = make_user("manager@example.org")
    services.application_member_add(
        actor=applicant, application=application, email=manager.email, role="manager"
    )
    services.application_update(actor=manager, application=application, data={"title": "By M"})
    assert Application.objects.get().title == "By M"


def test_attachment_pdf_stored_with_its_digest(applicant, application, settings):
    import hashlib

    upload = SimpleUploadedFile("bench.pdf", PDF, content_type="application/pdf")
    attachment = services.application_attachment_add(
        actor=applicant, application=application, upload=upload
    )
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert attachment.size == len(PDF)
    assert attachment.file.read() == PDF
    assert str(settings.MEDIA_ROOT) in attachment.file.path


def _media_files(settings):
    from pathlib import Path

    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_not_a_pdf_is_refused_whatever_its_name(applicant, application, settings):
    before = _media_files(settings)
    upload = SimpleUploadedFile("bench.pdf", b"PK\x03\x04 a zip", content_type="application/pdf")
    with pytest.raises(ValidationError) as exc:
        services.application_attachment_add(actor=applicant, application=application, upload=upload)
    assert "file" in exc.value.message_dict
    assert not Attachment.objects.exists()
    assert _media_files(settings) == before


def test_too_large_is_refused(applicant, application, settings):
    settings.ACCESS_MAX_UPLOAD_MB = 1
    before = _media_files(settings)
    upload = SimpleUploadedFile("big.pdf", PDF + b"0" * (1024 * 1024))
    with pytest.raises(ValidationError) as exc:
        services.application_attachment_add(actor=applicant, application=application, upload=upload)
    assert "1 MB" in exc.value.message_dict["file"][0]
    assert not Attachment.objects.exists()
    assert _media_files(settings) == before


def test_submit_runs_the_eligibility_check(
    complete_application, applicant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submitted = services.application_submit(actor=applicant, application=complete_application)
    assert submitted.status == S.ELIGIBILITY_CHECK
    assert submitted.eligibility["ok"] is True
    assert submitted.submitted_at and submitted.clock_started_at == submitted.submitted_at
    moves = list(submitted.events.values_list("from_status", "to_status"))
    assert moves == [("", "draft"), ("draft", "submitted"), ("submitted", "eligibility_check")]
    assert AuditEvent.objects.filter(action="application.submitted").count() == 1
    assert [m.to for m in mail.outbox] == [[applicant.email], [applicant.email]]
    assert submitted.reference in mail.outbox[0].subject


def test_double_submit_is_idempotent(submitted, applicant, django_capture_on_commit_callbacks):
    events, mails = ApplicationEvent.objects.count(), len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = services.application_submit(actor=applicant, application=submitted)
    assert callbacks == []
    assert again.status == S.ELIGIBILITY_CHECK
    assert again.submitted_at == submitted.submitted_at
    assert ApplicationEvent.objects.count() == events
    assert len(mail.outbox) == mails


def test_incomplete_submission_names_every_missing_field(applicant, application):
    with pytest.raises(ValidationError) as exc:
        services.application_submit(actor=applicant, application=application)
    for field in ("title", "abstract", "requested", "duration_months", "start_date"):
        assert field in exc.value.message_dict
    application.refresh_from_db()
    assert application.status == S.DRAFT and application.submitted_at is None


def test_personal_data_needs_a_legal_basis(applicant, complete_application):
    services.application_update(
        actor=applicant, application=complete_application, data={"personal_data": True}
    )
    with pytest.raises(ValidationError) as exc:
        services.application_submit(actor=applicant, application=complete_application)
    assert list(exc.value.message_dict) == ["legal_basis"]


def test_above_the_limit_and_wrong_duration(applicant, complete_application):
    services.application_update(
        actor=applicant,
        application=complete_application,
        data={"requested": {"gpu_hours": 60000}, "duration_months": 6},
    )
    with pytest.raises(ValidationError) as exc:
        services.application_submit(actor=applicant, application=complete_application)
    errors = exc.value.message_dict
    assert "50,000" in errors["requested.gpu_hours"][0]
    assert "duration_months" in errors
    assert Application.objects.get().status == S.DRAFT


def test_exactly_one_pi_at_submission(applicant, complete_application):
    pi = complete_application.members.get()
    services.application_member_remove(
        actor=applicant, application=complete_application, member_id=pi.pk
    )
    with pytest.raises(ValidationError) as exc:
        services.application_submit(actor=applicant, application=complete_application)
    assert "members" in exc.value.message_dict


def test_submit_to_a_call_closed_since(applicant, complete_application):
    call = complete_application.call
    call.status = CallStatus.CLOSED
    call.save()
    with pytest.raises(ServiceError) as exc:
        services.application_submit(actor=applicant, application=complete_application)
    assert exc.value.status == 409 and exc.value.field == "call"
    assert not ApplicationEvent.objects.filter(to_status=S.SUBMITTED).exists()


def test_cutoff_mode_starts_the_clock_after_the_cutoff(applicant, org, pool):
    from datetime import date

    mode = make_mode(
        pool,
        code="large",
        limits={"gpu_hours": {"min": 50001, "max": 2_000_000}},
        durations_months=[3, 6, 12],
        has_cutoffs=True,
        clock_starts=ClockStart.CUTOFF,
        decision_days=10,
    )
    today = timezone.localdate()
    call = make_call(
        mode,
        cutoffs=[
            (today - timedelta(days=3)).isoformat(),
            (today + timedelta(days=10)).isoformat(),
            (today + timedelta(days=40)).isoformat(),
        ],
    )
    app = services.application_create(actor=applicant, call=call, organisation=org)
    data = dict(COMPLETE, requested={"gpu_hours": 100000}, duration_months=6)
    services.application_update(actor=applicant, application=app, data=data)
    app = services.application_submit(actor=applicant, application=app)
    assert app.cutoff == today + timedelta(days=10)
    assert app.clock_started_at.date() == today + timedelta(days=11)
    assert isinstance(app.cutoff, date)


def test_ineligible_organisation_is_reported(applicant, make_org, make_user, call):
    owner = make_user()
    big = make_org(owner=owner, kind="large")
    app = services.application_create(actor=owner, call=call, organisation=big)
    services.application_update(actor=owner, application=app, data=COMPLETE)
    app = services.application_submit(actor=owner, application=app)
    assert app.status == S.ELIGIBILITY_CHECK
    assert app.eligibility["ok"] is False
    assert "Kind of organisation" in app.eligibility["reasons"][0]


def test_operator_confirms_eligibility(submitted, operator):
    app = services.application_eligibility_decide(
        actor=operator, application=submitted, eligible=True
    )
    assert app.status == S.TECHNICAL_REVIEW
    assert app.eligibility["decision"]["override"] is False


def test_override_needs_a_reason(submitted, operator):
    with pytest.raises(ValidationError) as exc:
        services.application_eligibility_decide(
            actor=operator, application=submitted, eligible=False
        )
    assert "reason" in exc.value.message_dict
    app = services.application_eligibility_decide(
        actor=operator, application=submitted, eligible=False, reason="A subsidiary of a group."
    )
    assert (app.status, app.outcome) == (S.DECIDED, "rejected")
    assert app.decided_at is not None
    assert Decision.objects.get(application=app).reason == "A subsidiary of a group."
    assert app.eligibility["decision"]["override"] is True


def test_applicant_cannot_decide_eligibility(submitted, applicant):
    with pytest.raises(PermissionDenied):
        services.application_eligibility_decide(
            actor=applicant, application=submitted, eligible=True
        )


def test_revision_and_resubmit(submitted, operator, applicant):
    app = services.application_request_revision(
        actor=operator, application=submitted, note="Add a scaling plot."
    )
    assert app.status == S.REVISION_REQUESTED
    services.application_update(actor=applicant, application=app, data={"justification": "Plot."})
    app = services.application_submit(actor=applicant, application=app)
    assert app.status == S.ELIGIBILITY_CHECK
    assert app.submitted_at == submitted.submitted_at  # the clock is not restarted
    assert list(app.events.values_list("to_status", flat=True))[-3:] == [
        "revision_requested",
        "submitted",
        "eligibility_check",
    ]


def test_revision_needs_a_note(submitted, operator):
    with pytest.raises(ValidationError) as exc:
        services.application_request_revision(actor=operator, application=submitted, note=" ")
    assert "note" in exc.value.message_dict


def test_wrong_state_actions_are_409(application, applicant, operator, submitted):
    draft = services.application_create(
        actor=applicant, call=application.call, organisation=application.organisation
    )
    with pytest.raises(InvalidTransition) as exc:
        services.application_request_revision(actor=operator, application=draft, note="x")
    assert exc.value.status == 409
    with pytest.raises(InvalidTransition):
        services.application_eligibility_decide(actor=operator, application=draft, eligible=True)
    with pytest.raises(InvalidTransition):
        services.application_update(actor=applicant, application=submitted, data={"title": "x"})
    withdrawn = services.application_withdraw(actor=applicant, application=submitted)
    assert withdrawn.status == S.WITHDRAWN
    for action in (
        lambda: services.application_withdraw(actor=applicant, application=withdrawn),
        lambda: services.application_submit(actor=applicant, application=withdrawn),
        lambda: services.application_attachment_add(
            actor=applicant, application=withdrawn, upload=SimpleUploadedFile("a.pdf", PDF)
        ),
    ):
        with pytest.raises(InvalidTransition):
            action()


def test_withdraw_from_every_open_state(submitted, applicant, operator):
    services.application_eligibility_decide(actor=operator, application=submitted, eligible=True)
    app = services.application_withdraw(actor=applicant, application=submitted, reason="Done.")
    assert app.status == S.WITHDRAWN
    assert app.events.last().note == "Done."


def test_transitions_table_is_closed():
    for source, targets in services.TRANSITIONS.items():
        assert source in S.values
        assert targets <= set(S.values)
    assert services.TRANSITIONS[S.DECIDED] == set()


def test_mail_to_applicant_and_pi_in_their_language(
    applicant, complete_application, make_user, django_capture_on_commit_callbacks
):
    pi = make_user("pi@example.org")
    pi.preferred_language = "fr"
    pi.save()
    applicant.preferred_language = "de"
    applicant.save()
    own = complete_application.members.get()
    services.application_member_remove(
        actor=applicant, application=complete_application, member_id=own.pk
    )
    services.application_member_add(
        actor=applicant, application=complete_application, email=pi.email, role="pi"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(actor=applicant, application=complete_application)
    by_address = {m.to[0]: m.subject for m in mail.outbox[:2]}
    assert "wurde eingereicht" in by_address[applicant.email]
    assert "a été soumise" in by_address[pi.email]
