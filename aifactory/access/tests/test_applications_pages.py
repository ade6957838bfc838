"""The application pages: mine, start, the form saved as you go, team, evidence, submit,
withdraw, and the operators' queue with eligibility and revision."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from aifactory.access.models import Application, Attachment

from .applications_helpers import *  # noqa: F403
from .applications_helpers import PDF


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def detail(app) -> str:
    return f"/access/applications/{app.pk}/"


def test_start_and_save_as_you_go(applicant, org, call):
    c = client_for(applicant)
    page = c.get("/access/applications/new/")
    assert page.status_code == 200 and org.legal_name in page.content.decode()
    r = c.post("/access/applications/new/", {"call": str(call.pk), "organisation": str(org.pk)})
    app = Application.objects.get()
    assert r.status_code == 302 and r["Location"] == detail(app)
    r = c.post(detail(app), {"title": "<b>Speech</b>", "gpu_hours": "1200", "sector": "media"})
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.title == "<b>Speech</b>" and app.requested == {"gpu_hours": 1200}
    page = c.get(detail(app)).content.decode()
    assert "&lt;b&gt;Speech&lt;/b&gt;" in page and "<b>Speech</b>" not in page
    assert "50000" in page or "50,000" in page  # the mode's limit is shown
    assert 'data-eligible="yes"' in page
    assert 'id="missing"' in page  # what is still needed before submitting
    assert app.reference in c.get("/access/applications/").content.decode()


def test_a_bad_field_is_shown_and_nothing_saved(applicant, application):
    c = client_for(applicant)
    r = c.post(detail(application), {"title": "x" * 201, "model_type": "kept?"})
    assert r.status_code == 200
    assert "has-error" in r.content.decode()
    application.refresh_from_db()
    assert application.model_type == ""


def test_submit_and_withdraw(applicant, complete_application):
    c = client_for(applicant)
    r = c.post(detail(complete_application) + "submit/", follow=True)
    assert r.status_code == 200
    complete_application.refresh_from_db()
    assert complete_application.status == "eligibility_check"
    assert "withdraw-application" in r.content.decode()
    c.post(detail(complete_application) + "withdraw/", {"reason": "No longer needed."})
    complete_application.refresh_from_db()
    assert complete_application.status == "withdrawn"


def test_incomplete_submit_says_what_is_missing(applicant, application):
    r = client_for(applicant).post(detail(application) + "submit/", follow=True)
    assert "This field is required." in r.content.decode()
    application.refresh_from_db()
    assert application.status == "draft"


def test_team_and_evidence(applicant, application):
    c = client_for(applicant)
    c.post(detail(application) + "members/", {"email": "m@example.org", "role": "member"})
    assert application.members.count() == 2
    member = application.members.get(email="m@example.org")
    c.post(detail(application) + f"members/{member.pk}/remove/")
    assert application.members.count() == 1
    r = c.post(detail(application) + "attachments/", {"file": SimpleUploadedFile("b.pdf", PDF)})
    assert r.status_code == 302
    attachment = Attachment.objects.get()
    download = c.get(detail(application) + f"attachments/{attachment.pk}/")
    assert b"".join(download.streaming_content) == PDF
    r = c.post(
        detail(application) + "attachments/", {"file": SimpleUploadedFile("x.pdf", b"GIF89")}
    )
    assert r.status_code == 422 and "Only PDF files" in r.content.decode()
    assert Attachment.objects.count() == 1


def test_queue_highlights_late_applications(operator, submitted):
    Application.objects.filter(pk=submitted.pk).update(
        clock_started_at=timezone.now() - timezone.timedelta(days=30)
    )
    c = client_for(operator)
    page = c.get("/access/queue/").content.decode()
    assert submitted.reference in page and 'data-clock="overdue"' in page
    assert submitted.reference in c.get("/access/queue/?overdue=on").content.decode()


def test_operator_decides_eligibility_and_asks_revision(operator, submitted):
    c = client_for(operator)
    page = c.get(detail(submitted)).content.decode()
    assert "eligibility-form" in page and "revision-form" in page
    r = c.post(detail(submitted) + "revision/", {"note": "Add a scaling plot."})
    assert r.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "revision_requested"


def test_override_without_reason_is_refused(operator, submitted):
    r = client_for(operator).post(detail(submitted) + "eligibility/", {"eligible": "no"})
    assert r.status_code == 422
    submitted.refresh_from_db()
    assert submitted.status == "eligibility_check"


@pytest.mark.parametrize("who", ["outsider", "reviewer"])
def test_others_do_not_see_it(make_user, application, who):
    user = make_user(staff_role="reviewer" if who == "reviewer" else "")
    assert client_for(user).get(detail(application)).status_code == 404
