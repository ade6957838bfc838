"""The demo cases: loaded through the services after the demo catalogue, idempotent, silent."""

from django.core import mail
from django.utils import timezone

from aifactory.accounts.demo import seed_demo
from aifactory.advisor import selectors
from aifactory.advisor.demo import CASES, load_demo_cases
from aifactory.advisor.models import Case


def test_demo_cases(demo_catalogue, django_capture_on_commit_callbacks):
    seed_demo()
    with django_capture_on_commit_callbacks(execute=True):
        line = load_demo_cases()
    assert line == f"demo cases: {len(CASES)} created, 0 there already"
    assert not mail.outbox  # demo addresses are made up
    cases = {c.subject: c for c in Case.objects.all()}
    assert cases["Weniger Brot wegwerfen"].status == "new"
    assert selectors.is_overdue(cases["Weniger Brot wegwerfen"])
    assert cases["Offerten méi séier schreiwen"].status == "waiting_for_customer"
    assert cases["Offerten méi séier schreiwen"].entries.filter(visibility="internal").exists()
    assert cases["GPU hours for Sentinel-2 segmentation"].offerings.count() == 2
    closed = cases["Saisie automatique des factures"]
    assert (closed.status, closed.close_reason) == ("closed", "resolved")
    assert closed.created_at < timezone.now() - timezone.timedelta(days=19)
    for case in cases.values():
        assert case.matchmaking["results"], case.subject
        times = list(case.entries.values_list("created_at", flat=True))
        assert times == sorted(times)
        if case.first_response_at:
            assert case.first_response_at <= case.first_response_due
    assert load_demo_cases() == f"demo cases: 0 created, {len(CASES)} there already"


def test_demo_readiness(demo_catalogue):
    from aifactory.advisor.models import Assessment
    from aifactory.advisor.readiness_demo import LEVELS, load_demo_readiness

    seed_demo()
    assert load_demo_readiness() == "demo readiness: 1 completed assessment"
    assert load_demo_readiness() == "demo readiness: there already"
    assessment = Assessment.objects.get()
    assert assessment.status == "completed"
    levels = {d["key"]: d["level"] for d in assessment.result["dimensions"]}
    assert levels == LEVELS
