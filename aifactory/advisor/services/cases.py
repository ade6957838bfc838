"""Support cases ("Ask the factory"): opening, triage, assignment, timeline, status.

The status is an explicit state machine::

    new → triaged → in_progress ⇄ waiting_for_customer → closed (with a reason)
                  ↘______________________________________↗
    closed → in_progress (reopen: the customer within ADVISOR_REOPEN_DAYS, the staff any time)

Automatic moves, each recorded on the timeline: the first shared message of the factory moves a
new or triaged case to in_progress (and sets ``first_response_at``); a customer's message moves
a case waiting for them back to in_progress. Every other move is asked for explicitly, and one the
table does not allow raises InvalidTransition (HTTP 409).

Every change is audited and written to the case's timeline. Shared changes (messages, shared
notes, status, assignment, linked offerings) are mailed to both sides after the commit; internal
notes and triage never leave the factory. Matching runs before the transaction, so no database
lock is held while the need is embedded.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.catalog import matching
from aifactory.catalog.models import Offering, OfferingStatus
from aifactory.core.errors import InvalidTransition, NotFound, ServiceError
from aifactory.core.permissions import allowed, require
from aifactory.core.services import audit_record
from aifactory.core.taxonomy import JourneyStage, Sector
from aifactory.core.workdays import add_working_days

from .. import notifications
from ..models import Case, CaseEntry, CaseStatus, CloseReason, EntryKind, Visibility

__all__ = [
    "NEED_MAX",
    "BODY_MAX",
    "SUBJECT_MAX",
    "TRANSITIONS",
    "case_open",
    "case_assign",
    "case_triage",
    "case_message",
    "case_note",
    "case_link_offering",
    "case_unlink_offering",
    "case_set_status",
    "case_close",
    "case_reopen",
    "first_response_due",
]

S = CaseStatus
NEED_MAX = matching.MAX_TEXT  # what the matchmaking reads; longer needs are refused, not cut
BODY_MAX = 10_000
SUBJECT_MAX = 200
MATCH_LIMIT = 10
REFERENCE_ATTEMPTS = 50

# The moves case_set_status allows; closing (with a reason) and reopening have their own services.
TRANSITIONS: dict[str, set[str]] = {
    S.NEW: {S.TRIAGED, S.IN_PROGRESS, S.WAITING_FOR_CUSTOMER, S.CLOSED},
    S.TRIAGED: {S.IN_PROGRESS, S.WAITING_FOR_CUSTOMER, S.CLOSED},
    S.IN_PROGRESS: {S.WAITING_FOR_CUSTOMER, S.CLOSED},
    S.WAITING_FOR_CUSTOMER: {S.IN_PROGRESS, S.CLOSED},
    S.CLOSED: {S.IN_PROGRESS},
}


def _text(field: str, value: Any, limit: int, *, required: bool = True) -> str:
    """Strip, and refuse NUL (PostgreSQL cannot store it), emptiness and excess, naming the field."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: _("Enter text.")})
    if "\x00" in value:
        raise ValidationError({field: _("Remove the invisible NUL character from this text.")})
    value = value.strip()
    if required and not value:
        raise ValidationError({field: _("This field cannot be empty.")})
    if len(value) > limit:
        raise ValidationError(
            {
                field: _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)}
            }
        )
    return value


def _choice(field: str, value: str, choices) -> str:
    if value not in choices:
        raise ValidationError({field: _("Unknown value “%(value)s”.") % {"value": value}})
    return value


def _locked(case: Case) -> Case:
    """The case read again under a row lock, so two advisors acting at once see each other."""
    return Case.objects.select_for_update().select_related("organisation").get(pk=case.pk)


def _entry(case: Case, actor, kind: str, visibility: str, body: str = "", **data) -> CaseEntry:
    author = actor if getattr(actor, "is_authenticated", False) else None
    return CaseEntry.objects.create(
        case=case, author=author, kind=kind, visibility=visibility, body=body, data=data
    )


def _event(case: Case, actor, event: str, *, shared: bool = True, **data) -> CaseEntry:
    visibility = Visibility.SHARED if shared else Visibility.INTERNAL
    return _entry(case, actor, EntryKind.EVENT, visibility, event=event, **data)


def _audit(actor, action: str, case: Case, changes: dict[str, Any]) -> None:
    audit_record(actor=actor, action=action, obj=case, changes=changes)


def _status_change(case: Case, actor, target: str, **data) -> dict[str, list[str]]:
    """Move the case and record the move on its timeline; returns the audit changes."""
    source = case.status
    case.status = target
    _event(case, actor, "status", old=source, new=target, **data)
    return {"status": [source, target]}


def first_response_due(opened_at=None):
    """When the factory's first answer is due: ADVISOR_FIRST_RESPONSE_DAYS working days later."""
    return add_working_days(opened_at or timezone.now(), settings.ADVISOR_FIRST_RESPONSE_DAYS)


# --- opening -----------------------------------------------------------------------------------


def _next_reference(year: int) -> str:
    """The next free number of the year: one more than the highest (by length, then text, so
    C-2026-100000 comes after C-2026-99999). Unique thanks to the unique index: a concurrent
    opener who took the same number makes the insert fail, and case_open tries the next one."""
    prefix = f"C-{year}-"
    last = (
        Case.objects.filter(reference__startswith=prefix)
        .annotate(size=Length("reference"))
        .order_by("-size", "-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:05d}"


def _snapshot(result, *, sector: str) -> dict[str, Any]:
    """What the person saw when they asked: text, language, profile and the ranked results.

    Titles and reasons are kept as shown then (in the language of the need), so the advisor reads
    the same page; the group labels are looked up when shown, in the reader's language."""
    language = result.language
    return {
        "text": result.text,
        "language": language,
        "sector": sector,
        "profile": {
            "sector": result.profile.sector,
            "kind": result.profile.kind,
            "size": result.profile.size,
            "country": str(result.profile.country or ""),
        },
        "matched_at": timezone.now().isoformat(),
        "results": [
            {
                "id": str(m.offering.pk),
                "external_id": m.offering.external_id,
                "type": m.offering.type,
                "title": m.offering.text("title", language),
                "score": round(float(m.score), 4),
                "eligible": bool(m.eligible),
                "group": m.group,
                "reasons": [{"kind": r.kind, "message": str(r.message)} for r in m.reasons],
            }
            for m in result.matches
        ],
        "groups": [
            {"key": group.key, "ids": [str(m.offering.pk) for m in matches]}
            for group, matches in result.grouped()
        ],
    }


def _subject_from(need: str) -> str:
    first_line = need.splitlines()[0].strip() if need else ""
    if len(first_line) <= 80:
        return first_line
    return first_line[:79].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def case_open(
    *, actor, organisation, need: str, subject: str = "", sector: str = "", language: str = ""
) -> Case:
    """A signed-in member asks the factory for help on behalf of their organisation.

    The need is matched against the catalogue here (not trusted from the caller), and the text
    with its results is kept on the case. The reference (C-YYYY-NNNNN) counts per year. The first
    answer is due ``ADVISOR_FIRST_RESPONSE_DAYS`` working days later (Luxembourg calendar).
    """
    require(actor, "case.create", organisation)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for field, value, limit, required in (
        ("need", need, NEED_MAX, True),
        ("subject", subject, SUBJECT_MAX, False),
    ):
        try:
            cleaned[field] = _text(field, value, limit, required=required)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    sector = (sector or "").strip()
    if sector and sector not in Sector.values:
        errors["sector"] = [_("Unknown value “%(value)s”.") % {"value": sector}]
    if errors:
        raise ValidationError(errors)
    need = cleaned["need"]
    if not sector:
        sector = next((s for s in organisation.sectors or [] if s in Sector.values), "")
    try:
        result = matching.match(need, user=actor, organisation=organisation, sector=sector)
    except ValidationError as exc:
        # The matchmaking names its input "text"; here it is the need.
        raise ValidationError(
            {("need" if k == "text" else k): v for k, v in exc.message_dict.items()}
        ) from None
    matches = result.matches[:MATCH_LIMIT]
    result.matches = matches
    now = timezone.now()
    case = Case(
        organisation=organisation,
        opened_by=actor,
        subject=cleaned["subject"] or _subject_from(need),
        need=need,
        language=language or result.language or "",
        sector=sector,
        stage=JourneyStage.DISCOVER,
        status=S.NEW,
        first_response_due=first_response_due(now),
        matchmaking=_snapshot(result, sector=sector),
    )
    with transaction.atomic():
        for _attempt in range(REFERENCE_ATTEMPTS):
            case.reference = _next_reference(timezone.localdate(now).year)
            try:
                with transaction.atomic():
                    case.save(force_insert=True)
                break
            except IntegrityError:
                if not Case.objects.filter(reference=case.reference).exists():
                    raise
                case.pk = Case._meta.pk.default()  # a fresh id for the next attempt
        else:
            raise ServiceError(_("Too many cases are being opened right now; try again."))
        # Counted from the moment the case was recorded (not the few milliseconds before).
        case.first_response_due = first_response_due(case.created_at)
        case.save(update_fields=["first_response_due"])
        _event(case, actor, "opened")
        _audit(
            actor,
            "case.open",
            case,
            {
                "reference": case.reference,
                "subject": case.subject,
                "sector": sector,
                "results": len(matches),
            },
        )
        notifications.case_changed(case=case, actor=actor, event="opened")
    return case


# --- the factory's side ------------------------------------------------------------------------


def case_assign(*, actor, case: Case, assignee) -> Case:
    """Give the case to an advisor (or an operator or administrator); None takes it back."""
    require(actor, "case.manage", case)
    if assignee is not None and not (assignee.is_active and allowed(assignee, "case.manage", case)):
        raise ValidationError(
            {"assignee": _("Only advisors, operators and administrators can take a case.")}
        )
    with transaction.atomic():
        case = _locked(case)
        if case.assigned_to_id == (assignee.pk if assignee else None):
            raise InvalidTransition(
                _("The case is assigned to this person already.")
                if assignee
                else _("The case is not assigned to anyone."),
                field="assignee",
            )
        old = case.assigned_to
        case.assigned_to = assignee
        case.save(update_fields=["assigned_to", "updated_at"])
        _event(
            case,
            actor,
            "assigned",
            old=old.display_name if old else "",
            new=assignee.display_name if assignee else "",
        )
        _audit(
            actor,
            "case.assign",
            case,
            {"assigned_to": [old.email if old else None, assignee.email if assignee else None]},
        )
        notifications.case_changed(case=case, actor=actor, event="assigned", previous=old)
    return case


def case_triage(*, actor, case: Case, stage: str | None = None, sector: str | None = None) -> Case:
    """Classify the case: journey stage and sector. A new case becomes triaged.

    The classification is the factory's own (an internal event); the status change is shared."""
    require(actor, "case.manage", case)
    errors = {}
    for field, value, choices in (
        ("stage", stage, JourneyStage.values),
        ("sector", sector, Sector.values),
    ):
        if value is not None:
            try:
                _choice(field, value, choices)
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = _locked(case)
        if case.status == S.CLOSED:
            raise InvalidTransition(_("A closed case cannot be triaged; reopen it first."))
        changes: dict[str, Any] = {}
        for field, value in (("stage", stage), ("sector", sector)):
            if value is not None and getattr(case, field) != value:
                changes[field] = [getattr(case, field), value]
                setattr(case, field, value)
        if changes:
            _event(
                case,
                actor,
                "triaged",
                shared=False,
                **{field: new for field, (_old, new) in changes.items()},
            )
        shared = case.status == S.NEW
        if shared:
            changes.update(_status_change(case, actor, S.TRIAGED))
        if not changes:
            raise InvalidTransition(
                _("Nothing to change: the case has this stage and sector already.")
            )
        case.save()
        _audit(actor, "case.triage", case, changes)
        if shared:
            notifications.case_changed(case=case, actor=actor, event="status")
    return case


def _clean_offering(offering) -> Offering:
    if offering is None:
        raise ValidationError({"offering": _("No such offering.")})
    return offering


def case_link_offering(*, actor, case: Case, offering: Offering) -> Case:
    """Recommend an offering to the customer; only published ones, which they can open."""
    require(actor, "case.manage", case)
    offering = _clean_offering(offering)
    if offering.status != OfferingStatus.PUBLISHED:
        raise ValidationError({"offering": _("Only published offerings can be recommended.")})
    with transaction.atomic():
        case = _locked(case)
        if case.status == S.CLOSED:
            raise InvalidTransition(_("The case is closed; reopen it first."))
        if case.offerings.filter(pk=offering.pk).exists():
            raise InvalidTransition(
                _("This offering is linked to the case already."), field="offering"
            )
        case.offerings.add(offering)
        case.save(update_fields=["updated_at"])
        _event(
            case,
            actor,
            "linked",
            offering=str(offering.pk),
            external_id=offering.external_id,
            title=offering.text("title", case.language),
        )
        _audit(actor, "case.link_offering", case, {"offering": offering.external_id})
        notifications.case_changed(case=case, actor=actor, event="linked", offering=offering)
    return case


def case_unlink_offering(*, actor, case: Case, offering: Offering) -> Case:
    require(actor, "case.manage", case)
    offering = _clean_offering(offering)
    with transaction.atomic():
        case = _locked(case)
        if case.status == S.CLOSED:
            raise InvalidTransition(_("The case is closed; reopen it first."))
        if not case.offerings.filter(pk=offering.pk).exists():
            raise NotFound(_("This offering is not linked to the case."))
        case.offerings.remove(offering)
        case.save(update_fields=["updated_at"])
        _event(
            case,
            actor,
            "unlinked",
            offering=str(offering.pk),
            external_id=offering.external_id,
            title=offering.text("title", case.language),
        )
        _audit(actor, "case.unlink_offering", case, {"offering": offering.external_id})
        notifications.case_changed(case=case, actor=actor, event="unlinked", offering=offering)
    return case


def case_note(*, actor, case: Case, body: str, visibility: str = Visibility.INTERNAL) -> CaseEntry:
    """A note of the factory: internal ones are never shown or mailed to the customer."""
    require(actor, "case.manage", case)
    body = _text("body", body, BODY_MAX)
    _choice("visibility", visibility, Visibility.values)
    with transaction.atomic():
        case = _locked(case)
        entry = _entry(case, actor, EntryKind.NOTE, visibility, body)
        case.save(update_fields=["updated_at"])
        _audit(actor, "case.note", case, {"entry": str(entry.pk), "visibility": visibility})
        if visibility == Visibility.SHARED:
            notifications.case_changed(case=case, actor=actor, event="note", entry=entry)
    return entry


# --- both sides --------------------------------------------------------------------------------


def case_message(*, actor, case: Case, body: str, await_customer: bool = False) -> CaseEntry:
    """A message on the shared timeline, from the customer or from the factory.

    The factory's first message is the first response; ``await_customer`` (staff only) then
    marks the case as waiting for the customer. A customer's message on a case waiting for them
    puts it back in progress. A closed case takes no messages: reopen it first.
    """
    require(actor, "case.message", case)
    body = _text("body", body, BODY_MAX)
    staff = allowed(actor, "case.manage", case)
    if await_customer and not staff:
        raise PermissionDenied("case.manage")
    with transaction.atomic():
        case = _locked(case)
        if case.status == S.CLOSED:
            raise InvalidTransition(
                _("This case is closed. Reopen it, or open a new case for a new question.")
            )
        entry = _entry(case, actor, EntryKind.MESSAGE, Visibility.SHARED, body)
        changes: dict[str, Any] = {"entry": str(entry.pk)}
        if staff:
            if case.first_response_at is None:
                case.first_response_at = entry.created_at
                changes["first_response_at"] = entry.created_at
            if await_customer and case.status != S.WAITING_FOR_CUSTOMER:
                changes.update(_status_change(case, actor, S.WAITING_FOR_CUSTOMER))
            elif case.status in (S.NEW, S.TRIAGED):
                changes.update(_status_change(case, actor, S.IN_PROGRESS))
        elif case.status == S.WAITING_FOR_CUSTOMER:
            changes.update(_status_change(case, actor, S.IN_PROGRESS))
        case.save()
        _audit(actor, "case.message", case, changes)
        notifications.case_changed(case=case, actor=actor, event="message", entry=entry)
    return entry


def case_close(*, actor, case: Case, reason: str) -> Case:
    """Close with a reason. The customer may only withdraw; the factory gives any reason."""
    reason = reason or ""
    _choice("reason", reason, [r for r in CloseReason.values if r])
    if reason == CloseReason.WITHDRAWN:
        require(actor, "case.withdraw", case)
    else:
        require(actor, "case.manage", case)
    with transaction.atomic():
        case = _locked(case)
        if case.status == S.CLOSED:
            raise InvalidTransition(_("This case is closed already."))
        changes = _status_change(case, actor, S.CLOSED, reason=reason)
        case.close_reason = reason
        case.closed_at = timezone.now()
        changes["close_reason"] = ["", reason]
        case.save()
        _audit(actor, "case.close", case, changes)
        notifications.case_changed(case=case, actor=actor, event="status")
    return case


def case_reopen(*, actor, case: Case) -> Case:
    """Back to in progress. The customer may reopen within ADVISOR_REOPEN_DAYS of the closing
    (after that a new question is a new case); the factory may reopen any closed case."""
    require(actor, "case.reopen", case)
    with transaction.atomic():
        case = _locked(case)
        if case.status != S.CLOSED:
            raise InvalidTransition(_("Only a closed case can be reopened."))
        limit = timedelta(days=settings.ADVISOR_REOPEN_DAYS)
        if not allowed(actor, "case.manage", case) and (
            case.closed_at is None or timezone.now() - case.closed_at > limit
        ):
            raise InvalidTransition(
                _("This case was closed more than %(days)d days ago; open a new case instead.")
                % {"days": settings.ADVISOR_REOPEN_DAYS}
            )
        changes = _status_change(case, actor, S.IN_PROGRESS, reopened=True)
        changes["close_reason"] = [case.close_reason, ""]
        case.close_reason = ""
        case.closed_at = None
        case.save()
        _audit(actor, "case.reopen", case, changes)
        notifications.case_changed(case=case, actor=actor, event="status")
    return case


def case_set_status(*, actor, case: Case, status: str, reason: str = "") -> Case:
    """One entry point for the status: closing needs a reason, in_progress from closed reopens,
    every other move must be in TRANSITIONS (staff only)."""
    _choice("status", status, S.values)
    if status == S.CLOSED:
        return case_close(actor=actor, case=case, reason=reason)
    if case.status == S.CLOSED and status == S.IN_PROGRESS:
        return case_reopen(actor=actor, case=case)
    require(actor, "case.manage", case)
    with transaction.atomic():
        case = _locked(case)
        if status == case.status:
            raise InvalidTransition(
                _("The case is %(status)s already.") % {"status": case.get_status_display()},
                field="status",
            )
        if status not in TRANSITIONS[case.status]:
            raise InvalidTransition(
                _("A case cannot go from “%(old)s” to “%(new)s”.")
                % {"old": case.get_status_display(), "new": S(status).label},
                field="status",
            )
        changes = _status_change(case, actor, status)
        case.save()
        _audit(actor, "case.set_status", case, changes)
        notifications.case_changed(case=case, actor=actor, event="status")
    return case
