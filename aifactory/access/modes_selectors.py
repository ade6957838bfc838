"""Reads of access modes, calls and pools, filtered by what the person may see.

Anyone reads active modes and their calls that are open or closed; operators also see inactive modes
and draft calls. Pools, with their capacity, are for the factory's staff.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from aifactory.core.permissions import allowed, is_staff_in
from aifactory.core.roles import StaffRole

from .models import AccessMode, Call, CallStatus, CapacityPool
from .services.modes import mode_eligibility, pool_usage, request_problems

__all__ = [
    "call_get",
    "calls_visible",
    "mode_eligibility",
    "mode_get",
    "modes_visible",
    "pool_get",
    "pools_visible",
    "pool_usage",
    "request_problems",
]


def _operator(user) -> bool:
    return is_staff_in(user, StaffRole.OPERATOR)


def modes_visible(user) -> QuerySet[AccessMode]:
    modes = AccessMode.objects.select_related("pool").order_by("decision_days", "code")
    return modes if _operator(user) else modes.filter(is_active=True)


def mode_get(user, code: str) -> AccessMode:
    mode = AccessMode.objects.select_related("pool").filter(code=code).first()
    if mode is None or not allowed(user, "access_mode.view", mode):
        raise Http404(code)
    return mode


def calls_visible(user, *, open_only: bool = False, mode: str = "") -> QuerySet[Call]:
    calls = Call.objects.select_related("mode").order_by("-opens_at", "code")
    if not _operator(user):
        calls = calls.exclude(status=CallStatus.DRAFT).filter(mode__is_active=True)
    if open_only:
        calls = calls.filter(status=CallStatus.OPEN)
    if mode:
        calls = calls.filter(mode__code=mode)
    return calls


def call_get(user, code: str) -> Call:
    call = Call.objects.select_related("mode").filter(code=code).first()
    if call is None or not allowed(user, "call.view", call):
        raise Http404(code)
    return call


def pools_visible(user) -> QuerySet[CapacityPool]:
    if not allowed(user, "pool.view"):
        raise PermissionDenied("pool.view")
    return CapacityPool.objects.order_by("-period_start", "code")


def pool_get(user, code: str) -> CapacityPool:
    if not allowed(user, "pool.view"):
        raise PermissionDenied("pool.view")
    pool = CapacityPool.objects.filter(code=code).first()
    if pool is None:
        raise Http404(code)
    return pool
