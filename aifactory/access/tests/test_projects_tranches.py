"""Tranche arithmetic: monthly split pro rata by days, exact sums, carry-over and expiry."""

from datetime import date

import pytest

from aifactory.access.models import Allocation, Tranche
from aifactory.access.services import projects as services

from .projects_helpers import *  # noqa: F403 - the fixtures
from .projects_helpers import open_project


def amounts(pieces, key="gpu_hours"):
    return [a[key] for _s, _e, a in pieces]


def test_yearly_grant_from_february_split_by_days():
    pieces = services.tranche_split(
        {"gpu_hours": 1200}, date(2026, 2, 1), date(2027, 1, 31), "monthly_carry"
    )
    assert len(pieces) == 12
    assert pieces[0][:2] == (date(2026, 2, 1), date(2026, 2, 28))
    assert pieces[-1][:2] == (date(2027, 1, 1), date(2027, 1, 31))
    shares = amounts(pieces)
    # 1200 × 28/365 = 92.05 → 92; 1200 × 31/365 = 101.9 → 102; 1200 × 30/365 = 98.6 → 99
    assert shares[:3] == [92, 102, 99]
    assert sum(shares) == 1200
    assert shares[-1] == 1200 - sum(shares[:-1])
    assert all(isinstance(s, int) for s in shares)


def test_leap_year_february_has_29_days_of_366():
    pieces = services.tranche_split(
        {"gpu_hours": 1200}, date(2028, 2, 1), date(2029, 1, 31), "monthly_expire"
    )
    assert pieces[0][:2] == (date(2028, 2, 1), date(2028, 2, 29))
    assert amounts(pieces)[0] == 95  # 1200 × 29 / 366 = 95.08
    assert sum(amounts(pieces)) == 1200


def test_partial_months_at_both_ends():
    pieces = services.tranche_split(
        {"gpu_hours": 550}, date(2026, 1, 15), date(2026, 3, 10), "monthly_carry"
    )
    assert [(s, e) for s, e, _a in pieces] == [
        (date(2026, 1, 15), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 10)),
    ]
    assert amounts(pieces) == [170, 280, 100]  # 17, 28 and 10 of 55 days


def test_rounding_remainder_goes_to_the_last_tranche():
    # 100 over three months of 31, 28, 31 days: 34.4 → 34, 31.1 → 31, last takes 35.
    pieces = services.tranche_split(
        {"gpu_hours": 100}, date(2026, 1, 1), date(2026, 3, 31), "monthly_carry"
    )
    assert amounts(pieces) == [34, 31, 35]


def test_fractional_totals_split_to_hundredths_and_sum_exactly():
    pieces = services.tranche_split(
        {"cpu_core_hours": 100.5}, date(2026, 1, 1), date(2026, 3, 31), "monthly_carry"
    )
    shares = amounts(pieces, "cpu_core_hours")
    assert shares[0] == 34.62  # 100.5 × 31/90 = 34.616…
    assert round(sum(shares), 2) == 100.5


def test_storage_is_a_quota_not_split_and_policy_none_is_one_tranche():
    pieces = services.tranche_split(
        {"gpu_hours": 10, "storage_tb": 5}, date(2026, 1, 1), date(2026, 6, 30), "none"
    )
    assert pieces == [(date(2026, 1, 1), date(2026, 6, 30), {"gpu_hours": 10})]
    monthly = services.tranche_split(
        {"gpu_hours": 10, "storage_tb": 5}, date(2026, 1, 1), date(2026, 2, 28), "monthly_carry"
    )
    assert all("storage_tb" not in a for _s, _e, a in monthly)


def test_a_single_day_allocation():
    pieces = services.tranche_split(
        {"gpu_hours": 7}, date(2026, 5, 31), date(2026, 5, 31), "monthly_expire"
    )
    assert pieces == [(date(2026, 5, 31), date(2026, 5, 31), {"gpu_hours": 7})]


@pytest.mark.parametrize("total", [1, 13, 999, 50_000, 1_234_567])
def test_sum_is_exact_for_many_totals(total):
    pieces = services.tranche_split(
        {"gpu_hours": total}, date(2026, 3, 17), date(2027, 8, 3), "monthly_carry"
    )
    assert sum(amounts(pieces)) == total
    assert min(amounts(pieces)) >= 0


def test_project_create_writes_the_tranches(team):
    project = open_project(team)
    allocation = project.allocations.get()
    tranches = list(allocation.tranches.all())
    assert [t.index for t in tranches] == list(range(12))
    assert sum(t.amounts["gpu_hours"] for t in tranches) == 1200
    assert services.tranche_current(allocation, date(2026, 3, 15)).index == 1
    assert services.tranche_current(allocation, date(2026, 1, 31)) is None
    assert services.tranche_current(allocation, date(2027, 2, 1)) is None


def test_carry_over_adds_the_unused_part_of_past_months(team):
    allocation = open_project(team, policy="monthly_carry").allocations.get()
    # Feb 92 (used 40 → 52 left), Mar 102 (used 200: overspent, carries nothing), Apr 99.
    used = {0: {"gpu_hours": 40}}
    assert services.tranche_available(allocation, date(2026, 3, 10), used) == {"gpu_hours": 154}
    used = {0: {"gpu_hours": 40}, 1: {"gpu_hours": 10}}
    assert services.tranche_available(allocation, date(2026, 3, 10), used) == {"gpu_hours": 144}
    # Keys may come from JSON as strings.
    used = {"0": {"gpu_hours": 40}, "1": {"gpu_hours": 200}, "2": {"gpu_hours": 9}}
    assert services.tranche_available(allocation, date(2026, 4, 30), used) == {"gpu_hours": 90}


def test_expiry_forgets_past_months(team):
    allocation = open_project(team, policy="monthly_expire").allocations.get()
    used = {0: {"gpu_hours": 0}, 1: {"gpu_hours": 2}}
    assert services.tranche_available(allocation, date(2026, 3, 10), used) == {"gpu_hours": 100}
    assert services.tranche_available(allocation, date(2026, 3, 10), {1: {"gpu_hours": 500}}) == {
        "gpu_hours": 0
    }


def test_nothing_available_outside_the_period(team):
    allocation = open_project(team).allocations.get()
    assert services.tranche_available(allocation, date(2027, 2, 1), {}) == {"gpu_hours": 0}
    assert services.tranche_available(allocation, date(2026, 1, 1), {}) == {"gpu_hours": 0}


def test_policy_none_counts_the_whole_period(team):
    allocation = open_project(team, policy="none").allocations.get()
    assert allocation.tranches.count() == 1
    assert services.tranche_available(allocation, date(2026, 9, 1), {0: {"gpu_hours": 200}}) == {
        "gpu_hours": 1000
    }


def _shares(allocation: Allocation):
    return [
        (t.index, t.start, t.end, t.amounts.get("gpu_hours"))
        for t in Tranche.objects.filter(allocation=allocation)
    ]


def test_retranche_keeps_past_months_and_spreads_the_rest(team):
    allocation = open_project(team, resources={"gpu_hours": 1200}).allocations.get()
    before = _shares(allocation)
    allocation.resources = {"gpu_hours": 1500}
    allocation.save()
    services.tranche_recompute_future(allocation, date(2026, 4, 20))
    after = _shares(allocation)
    assert after[:3] == before[:3]  # Feb, Mar, Apr (current) unchanged
    assert len(after) == 12
    assert sum(a[3] for a in after) == 1500
    assert after[3][1] == date(2026, 5, 1)


def test_retranche_extension_stretches_a_partial_current_month(team):
    allocation = open_project(
        team, resources={"gpu_hours": 300}, start=date(2026, 1, 1), end=date(2026, 3, 15)
    ).allocations.get()
    before = _shares(allocation)
    allocation.end = date(2026, 5, 31)
    allocation.save()
    services.tranche_recompute_future(allocation, date(2026, 3, 5))
    after = _shares(allocation)
    assert after[:2] == before[:2]
    assert after[2][:4] == (2, date(2026, 3, 1), date(2026, 3, 31), before[2][3])
    assert [a[1] for a in after[3:]] == [date(2026, 4, 1), date(2026, 5, 1)]
    assert sum(a[3] for a in after) == 300  # an extension alone adds no hours


def test_retranche_in_the_last_month_adds_to_the_current_tranche(team):
    allocation = open_project(
        team, resources={"gpu_hours": 300}, start=date(2026, 1, 1), end=date(2026, 3, 31)
    ).allocations.get()
    allocation.resources = {"gpu_hours": 360}
    allocation.save()
    services.tranche_recompute_future(allocation, date(2026, 3, 20))
    after = _shares(allocation)
    assert len(after) == 3
    assert sum(a[3] for a in after) == 360
