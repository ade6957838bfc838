"""The applications API under /api/v1/access/applications."""

import pytest
from django.test import Client

from aifactory.access.models import Application, Attachment
from aifactory.accounts.services import token_create

from .applications_helpers import *  # noqa: F403
from .applications_helpers import COMPLETE, PDF

BASE = "/access/applications"


@pytest.fixture
def as_applicant(api, applicant):
    return api(applicant)


@pytest.fixture
def as_operator(api, operator):
    return api(operator)


def _create(client, call, org, **data):
    return client.post(BASE, {"call": call.code, "organisation": str(org.pk), **data})


def test_create_patch_submit(as_applicant, call, org):
    r = _create(as_applicant, call, org, title="First")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "draft" and body["title"] == "First"
    assert body["members"][0]["role"] == "pi"
    ref = body["reference"]
    patch = dict(COMPLETE)
    r = as_applicant.patch(f"{BASE}/{ref}", patch)
    assert r.status_code == 200, r.content
    r = as_applicant.post(f"{BASE}/{ref}/submit")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "eligibility_check"
    assert r.json()["clock"]["state"] == "on_time"
    again = as_applicant.post(f"{BASE}/{ref}/submit")
    assert again.status_code == 200
    assert again.json()["events"] == r.json()["events"]


def test_bad_field_is_named(as_applicant, call, org):
    r = _create(as_applicant, call, org, title="x" * 201)
    assert r.status_code == 422
    assert "title" in r.json()["errors"]
    assert not Application.objects.exists()
    r = _create(as_applicant, call, org, colour="blue")
    assert r.status_code == 422


def test_incomplete_submit_is_422_with_fields(as_applicant, application):
    r = as_applicant.post(f"{BASE}/{application.pk}/submit")
    assert r.status_code == 422
    assert {"title", "requested"} <= set(r.json()["errors"])


def test_above_limit_on_submit(as_applicant, complete_application):
    as_applicant.patch(f"{BASE}/{complete_application.pk}", {"requested": {"gpu_hours": 50001}})
    r = as_applicant.post(f"{BASE}/{complete_application.pk}/submit")
    assert r.status_code == 422
    assert "requested.gpu_hours" in r.json()["errors"]


def test_closed_call_is_409(as_applicant, call, org):
    call.status = "closed"
    call.save()
    r = _create(as_applicant, call, org)
    assert r.status_code == 409
    assert "call" in r.json()["errors"]


def test_wrong_state_is_409(as_operator, as_applicant, application):
    r = as_operator.post(f"{BASE}/{application.pk}/revision", {"note": "More."})
    assert r.status_code == 409
    r = as_operator.post(f"{BASE}/{application.pk}/eligibility", {"eligible": True})
    assert r.status_code == 409


def test_operator_flow(as_operator, as_applicant, submitted):
    r = as_operator.post(f"{BASE}/{submitted.pk}/revision", {"note": "Add benchmarks."})
    assert r.status_code == 200 and r.json()["status"] == "revision_requested"
    r = as_applicant.post(f"{BASE}/{submitted.pk}/submit")
    assert r.json()["status"] == "eligibility_check"
    r = as_operator.post(f"{BASE}/{submitted.pk}/eligibility", {"eligible": True})
    assert r.status_code == 200 and r.json()["status"] == "technical_review"
    r = as_applicant.post(f"{BASE}/{submitted.pk}/withdraw", {"reason": "Funding moved."})
    assert r.json()["status"] == "withdrawn"


def test_applicant_cannot_run_eligibility(as_applicant, submitted):
    r = as_applicant.post(f"{BASE}/{submitted.pk}/eligibility", {"eligible": True})
    assert r.status_code == 403


def test_lists_and_visibility(api, as_applicant, as_operator, make_user, submitted, call, org):
    application = Application.objects.get(pk=_create(as_applicant, call, org).json()["id"])
    mine = as_applicant.get(BASE).json()
    assert {a["reference"] for a in mine} == {submitted.reference, application.reference}
    assert len(as_operator.get(BASE).json()) == 2
    assert [a["status"] for a in as_operator.get(BASE + "?status=draft").json()] == ["draft"]
    assert as_operator.get(BASE + "?overdue=true").json() == []
    stranger = api(make_user())
    assert stranger.get(BASE).json() == []
    assert stranger.get(f"{BASE}/{submitted.pk}").status_code == 404
    assert stranger.patch(f"{BASE}/{application.pk}", {"title": "x"}).status_code == 404
    reviewer = api(make_user(staff_role="reviewer"))
    assert reviewer.get(BASE).json() == []


def _multipart(user, path, content, name="evidence.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _token, secret = token_create(user=user, name="upload")
    return Client().post(
        f"/api/v1{path}",
        {"file": SimpleUploadedFile(name, content, content_type="application/pdf")},
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_attachments(applicant, application, settings):
    r = _multipart(applicant, f"{BASE}/{application.pk}/attachments", PDF)
    assert r.status_code == 201, r.content
    assert len(r.json()["sha256"]) == 64
    r = _multipart(applicant, f"{BASE}/{application.pk}/attachments", b"<html>", "x.pdf")
    assert r.status_code == 422 and "file" in r.json()["errors"]
    settings.ACCESS_MAX_UPLOAD_MB = 0
    r = _multipart(applicant, f"{BASE}/{application.pk}/attachments", PDF)
    assert r.status_code == 422
    assert Attachment.objects.count() == 1


def test_members_api(as_applicant, application):
    r = as_applicant.post(
        f"{BASE}/{application.pk}/members", {"email": "m@example.org", "role": "member"}
    )
    assert r.status_code == 201
    member_id = r.json()["id"]
    assert as_applicant.delete(f"{BASE}/{application.pk}/members/{member_id}").status_code == 204
    r = as_applicant.post(f"{BASE}/{application.pk}/members", {"email": "bad", "role": "x"})
    assert r.status_code == 422 and {"email", "role"} <= set(r.json()["errors"])
