"""Reads of applications, filtered by permission, and the service-time clock.

The clock runs in working days (weekends and Luxembourg public holidays count for nothing) from
``clock_started_at`` — submission, or the end of the cut-off day for modes whose clock starts at
the cut-off — to the decision, or now. It does not run while a revision is requested: the
paused stretches are read from the application's events, so the figure can always be recomputed
and cannot drift. The target is the mode's ``decision_days``; "near" means less than one working
day is left.
"""

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from aifactory.core.permissions import allowed
from aifactory.core.workdays import TZ, add_working_days, is_working_day, working_days_between

from .models import Application, ApplicationStatus

S = ApplicationStatus
# Statuses in which the factory owes an answer (or is waiting on the applicant, clock paused).
CLOCK_OPEN = (
    S.SUBMITTED,
    S.ELIGIBILITY_CHECK,
    S.TECHNICAL_REVIEW,
    S.PEER_REVIEW,
    S.REVISION_REQUESTED,
)
NEAR_DAYS = 1


def applications_visible(user) -> QuerySet[Application]:
    """Operators and administrators see every application; others those of their
    organisations and those naming them as principal investigator or manager."""
    qs = Application.objects.select_related("call__mode", "organisation", "created_by")
    if allowed(user, "application.list_all"):
        return qs
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    return qs.filter(
        Q(organisation__memberships__user=user)
        | Q(members__user=user, members__role__in=("pi", "manager"))
    ).distinct()


def applications_list(
    user, *, status: str = "", mine: bool = False, overdue: bool = False
) -> list[Application]:
    """The list pages and the API: ``mine`` keeps the person's own organisations (operators
    too); ``overdue`` keeps the open applications near or past their target."""
    qs = applications_visible(user)
    if mine:
        qs = qs.filter(
            Q(organisation__memberships__user=user)
            | Q(members__user=user, members__role__in=("pi", "manager"))
        ).distinct()
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(status__in=CLOCK_OPEN)
    rows = list(qs.prefetch_related("events").order_by("-created_at"))
    if overdue:
        rows = [a for a in rows if application_clock(a).state in ("near", "overdue")]
    return rows


def application_get(user, key) -> Application:
    """By id or reference. One the person may not see answers 404, so ids reveal nothing."""
    lookup = Q(reference=str(key))
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(str(key)))
    application = (
        Application.objects.select_related("call__mode", "organisation", "created_by")
        .filter(lookup)
        .first()
    )
    if application is None or not allowed(user, "application.view", application):
        raise Http404
    return application


# --- the clock ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    started_at: datetime | None
    due_at: datetime | None
    target_days: int
    elapsed_days: float  # working days the factory has used, pauses left out
    paused_days: float
    running: bool  # False when decided, withdrawn, paused or not started
    state: str  # "", "on_time", "near", "overdue"

    @property
    def remaining_days(self) -> float:
        return self.target_days - self.elapsed_days


def _pauses(application: Application, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches spent in revision_requested, from the events (the last one may be open)."""
    pauses, opened = [], None
    for event in application.events.all():
        if event.to_status == S.REVISION_REQUESTED and opened is None:
            opened = event.created_at
        elif opened is not None and event.from_status == S.REVISION_REQUESTED:
            pauses.append((opened, min(event.created_at, end)))
            opened = None
    if opened is not None:
        pauses.append((opened, end))
    return pauses


def _end(application: Application, now: datetime) -> datetime:
    if application.decided_at:
        return application.decided_at
    if application.status == S.WITHDRAWN:
        withdrawn = [e.created_at for e in application.events.all() if e.to_status == S.WITHDRAWN]
        if withdrawn:
            return withdrawn[-1]
    return now


def add_working_time(start: datetime, days: float) -> datetime:
    """``start`` plus a number of working days that may have a fraction (pauses are rarely
    whole days): the whole days as add_working_days counts them, then the fraction of the
    following working day(s)."""
    whole = int(days)
    moment = add_working_days(start, whole).astimezone(TZ)
    rest = timedelta(days=days - whole)
    while rest > timedelta(0):
        day = moment.date()
        if not is_working_day(day):
            moment = datetime.combine(day + timedelta(days=1), time.min, tzinfo=TZ)
            continue
        day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=TZ)
        length = day_end - datetime.combine(day, time.min, tzinfo=TZ)
        left = day_end - moment
        share = rest * (length / timedelta(days=1))
        if share <= left:
            return moment + share
        rest -= timedelta(days=1) * (left / length)
        moment = day_end
    return moment


def application_clock(application: Application, now: datetime | None = None) -> Clock:
    """Where the application stands against its mode's decision target."""
    target = application.call.mode.decision_days
    start = application.clock_started_at
    if start is None:
        return Clock(None, None, target, 0.0, 0.0, False, "")
    now = now or timezone.now()
    end = _end(application, now)
    if end <= start:
        elapsed, paused = 0.0, 0.0
    else:
        paused = sum(
            working_days_between(max(a, start), b)
            for a, b in _pauses(application, end)
            if b > start
        )
        elapsed = max(0.0, working_days_between(start, end) - paused)
    due = add_working_time(start, target + paused)
    remaining = target - elapsed
    if remaining < 0:
        state = "overdue"
    elif remaining <= NEAR_DAYS:
        state = "near"
    else:
        state = "on_time"
    running = application.status in CLOCK_OPEN and application.status != S.REVISION_REQUESTED
    return Clock(start, due, target, round(elapsed, 3), round(paused, 3), running, state)
