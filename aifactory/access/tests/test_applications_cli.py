"""`aifactory access applications` and `aifactory access overdue`."""

import json
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from aifactory.access.models import Application

from .applications_helpers import *  # noqa: F403


def run(*args) -> str:
    out = StringIO()
    call_command("access", *args, stdout=out)
    return out.getvalue()


def test_applications_list_and_filter(submitted, applicant, call, org):
    from aifactory.access import services

    services.application_create(actor=applicant, call=call, organisation=org)
    rows = json.loads(run("applications", "--json"))
    assert {r["status"] for r in rows} == {"draft", "eligibility_check"}
    rows = json.loads(run("applications", "--status", "draft", "--json"))
    assert [r["status"] for r in rows] == ["draft"]
    assert submitted.reference in run("applications")


def test_overdue_lists_only_late_open_applications(submitted):
    assert json.loads(run("overdue", "--json")) == []
    Application.objects.filter(pk=submitted.pk).update(
        clock_started_at=timezone.now() - timezone.timedelta(days=30)
    )
    rows = json.loads(run("overdue", "--json"))
    assert [r["reference"] for r in rows] == [submitted.reference]
    assert rows[0]["clock"]["state"] == "overdue"
    assert "overdue" in run("overdue")
    Application.objects.filter(pk=submitted.pk).update(status="withdrawn")
    assert json.loads(run("overdue", "--json")) == []
