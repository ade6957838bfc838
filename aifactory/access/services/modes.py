"""Services: access modes, capacity pools and calls, which operators edit as data.

Call status: draft → open → closed, one service per transition (``call_open``, ``call_close``);
anything else is an InvalidTransition (HTTP 409). Every change is audited.

Pure functions the other parts of the access app use (they read, never write):

- ``mode_eligibility(mode, organisation) -> (ok, reasons)``: whether the organisation may apply in
  this mode; each reason is translated plain text naming the rule that failed (kind of
  organisation, size class, country, mode not active). Escape it when rendering.
- ``request_problems(mode, requested, duration_months) -> {field: [messages]}``: a request checked
  against the mode's limits per resource (fields named by the resource key, e.g. ``gpu_hours``)
  and its allowed durations (field ``duration_months``); empty when the request fits.
- ``pool_usage(pool) -> {resource: {"capacity", "committed", "left"}}``: what the ACTIVE
  allocations drawing on the pool commit, computed each time so it cannot drift.
- ``pool_reserve(pool, resources, field) -> pool``: the one capacity check before resources are
  committed to a pool (a decision, a project opened on a pool, more resources approved); it
  locks the pool row until the caller's transaction ends, so two of them cannot both take what
  is left.

``actor=None`` means the system (the demo loader); every other caller is checked against
core.permissions.
"""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django_countries import countries

from aifactory.core.errors import InvalidTransition
from aifactory.core.language import TEXT_LANGUAGES
from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record, diff_fields
from aifactory.core.taxonomy import OrganisationKind, SizeClass

from ..models import (
    AccessMode,
    Allocation,
    AllocationStatus,
    Call,
    CallStatus,
    CapacityPool,
    ClockStart,
    Resource,
    ReviewKind,
    TranchePolicy,
)

__all__ = [
    "call_close",
    "call_create",
    "call_open",
    "call_update",
    "mode_create",
    "mode_eligibility",
    "mode_update",
    "pool_create",
    "pool_reserve",
    "pool_update",
    "pool_usage",
    "request_problems",
]

DURATION_MAX = 36
TEXT_MAX = 5000
CODE_MAX = 50
SIZES = [s for s in SizeClass.values if s != SizeClass.UNKNOWN]


class Invalid(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _number(value) -> int | float:
    """Ints stay ints (GPU hours); decimals such as storage TB stay floats, for JSON."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise Invalid(_("Enter a number."))
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Invalid(_("Enter a number.")) from None
    if not number.is_finite():
        raise Invalid(_("Enter a number."))
    if number < 0:
        raise Invalid(_("Enter a number that is not negative."))
    return int(number) if number == number.to_integral_value() else float(number)


def _code(value) -> str:
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", value):
        raise Invalid(
            _("Use 1 to 50 lower-case letters, digits or dashes, starting with a letter or digit.")
        )
    return value


def _string(value, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(_("Give a text."))
    value = value.strip()
    if required and not value:
        raise Invalid(_("This field is required."))
    if len(value) > limit:
        raise Invalid(
            _("At most %(limit)d characters (%(count)d given).")
            % {"limit": limit, "count": len(value)}
        )
    return value


def _text_map(value, *, required: bool = True) -> dict[str, str]:
    """A plain string is kept as English; an object maps language codes to texts."""
    if isinstance(value, str):
        text = _string(value, TEXT_MAX, required=required)
        return {"en": text} if text else {}
    if not isinstance(value, dict):
        raise Invalid(_("Give a text, or an object from language code to text."))
    unknown = sorted(str(k) for k in value if k not in TEXT_LANGUAGES)
    if unknown:
        raise Invalid(
            _("Unknown language %(names)s; use %(codes)s.")
            % {"names": ", ".join(unknown), "codes": ", ".join(TEXT_LANGUAGES)}
        )
    cleaned = {lang: _string(value[lang], TEXT_MAX) for lang in TEXT_LANGUAGES if lang in value}
    cleaned = {lang: text for lang, text in cleaned.items() if text}
    if required and not cleaned:
        raise Invalid(_("This field is required."))
    return cleaned


def _choices(value, allowed, message: str | None = None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(_("Give a list of texts."))
    unknown = [v for v in value if v not in allowed]
    if unknown:
        names = ", ".join(f"“{v}”" for v in unknown)
        if message:
            raise Invalid(message % {"names": names})
        raise Invalid(
            _("Unknown value %(names)s; choose from: %(choices)s.")
            % {"names": names, "choices": ", ".join(allowed)}
        )
    return list(dict.fromkeys(value))


def _choice(value, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(
            _("Unknown value %(names)s; choose from: %(choices)s.")
            % {"names": f"“{value}”", "choices": ", ".join(allowed)}
        )
    return value


def _bool(value) -> bool:
    if not isinstance(value, bool):
        raise Invalid(_("Give true or false."))
    return value


def _resources(value) -> dict[str, int | float]:
    """{resource: amount}, for a pool's capacity."""
    if not isinstance(value, dict):
        raise Invalid(_("Give an object from resource to amount."))
    _choices(list(value), Resource.values)
    cleaned = {}
    for key in Resource.values:
        if key in value:
            try:
                cleaned[key] = _number(value[key])
            except Invalid as exc:
                raise Invalid(f"{key}: {exc.message}") from None
    return cleaned


def _limits(value) -> dict[str, dict[str, int | float]]:
    """{resource: {"min": n, "max": n}} with min <= max."""
    if not isinstance(value, dict):
        raise Invalid(_("Give an object from resource to its minimum and maximum."))
    _choices(list(value), Resource.values)
    cleaned = {}
    for key in Resource.values:
        if key not in value:
            continue
        bounds = value[key]
        if not isinstance(bounds, dict) or set(bounds) - {"min", "max"} or "max" not in bounds:
            raise Invalid(
                _("%(resource)s: give an object with “max” and, optionally, “min”.")
                % {"resource": key}
            )
        try:
            low, high = _number(bounds.get("min", 0)), _number(bounds["max"])
        except Invalid as exc:
            raise Invalid(f"{key}: {exc.message}") from None
        if low > high:
            raise Invalid(_("%(resource)s: the minimum is above the maximum.") % {"resource": key})
        cleaned[key] = {"min": low, "max": high}
    return cleaned


def _durations(value) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not all(1 <= v <= DURATION_MAX for v in value)
    ):
        raise Invalid(
            _("Give a non-empty list of whole months from 1 to %(max)d.") % {"max": DURATION_MAX}
        )
    return sorted(set(value))


def _positive_int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 365:
        raise Invalid(_("Give a whole number of working days from 1 to 365."))
    return value


def _percent(value) -> Decimal:
    try:
        number = Decimal(str(_number(value)))
    except Invalid:
        raise Invalid(_("Give a percentage from 0 to 100.")) from None
    if number > 100:
        raise Invalid(_("Give a percentage from 0 to 100."))
    return number.quantize(Decimal("0.01"))


def _date(value) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(_("Give a date as YYYY-MM-DD.")) from None


def _datetime(value) -> datetime:
    parsed = value if isinstance(value, datetime) else None
    if parsed is None and isinstance(value, str):
        try:
            parsed = parse_datetime(value)
            if parsed is None:
                parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            parsed = None
    if parsed is None:
        raise Invalid(_("Give a date and time as YYYY-MM-DDTHH:MM."))
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _optional_datetime(value) -> datetime | None:
    return None if value in (None, "") else _datetime(value)


def _cutoffs(value) -> list[str]:
    if not isinstance(value, list):
        raise Invalid(_("Give a list of dates as YYYY-MM-DD."))
    try:
        return sorted({_date(v).isoformat() for v in value})
    except Invalid:
        raise Invalid(_("Give a list of dates as YYYY-MM-DD.")) from None


def _pool_ref(value) -> CapacityPool:
    pool = CapacityPool.objects.filter(code=value).first() if isinstance(value, str) else None
    if pool is None:
        raise Invalid(_("No such capacity pool."))
    return pool


def _mode_ref(value) -> AccessMode:
    mode = AccessMode.objects.filter(code=value).first() if isinstance(value, str) else None
    if mode is None:
        raise Invalid(_("No such access mode."))
    return mode


POOL_FIELDS = {
    "code": _code,
    "name": lambda v: _string(v, 200, required=True),
    "share_percent": _percent,
    "capacity": _resources,
    "period_start": _date,
    "period_end": _date,
}
POOL_REQUIRED = ("code", "name", "share_percent", "capacity", "period_start", "period_end")

MODE_FIELDS = {
    "code": _code,
    "name": _text_map,
    "description": lambda v: _text_map(v, required=False),
    "pool": _pool_ref,
    "limits": _limits,
    "durations_months": _durations,
    "has_cutoffs": _bool,
    "first_come": _bool,
    "reviews": lambda v: _choices(v, ReviewKind.values),
    "for_kinds": lambda v: _choices(v, OrganisationKind.values),
    "for_sizes": lambda v: _choices(v, SIZES),
    "eligible_countries": lambda v: _choices(
        v, sorted(code for code, _name in countries), _("Not an ISO 3166 country code: %(names)s.")
    ),
    "decision_days": _positive_int,
    "clock_starts": lambda v: _choice(v, ClockStart.values),
    "tranche_policy": lambda v: _choice(v, TranchePolicy.values),
    "is_active": _bool,
}
MODE_REQUIRED = ("code", "name", "pool", "limits", "durations_months", "decision_days")

CALL_FIELDS = {
    "code": _code,
    "mode": _mode_ref,
    "title": _text_map,
    "description": lambda v: _text_map(v, required=False),
    "opens_at": _datetime,
    "closes_at": _optional_datetime,
    "cutoffs": _cutoffs,
}
CALL_REQUIRED = ("code", "mode", "title", "opens_at")


def _clean(data: dict[str, Any], cleaners: dict, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check every given field; one ValidationError naming every bad one, nothing written."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name in required:
        if data.get(name) is None:
            errors[name] = [_("This field is required.")]
    for name in sorted(set(data) - set(cleaners)):
        errors[name] = [_("Unknown field.")]
    for name, value in data.items():
        if name not in cleaners or name in errors:
            continue
        try:
            cleaned[name] = cleaners[name](value)
        except Invalid as exc:
            errors[name] = [exc.message]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _save(obj, *, actor, action: str, changes: dict, field: str = "code") -> None:
    try:
        with transaction.atomic():
            obj.save()
            audit_record(actor=actor, action=action, obj=obj, changes=changes)
    except IntegrityError:
        raise ValidationError({field: [_("This code is taken already.")]}) from None


# --- capacity pools -----------------------------------------------------------------------------


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise ValidationError({"period_end": [_("The end date is before the start date.")]})


def pool_create(*, actor, data: dict[str, Any], is_demo: bool = False) -> CapacityPool:
    require_actor(actor, "pool.manage")
    cleaned = _clean(data, POOL_FIELDS, POOL_REQUIRED)
    _check_period(cleaned["period_start"], cleaned["period_end"])
    pool = CapacityPool(**cleaned, is_demo=is_demo)
    _save(pool, actor=actor, action="pool.create", changes=cleaned)
    return pool


def pool_update(*, actor, pool: CapacityPool, data: dict[str, Any]) -> CapacityPool:
    require_actor(actor, "pool.manage", pool)
    cleaned = _clean(data, POOL_FIELDS)
    with transaction.atomic():
        pool = CapacityPool.objects.select_for_update().get(pk=pool.pk)
        changes = diff_fields(pool, cleaned)
        _check_period(pool.period_start, pool.period_end)
        if changes:
            _save(pool, actor=actor, action="pool.update", changes=changes)
    return pool


def pool_usage(pool: CapacityPool) -> dict[str, dict[str, int | float]]:
    """Capacity, committed (the ACTIVE allocations drawing on the pool) and left, per resource:
    every resource of the capacity or of an allocation, in the order of ``Resource``."""
    committed: dict[str, Decimal] = {}
    allocations = Allocation.objects.filter(pool=pool, status=AllocationStatus.ACTIVE)
    for resources in allocations.values_list("resources", flat=True):
        for key, amount in (resources or {}).items():
            try:
                committed[key] = committed.get(key, Decimal(0)) + Decimal(str(amount))
            except (InvalidOperation, TypeError):
                continue
    usage = {}
    keys = [k for k in Resource.values if k in pool.capacity or k in committed]
    for key in keys:
        capacity = Decimal(str(pool.capacity.get(key, 0)))
        used = committed.get(key, Decimal(0))
        usage[key] = {
            "capacity": _plain(capacity),
            "committed": _plain(used),
            "left": _plain(capacity - used),
        }
    return usage


def pool_reserve(pool: CapacityPool, resources: dict, *, field: str = "granted") -> CapacityPool:
    """Check that the resources fit in what the pool has left, with the pool row locked until the
    caller's transaction ends (call it inside the transaction that writes the allocation; the
    next caller waits and then counts it). Only the resources of the pool's capacity are limited
    (storage is often not); a ValidationError names ``<field>.<resource>``. Returns the locked
    pool."""
    pool = CapacityPool.objects.select_for_update().get(pk=pool.pk)
    usage = pool_usage(pool)
    labels = dict(Resource.choices)
    errors = {}
    for key, amount in resources.items():
        if key not in pool.capacity or key not in usage:
            continue
        left = usage[key]["left"]
        if Decimal(str(amount)) > Decimal(str(left)):
            errors[f"{field}.{key}"] = [
                _("%(resource)s: only %(left)s left in the pool %(pool)s.")
                % {"resource": labels.get(key, key), "left": left, "pool": pool.name}
            ]
    if errors:
        raise ValidationError(errors)
    return pool


def _plain(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


# --- access modes -------------------------------------------------------------------------------


def _check_mode(values: dict[str, Any]) -> None:
    if values.get("clock_starts") == ClockStart.CUTOFF and not values.get("has_cutoffs"):
        raise ValidationError(
            {
                "clock_starts": [
                    _("The clock can start from a cut-off only in a mode with cut-offs.")
                ]
            }
        )


def mode_create(*, actor, data: dict[str, Any], is_demo: bool = False) -> AccessMode:
    require_actor(actor, "access_mode.manage")
    cleaned = _clean(data, MODE_FIELDS, MODE_REQUIRED)
    _check_mode(cleaned)
    mode = AccessMode(**cleaned, is_demo=is_demo)
    _save(mode, actor=actor, action="access_mode.create", changes=cleaned)
    return mode


def mode_update(*, actor, mode: AccessMode, data: dict[str, Any]) -> AccessMode:
    require_actor(actor, "access_mode.manage", mode)
    cleaned = _clean(data, MODE_FIELDS)
    with transaction.atomic():
        mode = AccessMode.objects.select_for_update().get(pk=mode.pk)
        changes = diff_fields(mode, cleaned)
        _check_mode({"clock_starts": mode.clock_starts, "has_cutoffs": mode.has_cutoffs})
        if (
            not mode.has_cutoffs
            and "has_cutoffs" in changes
            and mode.calls.exclude(cutoffs=[]).exists()
        ):
            raise ValidationError(
                {"has_cutoffs": [_("Remove the cut-off dates of this mode's calls first.")]}
            )
        if changes:
            _save(mode, actor=actor, action="access_mode.update", changes=changes)
    return mode


def _labels(choices, values) -> str:
    names = dict(choices.choices)
    return ", ".join(str(names.get(v, v)) for v in values)


def mode_eligibility(mode: AccessMode, organisation) -> tuple[bool, list[str]]:
    """Whether the organisation may apply in this mode, with every rule it fails."""
    reasons: list[str] = []
    if not mode.is_active:
        reasons.append(_("This access mode takes no applications at present."))
    kind = organisation.kind
    if mode.for_kinds and kind not in mode.for_kinds:
        reasons.append(
            _("Kind of organisation: this mode is for %(kinds)s; yours is %(kind)s.")
            % {
                "kinds": _labels(OrganisationKind, mode.for_kinds),
                "kind": _labels(OrganisationKind, [kind]),
            }
        )
    size = getattr(organisation, "size_class", "") or SizeClass.UNKNOWN
    if mode.for_sizes and size not in mode.for_sizes:
        reasons.append(
            _("Size class: this mode is for %(sizes)s enterprises; yours is %(size)s.")
            % {
                "sizes": _labels(SizeClass, mode.for_sizes).lower(),
                "size": _labels(SizeClass, [size]).lower(),
            }
        )
    country = str(getattr(organisation.country, "code", organisation.country) or "")
    if mode.eligible_countries and country not in mode.eligible_countries:
        reasons.append(
            _("Country: this mode is for organisations in %(countries)s; yours is in %(country)s.")
            % {"countries": ", ".join(mode.eligible_countries), "country": country or "?"}
        )
    return not reasons, reasons


def request_problems(
    mode: AccessMode, requested: dict[str, Any], duration_months: int | None
) -> dict[str, list[str]]:
    """The request's problems against the mode's limits and durations, by field; {} when fine.

    A resource the mode sets no limit for cannot be requested in it; one it limits but the
    request leaves out counts as 0 (so a minimum above 0 is reported)."""
    problems: dict[str, list[str]] = {}
    requested = requested or {}
    for key in requested:
        if key not in Resource.values:
            problems[key] = [_("Unknown resource.")]
        elif key not in mode.limits:
            problems[key] = [_("This access mode does not grant this resource.")]
    for key, bounds in mode.limits.items():
        if key in problems:
            continue
        try:
            amount = _number(requested.get(key, 0) if requested.get(key) is not None else 0)
        except Invalid as exc:
            problems[key] = [exc.message]
            continue
        if amount > bounds["max"]:
            problems[key] = [
                _("At most %(max)s in this access mode.") % {"max": f"{bounds['max']:,}"}
            ]
        elif amount < bounds.get("min", 0):
            problems[key] = [
                _("At least %(min)s in this access mode.") % {"min": f"{bounds['min']:,}"}
            ]
    allowed_months = ", ".join(str(m) for m in mode.durations_months)
    if duration_months is None:
        problems["duration_months"] = [_("Choose a duration.")]
    elif duration_months not in mode.durations_months:
        problems["duration_months"] = [
            _("Choose one of the durations of this access mode: %(months)s months.")
            % {"months": allowed_months}
        ]
    return problems


# --- calls --------------------------------------------------------------------------------------


def _check_call(values: dict[str, Any]) -> None:
    errors = {}
    opens, closes = values.get("opens_at"), values.get("closes_at")
    if opens and closes and closes <= opens:
        errors["closes_at"] = [_("The call must close after it opens.")]
    mode = values.get("mode")
    if values.get("cutoffs") and mode is not None and not mode.has_cutoffs:
        errors["cutoffs"] = [_("This call's access mode has no cut-off dates.")]
    if errors:
        raise ValidationError(errors)


def call_create(*, actor, data: dict[str, Any], is_demo: bool = False) -> Call:
    """A new call, in draft until it is opened."""
    require_actor(actor, "call.manage")
    cleaned = _clean(data, CALL_FIELDS, CALL_REQUIRED)
    _check_call(cleaned)
    call = Call(**cleaned, status=CallStatus.DRAFT, is_demo=is_demo)
    _save(call, actor=actor, action="call.create", changes=cleaned)
    return call


def call_update(*, actor, call: Call, data: dict[str, Any]) -> Call:
    """Edit a call, including its cut-off dates. A closed call is history and stays as it was."""
    require_actor(actor, "call.manage", call)
    cleaned = _clean(data, CALL_FIELDS)
    with transaction.atomic():
        call = Call.objects.select_for_update().select_related("mode").get(pk=call.pk)
        if call.status == CallStatus.CLOSED:
            raise InvalidTransition(_("A closed call cannot be changed."))
        if "mode" in cleaned and cleaned["mode"] != call.mode and call.applications.exists():
            raise ValidationError({"mode": [_("The call has applications; its mode stays.")]})
        changes = diff_fields(call, cleaned)
        _check_call(
            {
                "opens_at": call.opens_at,
                "closes_at": call.closes_at,
                "cutoffs": call.cutoffs,
                "mode": call.mode,
            }
        )
        if changes:
            _save(call, actor=actor, action="call.update", changes=changes)
    return call


def _transition(actor, call: Call, action: str, source: str, target: str, message: str) -> Call:
    require_actor(actor, "call.manage", call)
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call.pk)
        if call.status != source:
            raise InvalidTransition(
                message % {"status": CallStatus(call.status).label}, field="status"
            )
        changes = {"status": [call.status, target]}
        call.status = target
        call.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action=action, obj=call, changes=changes)
    return call


def call_open(*, actor, call: Call) -> Call:
    """Draft → open: applications can be made to it from now on."""
    return _transition(
        actor,
        call,
        "call.open",
        CallStatus.DRAFT,
        CallStatus.OPEN,
        _("Only a draft call can be opened; this one is %(status)s."),
    )


def call_close(*, actor, call: Call) -> Call:
    """Open → closed: no new applications; those made stay and are decided."""
    return _transition(
        actor,
        call,
        "call.close",
        CallStatus.OPEN,
        CallStatus.CLOSED,
        _("Only an open call can be closed; this one is %(status)s."),
    )
