"""Monthly tranches of an allocation: the split pro rata by days, the current tranche, what
remains in it (with carry-over or expiry), and the recomputation of the months to come after a
change. See the docstring of services/projects.py for the rules."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone

from ..models import Allocation, Resource, Tranche, TranchePolicy

CONSUMABLE = (Resource.GPU_HOURS, Resource.CPU_CORE_HOURS)


# --- numbers and dates -------------------------------------------------------------------------


def _number(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _store(value: Decimal) -> int | float:
    """JSON-friendly: whole numbers as int, others as float with two decimals."""
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(value) if value == value.to_integral_value() else float(value)


def _month_end(day: date) -> date:
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def _months(start: date, end: date) -> list[tuple[date, date]]:
    """The calendar-month pieces of [start, end], both ends included."""
    pieces = []
    cursor = start
    while cursor <= end:
        piece_end = min(_month_end(cursor), end)
        pieces.append((cursor, piece_end))
        cursor = piece_end + timedelta(days=1)
    return pieces


# --- tranches ----------------------------------------------------------------------------------


def tranche_split(
    resources: dict, start: date, end: date, policy: str
) -> list[tuple[date, date, dict]]:
    """[(start, end, amounts)] of an allocation's tranches.

    Monthly policies: each month gets total × days_in_month / days_in_period of every consumable
    resource, rounded (to whole numbers when the total is whole, else to hundredths); the last
    month takes what the rounding left, so the sum is exactly the total. A month never gets more
    than what is left, so no share is negative when a tiny total is spread over many months."""
    if policy == TranchePolicy.NONE:
        return [(start, end, {k: v for k, v in resources.items() if k in CONSUMABLE})]
    pieces = _months(start, end)
    total_days = (end - start).days + 1
    amounts: list[dict] = [{} for _piece in pieces]
    for key, value in resources.items():
        if key not in CONSUMABLE:
            continue
        total = _number(value)
        step = Decimal("1") if total == total.to_integral_value() else Decimal("0.01")
        given = Decimal(0)
        for i, (p_start, p_end) in enumerate(pieces):
            if i == len(pieces) - 1:
                share = total - given
            else:
                days = (p_end - p_start).days + 1
                share = (total * days / total_days).quantize(step, rounding=ROUND_HALF_UP)
                # Many months rounded up could overrun a small total: never give more than is left.
                share = min(share, total - given)
                given += share
            amounts[i][key] = _store(share)
    return [(p_start, p_end, amounts[i]) for i, (p_start, p_end) in enumerate(pieces)]


def _write_tranches(allocation: Allocation, first_index: int, pieces) -> None:
    Tranche.objects.bulk_create(
        Tranche(allocation=allocation, index=first_index + i, start=s, end=e, amounts=a)
        for i, (s, e, a) in enumerate(pieces)
    )


def tranche_current(allocation: Allocation, day: date | None = None) -> Tranche | None:
    """The tranche that holds the day, or None outside the allocation's period."""
    day = day or timezone.localdate()
    return allocation.tranches.filter(start__lte=day, end__gte=day).first()


def _used(used: dict | None, index: int) -> dict:
    used = used or {}
    return used.get(index) or used.get(str(index)) or {}


def tranche_available(allocation: Allocation, day: date | None = None, used=None) -> dict:
    """What remains in the day's tranche, per consumable resource.

    ``used`` is {tranche index: {resource: amount used}}. With ``monthly_carry`` the unused part of
    each past month carries into the next (an overspent month carries nothing and is not a
    debt); with ``monthly_expire`` and ``none`` only the current tranche counts. Outside the
    period nothing is available."""
    day = day or timezone.localdate()
    tranches = list(allocation.tranches.order_by("index"))
    keys = sorted({k for t in tranches for k in t.amounts})
    current = next((t for t in tranches if t.start <= day <= t.end), None)
    if current is None:
        return {k: 0 for k in keys}
    result = {}
    for key in keys:
        carry = Decimal(0)
        if allocation.tranche_policy == TranchePolicy.MONTHLY_CARRY:
            for t in tranches:
                if t.index >= current.index:
                    break
                left = (
                    _number(t.amounts.get(key, 0))
                    + carry
                    - _number(_used(used, t.index).get(key, 0))
                )
                carry = max(Decimal(0), left)
        left = (
            _number(current.amounts.get(key, 0))
            + carry
            - _number(_used(used, current.index).get(key, 0))
        )
        result[key] = _store(max(Decimal(0), left))
    return result


def tranche_recompute_future(allocation: Allocation, today: date) -> None:
    """Recompute the tranches after the allocation grew or was extended, for the future only.

    Tranches that started on or before today keep their amounts (the last of them is stretched to
    its month's end or the new end); what the allocation holds beyond them is split over the months
    that follow, pro rata by days. With no month left, the current tranche takes it."""
    tranches = list(allocation.tranches.order_by("index"))
    kept = [t for t in tranches if t.start <= today]
    allocation.tranches.filter(start__gt=today).delete()
    if not kept:
        _write_tranches(
            allocation,
            0,
            tranche_split(
                allocation.resources, allocation.start, allocation.end, allocation.tranche_policy
            ),
        )
        return
    last = kept[-1]
    if allocation.tranche_policy == TranchePolicy.NONE:
        last.end = allocation.end
        last.amounts = {k: v for k, v in allocation.resources.items() if k in CONSUMABLE}
        last.save(update_fields=["end", "amounts", "updated_at"])
        return
    last.end = min(_month_end(last.start), allocation.end)
    remainder = {}
    for key, value in allocation.resources.items():
        if key in CONSUMABLE:
            given = sum((_number(t.amounts.get(key, 0)) for t in kept), Decimal(0))
            remainder[key] = _store(max(Decimal(0), _number(value) - given))
    future_start = last.end + timedelta(days=1)
    if future_start > allocation.end:
        last.amounts = {
            k: _store(_number(last.amounts.get(k, 0)) + _number(v)) for k, v in remainder.items()
        }
        last.save(update_fields=["end", "amounts", "updated_at"])
        return
    last.save(update_fields=["end", "updated_at"])
    _write_tranches(
        allocation,
        last.index + 1,
        tranche_split(remainder, future_start, allocation.end, allocation.tranche_policy),
    )
