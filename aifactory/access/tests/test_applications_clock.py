"""The service-time clock: working days (Luxembourg calendar), pauses during revisions."""

from datetime import datetime

import pytest

from aifactory.access.applications_selectors import add_working_time, application_clock
from aifactory.access.models import Application, ApplicationEvent
from aifactory.core.workdays import TZ

from .applications_helpers import *  # noqa: F403


def at(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture
def started(application):
    def start(moment, status="technical_review", events=()):
        Application.objects.filter(pk=application.pk).update(
            clock_started_at=moment, submitted_at=moment, status=status
        )
        for when, source, target in events:
            event = ApplicationEvent.objects.create(
                application=application, from_status=source, to_status=target
            )
            ApplicationEvent.objects.filter(pk=event.pk).update(created_at=when)
        return Application.objects.select_related("call__mode").get(pk=application.pk)

    return start


def test_no_clock_before_submission(application):
    clock = application_clock(application)
    assert clock.started_at is None and clock.state == ""


def test_across_a_weekend(started):
    app = started(at(2026, 6, 5, 10))  # a Friday; the mode promises 4 working days
    clock = application_clock(app, now=at(2026, 6, 8, 10))  # Monday
    assert clock.elapsed_days == 1.0
    assert clock.due_at == at(2026, 6, 11, 10)
    assert clock.state == "on_time"


def test_across_a_luxembourg_holiday(started):
    app = started(at(2026, 6, 22, 10))  # Monday; 23 June is the National Day
    assert application_clock(app, now=at(2026, 6, 22, 18)).state == "on_time"
    near = application_clock(app, now=at(2026, 6, 26, 10))
    assert near.elapsed_days == 3.0 and near.state == "near"
    assert near.due_at == at(2026, 6, 29, 10)
    late = application_clock(app, now=at(2026, 6, 29, 12))
    assert late.state == "overdue"


def test_revision_pauses_the_clock(started):
    app = started(
        at(2026, 6, 1, 10),
        status="eligibility_check",
        events=[
            (at(2026, 6, 2, 10), "eligibility_check", "revision_requested"),
            (at(2026, 6, 4, 10), "revision_requested", "submitted"),
            (at(2026, 6, 4, 10), "submitted", "eligibility_check"),
        ],
    )
    clock = application_clock(app, now=at(2026, 6, 8, 10))
    assert clock.paused_days == 2.0
    assert clock.elapsed_days == 3.0
    assert clock.due_at == at(2026, 6, 9, 10)
    assert clock.state == "near"


def test_an_open_revision_stops_the_clock_until_now(started):
    app = started(
        at(2026, 6, 1, 10),
        status="revision_requested",
        events=[(at(2026, 6, 2, 10), "technical_review", "revision_requested")],
    )
    clock = application_clock(app, now=at(2026, 6, 30, 10))
    assert clock.elapsed_days == 1.0
    assert clock.running is False
    assert clock.state == "on_time"


def test_decision_stops_the_clock(started):
    app = started(at(2026, 6, 1, 10), status="decided")
    Application.objects.filter(pk=app.pk).update(decided_at=at(2026, 6, 3, 10))
    app.refresh_from_db()
    clock = application_clock(app, now=at(2026, 7, 1))
    assert clock.elapsed_days == 2.0 and clock.state == "on_time" and not clock.running


def test_a_clock_that_starts_after_the_cutoff_has_not_run_yet(started):
    app = started(at(2026, 6, 20, 0))
    clock = application_clock(app, now=at(2026, 6, 10, 10))
    assert clock.elapsed_days == 0 and clock.state == "on_time"


def test_fractional_working_time_skips_weekends():
    # Half a working day from Friday noon ends with Friday; a quarter more runs into Monday.
    assert add_working_time(at(2026, 6, 5, 12), 0.5) == at(2026, 6, 6, 0)
    assert add_working_time(at(2026, 6, 5, 12), 1.25) == at(2026, 6, 8, 18)
