"""The working-day calendar, on real Luxembourg dates."""

from datetime import date, datetime, timedelta

import pytest

from aifactory.core.workdays import (
    TZ,
    add_working_days,
    holiday_name,
    is_working_day,
    next_working_day,
    working_days_between,
)


def lux(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def test_public_holidays_and_weekends():
    assert not is_working_day(date(2026, 12, 25))  # Christmas
    assert not is_working_day(date(2026, 12, 26))  # St Stephen's Day (a Saturday anyway)
    assert not is_working_day(date(2027, 3, 29))  # Easter Monday 2027
    assert not is_working_day(date(2026, 5, 9))  # Europe Day (a Saturday in 2026)
    assert not is_working_day(date(2028, 5, 9))  # Europe Day on a Tuesday
    assert not is_working_day(date(2026, 6, 23))  # National Day, a Tuesday
    assert not is_working_day(date(2026, 11, 28))  # a Saturday
    assert is_working_day(date(2026, 6, 24))
    assert is_working_day(date(2027, 3, 30))
    assert holiday_name(date(2026, 6, 23)) == "National Day"
    assert holiday_name(date(2028, 5, 9)) == "Europe Day"
    assert holiday_name(date(2026, 6, 23), "de") != "National Day"
    assert holiday_name(date(2026, 6, 24)) == ""
    assert next_working_day(date(2026, 12, 24)) == date(2026, 12, 24)
    assert next_working_day(date(2026, 12, 25)) == date(2026, 12, 28)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # A plain week: Monday 10:00 + 2 → Wednesday 10:00.
        (lux(2026, 11, 23, 10, 0), 2, lux(2026, 11, 25, 10, 0)),
        # Over a weekend: Friday + 2 → Tuesday.
        (lux(2026, 11, 27, 16, 30), 2, lux(2026, 12, 1, 16, 30)),
        # Christmas 2026 is a Friday, St Stephen's a Saturday: Thursday 24th + 2 → Tuesday 29th.
        (lux(2026, 12, 24, 9, 0), 2, lux(2026, 12, 29, 9, 0)),
        # Easter Monday 2027 (29 March): Friday 26th + 1 → Tuesday 30th.
        (lux(2027, 3, 26, 11, 0), 1, lux(2027, 3, 30, 11, 0)),
        # Europe Day 2028 is a Tuesday: Monday 8 May + 2 → Thursday 11 May.
        (lux(2028, 5, 8, 14, 0), 2, lux(2028, 5, 11, 14, 0)),
        # National Day 2026 is a Tuesday: Monday 22 June + 2 → Thursday 25 June.
        (lux(2026, 6, 22, 8, 0), 2, lux(2026, 6, 25, 8, 0)),
        # Asked on a Saturday: counting starts Monday at midnight, so two days end Wednesday 0:00.
        (lux(2026, 11, 28, 10, 0), 2, lux(2026, 12, 2, 0, 0)),
        # Asked on a holiday (National Day): counting starts on Wednesday 24 June.
        (lux(2026, 6, 23, 12, 0), 1, lux(2026, 6, 25, 0, 0)),
        # Zero days: the moment itself on a working day.
        (lux(2026, 11, 23, 10, 0), 0, lux(2026, 11, 23, 10, 0)),
    ],
)
def test_add_working_days(start, days, due):
    assert add_working_days(start, days) == due
    assert working_days_between(start, due) == pytest.approx(days)


def test_summer_time_keeps_the_wall_clock():
    """Friday 27 March 2026 10:00 (winter time) + 1 → Monday 30 March 10:00 (summer time)."""
    due = add_working_days(lux(2026, 3, 27, 10, 0), 1)
    assert due == lux(2026, 3, 30, 10, 0)
    assert due.utcoffset() == timedelta(hours=2)


def test_utc_input_is_read_in_luxembourg_time():
    """23:30 UTC on Friday is already Saturday in Luxembourg: counting starts on Monday."""
    from datetime import UTC

    start = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert add_working_days(start, 1) == lux(2026, 12, 1, 0, 0)


def test_working_days_between():
    # Thursday 24 Dec 2026 12:00 to Monday 28 Dec 12:00: half of Thursday, half of Monday.
    assert working_days_between(lux(2026, 12, 24, 12), lux(2026, 12, 28, 12)) == pytest.approx(1)
    # A whole week with the National Day: four working days.
    assert working_days_between(lux(2026, 6, 22), lux(2026, 6, 29)) == pytest.approx(4)
    # Inside a weekend nothing elapses; backwards is negative.
    assert working_days_between(lux(2026, 11, 28, 9), lux(2026, 11, 29, 18)) == 0
    assert working_days_between(lux(2026, 11, 25), lux(2026, 11, 23)) == pytest.approx(-2)


def test_bad_input():
    with pytest.raises(ValueError):
        add_working_days(lux(2026, 11, 23), -1)
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 23, 10), 1)  # naive
