"""The working-day calendar of the factory: weekends and Luxembourg public holidays.

Service-time targets (the first answer to a support case, the decision on a compute application)
are promised in working days, so they are counted here, in one place, in Luxembourg time whatever
the server's time zone. The holidays come from the ``holidays`` package (Europe Day, 9 May, and
the National Day, 23 June, included), so no list needs updating by hand each year.

A working day counts as a whole calendar day in Luxembourg time, midnight to midnight: N working
days after Friday 10:00 is the N-th working day after it at 10:00; a request made on a weekend or
a holiday starts counting at midnight of the next working day. ``working_days_between`` is the
inverse: the share of working days elapsed between two moments, so
``working_days_between(t, add_working_days(t, n)) == n``.
"""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

COUNTRY = "LU"
TZ = ZoneInfo("Europe/Luxembourg")


# The hub's languages as the holidays package names them.
_HOLIDAY_LANGUAGES = {"en": "en_US", "de": "de", "fr": "fr", "lb": "lb"}


@lru_cache(maxsize=128)
def _holidays_of(year: int, language: str = "en") -> dict[date, str]:
    names = holidays.country_holidays(
        COUNTRY, years=year, language=_HOLIDAY_LANGUAGES.get(language, "en_US")
    )
    return dict(names.items())


def holiday_name(day: date, language: str = "en") -> str:
    """The public holiday on this day, named in en, de, fr or lb; "" on other days."""
    return _holidays_of(day.year, language).get(day, "")


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays_of(day.year)


def next_working_day(day: date) -> date:
    """The day itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("working days are counted between aware datetimes only")
    return moment.astimezone(TZ)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TZ)


def add_working_days(start: datetime, days: int) -> datetime:
    """The moment ``days`` working days after ``start`` (an aware datetime), in Luxembourg time.

    Zero days gives ``start`` itself, or the next working day's midnight when ``start`` falls on
    a weekend or a holiday. Negative counts are refused: nothing is due before it was asked for.
    """
    if days < 0:
        raise ValueError("days must be zero or more")
    local = _local(start)
    if not is_working_day(local.date()):
        local = _midnight(next_working_day(local.date()))
    day = local.date()
    for _ in range(days):
        day = next_working_day(day + timedelta(days=1))
    # Combining the date and the wall-clock time gives the offset of that day (summer or winter).
    return datetime.combine(day, local.time(), tzinfo=TZ)


def working_days_between(start: datetime, end: datetime) -> float:
    """The working days elapsed from ``start`` to ``end``, counting the parts of days too
    (negative when ``end`` is before ``start``). Weekends and holidays count for nothing."""
    if end < start:
        return -working_days_between(end, start)
    start, end = _local(start), _local(end)
    total = 0.0
    day = start.date()
    while day <= end.date():
        if is_working_day(day):
            day_start, day_end = _midnight(day), _midnight(day + timedelta(days=1))
            overlap = min(end, day_end) - max(start, day_start)
            if overlap > timedelta(0):
                total += overlap / (day_end - day_start)
        day += timedelta(days=1)
    return total
