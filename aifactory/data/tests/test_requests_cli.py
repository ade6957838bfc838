"""`aifactory data-requests ...`: decisions from the shell, grants, the log, SQL for a person."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from aifactory.data.models import AccessLogEntry, Grant, RequestStatus
from aifactory.data.tests.data_helpers import data_storage, publisher  # noqa: F401
from aifactory.data.tests.requests_helpers import dataset_make, request_make, version_make


def run(*args) -> str:
    out = StringIO()
    call_command("data_requests", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def refused(*args) -> str:
    with pytest.raises(CommandError) as exc:
        run(*args)
    return str(exc.value)


@pytest.fixture
def waiting(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], slug="meter-readings")
    version_make(dataset)
    return request_make(dataset, publisher["outsider"], publisher["other_org"], duration_days=20)


def test_list_approve_and_query(publisher, waiting):  # noqa: F811
    assert str(waiting.pk) in run("list", "--status", "pending")
    rows = json.loads(run("list", "--json"))
    assert [r["status"] for r in rows] == ["pending"]
    too_late = (timezone.localdate() + timedelta(days=40)).isoformat()
    assert refused("approve", str(waiting.pk), "--expires", too_late).startswith("--expires:")
    assert refused("approve", str(waiting.pk), "--expires", "soon").startswith("--expires:")
    assert "may not" in refused("approve", str(waiting.pk), "--user", publisher["member"].email)
    day = (timezone.localdate() + timedelta(days=10)).isoformat()
    out = run(
        "approve",
        str(waiting.pk),
        "--expires",
        day,
        "--conditions",
        "Cite us.",
        "--user",
        publisher["steward"].email,
    )
    assert f"until {day}" in out
    waiting.refresh_from_db()
    assert waiting.status == RequestStatus.APPROVED and waiting.decided_by == publisher["steward"]
    assert "approved already" in refused("refuse", str(waiting.pk), "--reason", "x")

    out = run(
        "query", "SELECT name FROM meter_readings ORDER BY id", "--user", "outsider@other.example"
    )
    assert out.splitlines() == ["name", "Esch", "Diekirch", "Luxembourg"]
    assert "meter-readings" in run("grants")
    assert "query" in run("log", "meter-readings")
    entry = AccessLogEntry.objects.get()
    assert entry.user == publisher["outsider"] and entry.organisation == publisher["other_org"]


def test_query_refusals_name_the_option(publisher, waiting):  # noqa: F811
    assert refused("query", "SELECT 1", "--user", "nobody@x.example").startswith("--user:")
    message = refused("query", "COPY (SELECT 1) TO '/tmp/x'", "--user", "outsider@other.example")
    assert message.startswith("sql:") and "read-only" in message
    message = refused("query", "SELECT * FROM meter_readings", "--user", "outsider@other.example")
    assert "does not exist" in message


def test_refuse_revoke_expire(publisher, waiting):  # noqa: F811
    assert refused("refuse", str(waiting.pk), "--reason", " ").startswith("--reason:")
    assert refused("refuse", "nonsense", "--reason", "x").startswith("ID:")
    assert "refused" in run("refuse", str(waiting.pk), "--reason", "Not now.")
    again = request_make(waiting.dataset, publisher["outsider"], publisher["other_org"])
    run("approve", str(again.pk))
    grant = Grant.objects.get()
    assert grant.granted_by is None  # the system
    assert "revoked" in run("revoke", str(grant.pk), "--reason", "Ended.")
    assert "0 grant(s)" in run("expire")


def test_an_unknown_dataset_is_an_error_naming_it_not_an_empty_list(waiting):
    assert refused("list", "--dataset", "no-such-data") == "--dataset: no dataset 'no-such-data'"
    assert refused("grants", "--dataset", "no-such-data") == "--dataset: no dataset 'no-such-data'"
    assert refused("log", "no-such-data") == "SLUG: no dataset 'no-such-data'"
    assert str(waiting.pk) in run("list", "--dataset", "meter-readings")
