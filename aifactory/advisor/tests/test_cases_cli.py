"""`aifactory cases`: a real process on the test database."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from aifactory.advisor.models import Case
from aifactory.advisor.services import cases as services
from aifactory.core.tests import processes

pytestmark = pytest.mark.django_db(transaction=True)


def test_list_and_show(case, customer_org, advisor):
    services.case_note(actor=advisor, case=case, body="Internal: call them on Monday")
    Case.objects.filter(pk=case.pk).update(first_response_due=timezone.now() - timedelta(hours=3))

    listing = processes.run("cases", "list", "--overdue")
    assert listing.returncode == 0, listing.stderr
    assert case.reference in listing.stdout and "OVERDUE" in listing.stdout

    rows = json.loads(processes.run("cases", "list", "--json").stdout)
    assert rows[0]["reference"] == case.reference and rows[0]["overdue"] is True

    mine = processes.run("cases", "list", "--mine", "--as", advisor.email)
    assert mine.returncode == 0 and mine.stdout.strip() == ""
    services.case_assign(actor=advisor, case=case, assignee=advisor)
    mine = processes.run("cases", "list", "--mine", "--as", advisor.email, "--json")
    assert [r["reference"] for r in json.loads(mine.stdout)] == [case.reference]

    shown = processes.run("cases", "show", case.reference)
    assert shown.returncode == 0, shown.stderr
    assert "Internal: call them on Monday" in shown.stdout and "[internal]" in shown.stdout
    # Read as the customer: the internal note is not there.
    as_customer = processes.run(
        "cases", "show", case.reference, "--as", customer_org["owner"].email, "--json"
    )
    data = json.loads(as_customer.stdout)
    assert data["reference"] == case.reference
    assert "Internal" not in as_customer.stdout


def test_errors_name_the_argument(case, outsider):
    mine = processes.run("cases", "list", "--mine")
    assert mine.returncode != 0 and "mine:" in mine.stderr
    missing = processes.run("cases", "show", "C-1999-00001")
    assert missing.returncode != 0 and "reference:" in missing.stderr
    hidden = processes.run("cases", "show", case.reference, "--as", outsider.email)
    assert hidden.returncode != 0 and "reference:" in hidden.stderr
    nobody = processes.run("cases", "list", "--as", "nobody@example.org")
    assert nobody.returncode != 0 and "as:" in nobody.stderr
