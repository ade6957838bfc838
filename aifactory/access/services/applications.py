"""Applications for compute time: the form, the team, evidence files, submission, eligibility,
revision requests and withdrawal.

The status is an explicit state machine (``TRANSITIONS``)::

    draft → submitted → eligibility_check → technical_review → (peer_review) → decided
                              ↓  ↑ (resubmit)       ↓                ↓
                          revision_requested ←──────┴────────────────┘
    withdrawn from any open state

Submission runs the automatic eligibility check straight away, so an application is seen in
``submitted`` only for the length of a transaction; an operator then confirms the result or
overrides it with a recorded reason. Every move writes an ApplicationEvent (the service-time
clock is computed from them), an audit record and an e-mail to the applicant and the principal
investigator, in their language, after the commit. A move the table does not allow raises
InvalidTransition (HTTP 409). Reviews and decisions beyond eligibility belong to other services,
but the moves close the reviews they make pointless (``_close_reviews``): a withdrawal or a
decision closes the reviews still assigned; a resubmission after a revision closes every assigned
or submitted one, so the new version gets a new round (a declared conflict stays on record).
"""

import hashlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.mail import mail_send
from aifactory.core.permissions import require
from aifactory.core.services import audit_record
from aifactory.core.taxonomy import Sector
from aifactory.core.workdays import TZ

from ..models import (
    Application,
    ApplicationEvent,
    ApplicationMember,
    ApplicationStatus,
    Attachment,
    Call,
    CallStatus,
    ClockStart,
    Decision,
    MemberRole,
    Outcome,
    Resource,
    Review,
    ReviewStatus,
)
from .modes import mode_eligibility, request_problems

__all__ = [
    "AI_ACT_RISKS",
    "APPLICATION_FIELDS",
    "EDITABLE",
    "OPEN_STATES",
    "REQUIRED_FIELDS",
    "TRANSITIONS",
    "application_create",
    "application_update",
    "application_member_add",
    "application_member_remove",
    "application_attachment_add",
    "application_submit",
    "application_eligibility_check",
    "application_eligibility_decide",
    "application_request_revision",
    "application_withdraw",
    "call_is_open",
    "first_review_status",
    "submission_problems",
]

S = ApplicationStatus
REFERENCE_ATTEMPTS = 50

TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.SUBMITTED, S.WITHDRAWN},
    S.SUBMITTED: {S.ELIGIBILITY_CHECK, S.WITHDRAWN},
    S.ELIGIBILITY_CHECK: {
        S.TECHNICAL_REVIEW,
        S.PEER_REVIEW,  # a mode with peer review only
        S.DECIDED,
        S.REVISION_REQUESTED,
        S.WITHDRAWN,
    },
    S.TECHNICAL_REVIEW: {S.PEER_REVIEW, S.DECIDED, S.REVISION_REQUESTED, S.WITHDRAWN},
    S.PEER_REVIEW: {S.DECIDED, S.REVISION_REQUESTED, S.WITHDRAWN},
    S.REVISION_REQUESTED: {S.SUBMITTED, S.WITHDRAWN},
    S.DECIDED: set(),
    S.WITHDRAWN: set(),
}
# The applicant may change the form only while it is theirs to change.
EDITABLE = frozenset({S.DRAFT, S.REVISION_REQUESTED})
# Submitted and not finished: a second submit of one of these returns it unchanged.
IN_PROGRESS = frozenset({S.SUBMITTED, S.ELIGIBILITY_CHECK, S.TECHNICAL_REVIEW, S.PEER_REVIEW})
OPEN_STATES = frozenset(s for s, moves in TRANSITIONS.items() if S.WITHDRAWN in moves)

AI_ACT_RISKS = {
    "minimal": gettext_lazy("minimal risk"),
    "limited": gettext_lazy("limited risk (transparency duties)"),
    "high": gettext_lazy("high risk"),
    "prohibited": gettext_lazy("prohibited practice"),
}

# Free-text fields of the form and their longest accepted length.
TEXT_LIMITS = {
    "title": 200,
    "abstract": 5000,
    "objectives": 5000,
    "ai_act_reasons": 3000,
    "model_type": 200,
    "model_size": 100,
    "datasets": 5000,
    "legal_basis": 2000,
    "system": 100,
    "justification": 10000,
    "ethics_note": 5000,
}
APPLICATION_FIELDS = (
    *TEXT_LIMITS,
    "sector",
    "ai_act_risk",
    "personal_data",
    "requested",
    "duration_months",
    "start_date",
)
REQUIRED_FIELDS = (
    "title",
    "abstract",
    "objectives",
    "sector",
    "ai_act_risk",
    "ai_act_reasons",
    "model_type",
    "datasets",
    "requested",
    "duration_months",
    "start_date",
    "justification",
    "ethics_note",
)
MAX_AMOUNT = Decimal("1e12")


# --- the form ----------------------------------------------------------------------------------


def _text(field: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: _("Enter text.")})
    if "\x00" in value:
        raise ValidationError({field: _("Remove the invisible NUL character from this text.")})
    value = value.strip()
    limit = TEXT_LIMITS[field]
    if len(value) > limit:
        raise ValidationError(
            {
                field: _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)}
            }
        )
    return value


def _requested(value: Any) -> dict[str, float | int]:
    """{resource: amount}, known resources only, amounts zero or more; zeros are dropped."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({"requested": _("Give the resources as {resource: amount}.")})
    cleaned: dict[str, float | int] = {}
    for key, amount in value.items():
        if key not in Resource.values:
            raise ValidationError(
                {"requested": _("Unknown resource “%(value)s”.") % {"value": key}}
            )
        if amount in (None, ""):
            continue
        try:
            if isinstance(amount, bool):
                raise InvalidOperation
            number = Decimal(str(amount))
        except (InvalidOperation, ValueError):
            raise ValidationError({f"requested.{key}": _("Enter a number.")}) from None
        if not number.is_finite() or number < 0 or number > MAX_AMOUNT:
            raise ValidationError({f"requested.{key}": _("Enter a number between 0 and 10¹².")})
        if number:
            cleaned[key] = int(number) if number == number.to_integral() else float(number)
    return cleaned


def _clean(field: str, value: Any) -> Any:
    """One field of the form, checked for type and length; the error names the field."""
    if field in TEXT_LIMITS:
        return _text(field, value)
    if field == "sector":
        value = value or ""
        if value and value not in Sector.values:
            raise ValidationError({field: _("Unknown value “%(value)s”.") % {"value": value}})
        return value
    if field == "ai_act_risk":
        value = value or ""
        if value and value not in AI_ACT_RISKS:
            raise ValidationError({field: _("Unknown value “%(value)s”.") % {"value": value}})
        return value
    if field == "personal_data":
        if not isinstance(value, bool):
            raise ValidationError({field: _("Answer yes or no.")})
        return value
    if field == "requested":
        return _requested(value)
    if field == "duration_months":
        if value in (None, ""):
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError({field: _("Enter a whole number of months.")})
        try:
            months = int(value)
        except ValueError:
            raise ValidationError({field: _("Enter a whole number of months.")}) from None
        if not 1 <= months <= 120:
            raise ValidationError({field: _("Enter between 1 and 120 months.")})
        return months
    if field == "start_date":
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            raise ValidationError({field: _("Enter a date (YYYY-MM-DD).")})
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ValidationError({field: _("Enter a date (YYYY-MM-DD).")}) from None
    raise ValidationError({field: _("This field cannot be changed.")})


def _cleaned(data: dict[str, Any]) -> dict[str, Any]:
    """Every field checked; all errors together, so the form shows them at once."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, value in data.items():
        try:
            cleaned[field] = _clean(field, value)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return cleaned


def call_is_open(call: Call, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        call.status == CallStatus.OPEN
        and call.opens_at <= now
        and (call.closes_at is None or now < call.closes_at)
    )


def _next_reference(year: int) -> str:
    """One more than the highest number of the year (by length, then text). The unique index
    makes a concurrent creator who took the same number fail, and the caller tries again."""
    prefix = f"A-{year}-"
    last = (
        Application.objects.filter(reference__startswith=prefix)
        .annotate(size=Length("reference"))
        .order_by("-size", "-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:05d}"


def _display_name(user) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return (full or user.email)[:200]


def application_create(*, actor, call: Call, organisation, data: dict | None = None) -> Application:
    """A member of the organisation starts a draft for an open call; they are its principal
    investigator until they name another."""
    require(actor, "application.create", organisation)
    if not call_is_open(call):
        raise ServiceError(_("This call is not open for applications."), field="call")
    if not call.mode.is_active:
        raise ServiceError(_("This access mode is not offered any more."), field="call")
    data = dict(data or {})
    unknown = set(data) - set(APPLICATION_FIELDS)
    if unknown:
        raise ValidationError({k: _("This field cannot be changed.") for k in sorted(unknown)})
    cleaned = _cleaned(data)
    application = Application(
        call=call, organisation=organisation, created_by=actor, status=S.DRAFT, **cleaned
    )
    now = timezone.now()
    with transaction.atomic():
        for _attempt in range(REFERENCE_ATTEMPTS):
            application.reference = _next_reference(timezone.localdate(now).year)
            try:
                with transaction.atomic():
                    application.save(force_insert=True)
                break
            except IntegrityError:
                if not Application.objects.filter(reference=application.reference).exists():
                    raise
                application.pk = Application._meta.pk.default()
        else:
            raise ServiceError(_("Too many applications are being created right now; try again."))
        ApplicationMember.objects.create(
            application=application,
            user=actor,
            name=_display_name(actor),
            email=actor.email,
            role=MemberRole.PI,
        )
        ApplicationEvent.objects.create(
            application=application, actor=actor, from_status="", to_status=S.DRAFT
        )
        audit_record(
            actor=actor,
            action="application.create",
            obj=application,
            changes={"reference": application.reference, "call": call.code},
        )
    return application


def _locked(application: Application) -> Application:
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("call__mode", "organisation")
        .get(pk=application.pk)
    )


def _editable(application: Application) -> None:
    if application.status not in EDITABLE:
        raise InvalidTransition(
            _(
                "The application is %(status)s; it can be changed only as a draft or when a "
                "revision is requested."
            )
            % {"status": application.get_status_display()}
        )


def application_update(*, actor, application: Application, data: dict[str, Any]) -> Application:
    """Save as you go: any field of the form, each checked; nothing is saved when one is wrong."""
    require(actor, "application.edit", application)
    unknown = set(data) - set(APPLICATION_FIELDS)
    if unknown:
        raise ValidationError({k: _("This field cannot be changed.") for k in sorted(unknown)})
    cleaned = _cleaned(data)
    with transaction.atomic():
        application = _locked(application)
        _editable(application)
        changes = {}
        for field, value in cleaned.items():
            old = getattr(application, field)
            if old != value:
                changes[field] = [old, value]
                setattr(application, field, value)
        if changes:
            application.save(update_fields=[*changes, "updated_at"])
            audit_record(
                actor=actor,
                action="application.update",
                obj=application,
                changes={k: v for k, v in changes.items() if k not in TEXT_LIMITS}
                | {k: "changed" for k in changes if k in TEXT_LIMITS},
            )
    return application


# --- the team ----------------------------------------------------------------------------------


def application_member_add(
    *, actor, application: Application, email: str, name: str = "", role: str = MemberRole.MEMBER
) -> ApplicationMember:
    """Name a person on the application; one already on the hub is linked by their address."""
    require(actor, "application.edit", application)
    errors: dict[str, list[str]] = {}
    email = (email or "").strip().lower() if isinstance(email, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid e-mail address.")]
    name = (name or "").strip() if isinstance(name, str) else ""
    if len(name) > 200 or "\x00" in name:
        errors["name"] = [_("At most %(limit)d characters.") % {"limit": 200}]
    if role not in MemberRole.values:
        errors["role"] = [_("Unknown value “%(value)s”.") % {"value": role}]
    if errors:
        raise ValidationError(errors)
    # Linked only to an account whose address is confirmed (anyone can sign up with another's
    # address); the decision links the others later, once they have confirmed it.
    user = (
        get_user_model()
        .objects.filter(email__iexact=email, is_active=True, email_verified=True)
        .first()
    )
    with transaction.atomic():
        application = _locked(application)
        _editable(application)
        if application.members.filter(email__iexact=email).exists():
            raise ValidationError({"email": _("This person is on the application already.")})
        if role == MemberRole.PI and application.members.filter(role=MemberRole.PI).exists():
            raise ValidationError(
                {"role": _("The application has a principal investigator; remove them first.")}
            )
        member = ApplicationMember.objects.create(
            application=application,
            user=user,
            name=name or (_display_name(user) if user else email),
            email=email,
            role=role,
        )
        audit_record(
            actor=actor,
            action="application.member_add",
            obj=application,
            changes={"email": email, "role": role},
        )
    return member


def application_member_remove(*, actor, application: Application, member_id) -> None:
    require(actor, "application.edit", application)
    with transaction.atomic():
        application = _locked(application)
        _editable(application)
        member = application.members.filter(pk=member_id).first()
        if member is None:
            raise ValidationError({"member": _("No such person on the application.")})
        member.delete()
        audit_record(
            actor=actor,
            action="application.member_remove",
            obj=application,
            changes={"email": member.email, "role": member.role},
        )


# --- evidence files ----------------------------------------------------------------------------


def application_attachment_add(*, actor, application: Application, upload) -> Attachment:
    """A PDF (checked by its first bytes, not its name) of at most ACCESS_MAX_UPLOAD_MB MB,
    stored with its SHA-256 under the data folder. A refused file leaves nothing behind."""
    require(actor, "application.edit", application)
    limit = settings.ACCESS_MAX_UPLOAD_MB * 1024 * 1024
    if upload is None:
        raise ValidationError({"file": _("Choose a file.")})
    if upload.size > limit:
        raise ValidationError(
            {
                "file": _("The file is larger than %(mb)d MB.")
                % {"mb": settings.ACCESS_MAX_UPLOAD_MB}
            }
        )
    upload.seek(0)
    if upload.read(5) != b"%PDF-":
        raise ValidationError({"file": _("Only PDF files are accepted.")})
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    name = (getattr(upload, "name", "") or "evidence.pdf").rsplit("/", 1)[-1][-200:]
    with transaction.atomic():
        application = _locked(application)
        _editable(application)
        attachment = Attachment(
            application=application,
            name=name,
            size=upload.size,
            sha256=digest.hexdigest(),
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        attachment.file.save(f"{application.reference}.pdf", upload, save=False)
        stored = attachment.file.name
        # The file is written before the row: if writing the row fails, remove it again.
        try:
            attachment.save(force_insert=True)
            audit_record(
                actor=actor,
                action="application.attachment_add",
                obj=application,
                changes={"name": name, "size": upload.size, "sha256": attachment.sha256},
            )
        except Exception:
            default_storage.delete(stored)
            raise
    return attachment


# --- moves -------------------------------------------------------------------------------------


def _language(user) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    language = getattr(user, "preferred_language", "") if user is not None else ""
    return language if language in known else settings.LANGUAGE_CODE


def _headline(application: Application, status: str) -> str:
    ref = application.reference
    texts = {
        S.SUBMITTED: _("Application %(ref)s was submitted."),
        S.ELIGIBILITY_CHECK: _("Application %(ref)s went through the automatic eligibility check."),
        S.TECHNICAL_REVIEW: _("Application %(ref)s is eligible and goes to technical review."),
        S.PEER_REVIEW: _("Application %(ref)s goes to peer review."),
        S.REVISION_REQUESTED: _("The factory asks for a revision of application %(ref)s."),
        S.DECIDED: _("A decision was taken on application %(ref)s."),
        S.WITHDRAWN: _("Application %(ref)s was withdrawn."),
    }
    return texts.get(status, _("Application %(ref)s changed.")) % {"ref": ref}


def _notify(application: Application, status: str, note: str) -> None:
    """Mail the applicant and the principal investigator, each in their language, on commit."""
    from django.urls import reverse

    people: dict[str, Any] = {}
    if application.created_by is not None and application.created_by.email:
        people[application.created_by.email.lower()] = application.created_by
    for member in application.members.filter(role=MemberRole.PI).select_related("user"):
        people.setdefault(member.email.lower(), member.user or application.created_by)
    link = settings.SITE_URL + reverse("access:application_detail", args=[application.pk])
    outgoing = []
    for address, person in people.items():
        with translation.override(_language(person)):
            subject = f"[{application.reference}] " + _headline(application, status)
            status_label = str(ApplicationStatus(status).label)
            lines = [
                _headline(application, status),
                "",
                _("Title: %(title)s") % {"title": application.title or "—"},
                _("Status: %(status)s") % {"status": status_label},
            ]
            if application.eligibility and status == S.ELIGIBILITY_CHECK:
                if application.eligibility.get("ok"):
                    lines.append(_("The automatic check found the organisation eligible."))
                else:
                    lines.append(_("The automatic check found these problems:"))
                    lines += [f"- {r}" for r in application.eligibility.get("reasons", [])]
            if status == S.DECIDED and application.outcome:
                lines.append(
                    _("Outcome: %(outcome)s") % {"outcome": application.get_outcome_display()}
                )
            if note:
                lines += ["", note]
            lines += ["", link]
        outgoing.append((subject, "\n".join(lines) + "\n", address))

    def send():
        for subject, body, to in outgoing:
            mail_send(subject=subject, body=body, to=[to])

    if outgoing:
        transaction.on_commit(send)


def _close_reviews(application: Application, actor, source: str, target: str) -> None:
    """Close the reviews a move makes pointless: those still assigned when the application is
    withdrawn or decided; after a revision, every assigned or submitted one (technical and peer),
    so that the decision and the score count the current version only."""
    if target in (S.WITHDRAWN, S.DECIDED):
        statuses = [ReviewStatus.ASSIGNED]
    elif source == S.REVISION_REQUESTED and target == S.SUBMITTED:
        statuses = [ReviewStatus.ASSIGNED, ReviewStatus.SUBMITTED]
    else:
        return
    reviews = Review.objects.filter(application=application, status__in=statuses)
    closed = {str(pk): status for pk, status in reviews.values_list("pk", "status")}
    if not closed:
        return
    reviews.update(status=ReviewStatus.CLOSED, updated_at=timezone.now())
    audit_record(actor=actor, action="review.close", obj=application, changes={"reviews": closed})


def _move(application: Application, actor, target: str, *, note: str = "", **changes) -> None:
    """The one way to change the status: checked against TRANSITIONS, then an event, an audit
    record and the e-mails, and the reviews it makes pointless closed. Called inside the
    service's transaction, on a locked row."""
    source = application.status
    if target not in TRANSITIONS[source]:
        raise InvalidTransition(
            _("An application that is %(source)s cannot become %(target)s.")
            % {
                "source": application.get_status_display(),
                "target": ApplicationStatus(target).label,
            }
        )
    application.status = target
    application.save()
    ApplicationEvent.objects.create(
        application=application,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_status=source,
        to_status=target,
        note=note,
    )
    audit_record(
        actor=actor,
        action=f"application.{target}",
        obj=application,
        changes={"status": [source, target], **({"note": note} if note else {}), **changes},
    )
    _close_reviews(application, actor, source, target)
    _notify(application, target, note)


def submission_problems(application: Application) -> dict[str, list[str]]:
    """What stops the application from being submitted, by field; empty when complete."""
    problems: dict[str, list[str]] = {}
    for field in REQUIRED_FIELDS:
        value = getattr(application, field)
        if value in (None, "", {}, []):
            problems[field] = [_("This field is required.")]
    if application.personal_data and not application.legal_basis:
        problems["legal_basis"] = [_("Give the legal basis for the personal data.")]
    pis = application.members.filter(role=MemberRole.PI).count()
    if pis != 1:
        problems["members"] = [_("Name exactly one principal investigator.")]
    if application.requested or application.duration_months:
        found = request_problems(
            application.call.mode, application.requested or {}, application.duration_months
        )
        for field, messages in (found or {}).items():
            if field in Resource.values:
                label = Resource(field).label
                field, messages = f"requested.{field}", [f"{label}: {m}" for m in messages]
            if field not in problems:
                problems[field] = [str(m) for m in messages]
    return problems


def _next_cutoff(call: Call, today: date) -> date | None:
    dates = []
    for value in call.cutoffs or []:
        try:
            dates.append(date.fromisoformat(str(value)))
        except ValueError:
            continue
    upcoming = sorted(d for d in dates if d >= today)
    return upcoming[0] if upcoming else None


def application_submit(*, actor, application: Application) -> Application:
    """Submit a complete application (or resubmit after a revision request), then run the
    automatic eligibility check. Submitting one that is submitted already returns it unchanged,
    so a double click or a retried request does nothing twice."""
    require(actor, "application.edit", application)
    with transaction.atomic():
        application = _locked(application)
        if application.status in IN_PROGRESS:
            return application
        if application.status not in EDITABLE:
            raise InvalidTransition(
                _("An application that is %(status)s cannot be submitted.")
                % {"status": application.get_status_display()}
            )
        call, mode = application.call, application.call.mode
        if not call_is_open(call):
            raise ServiceError(
                _("The call is closed; the application cannot be submitted."), field="call"
            )
        problems = submission_problems(application)
        if problems:
            raise ValidationError(problems)
        now = timezone.now()
        if application.submitted_at is None:
            application.submitted_at = now
            if mode.has_cutoffs:
                cutoff = _next_cutoff(call, timezone.localdate(now))
                if cutoff is None:
                    raise ServiceError(
                        _(
                            "The call has no cut-off date left; the application cannot be "
                            "submitted."
                        ),
                        field="call",
                    )
                application.cutoff = cutoff
            if mode.clock_starts == ClockStart.CUTOFF and application.cutoff:
                # The cut-off day is the last day to apply: the clock starts when it is over.
                application.clock_started_at = datetime.combine(
                    application.cutoff + timedelta(days=1), time.min, tzinfo=TZ
                )
            else:
                application.clock_started_at = now
        _move(application, actor, S.SUBMITTED)
        _check_eligibility(application, actor)
    return application


def _check_eligibility(application: Application, actor) -> None:
    ok, reasons = mode_eligibility(application.call.mode, application.organisation)
    application.eligibility = {
        "ok": bool(ok),
        "reasons": [str(r) for r in reasons or []],
        "checked_at": timezone.now().isoformat(),
    }
    _move(
        application,
        actor,
        S.ELIGIBILITY_CHECK,
        eligible=bool(ok),
        reasons=application.eligibility["reasons"],
    )


def application_eligibility_check(*, actor, application: Application) -> Application:
    """Run the automatic check again (operators), e.g. after the organisation's profile changed;
    the status stays eligibility_check."""
    require(actor, "application.manage", application)
    with transaction.atomic():
        application = _locked(application)
        if application.status != S.ELIGIBILITY_CHECK:
            raise InvalidTransition(_("The application is not waiting for its eligibility check."))
        ok, reasons = mode_eligibility(application.call.mode, application.organisation)
        application.eligibility = {
            **application.eligibility,
            "ok": bool(ok),
            "reasons": [str(r) for r in reasons or []],
            "checked_at": timezone.now().isoformat(),
        }
        application.save(update_fields=["eligibility", "updated_at"])
        audit_record(
            actor=actor,
            action="application.eligibility_check",
            obj=application,
            changes={"eligible": bool(ok)},
        )
    return application


def first_review_status(mode) -> str:
    """Where an eligible application goes: the mode's first review, or "" when the mode has none
    (Playground: the operator decides straight after the eligibility check)."""
    reviews = mode.reviews or []
    if "technical" in reviews:
        return S.TECHNICAL_REVIEW
    if "peer" in reviews:
        return S.PEER_REVIEW
    return ""


def application_eligibility_decide(
    *, actor, application: Application, eligible: bool, reason: str = ""
) -> Application:
    """An operator confirms the automatic result or overrides it; an override needs a reason,
    and so does a rejection. Not eligible is decided as rejected, with the reason. Eligible goes
    on to the mode's first review; in a mode without reviews it stays in the eligibility check,
    confirmed, until the decision."""
    require(actor, "application.manage", application)
    if not isinstance(eligible, bool):
        raise ValidationError({"eligible": _("Answer yes or no.")})
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > 3000 or "\x00" in reason:
        raise ValidationError({"reason": _("At most %(limit)d characters.") % {"limit": 3000}})
    with transaction.atomic():
        application = _locked(application)
        if application.status == S.ELIGIBILITY_CHECK and application.eligibility.get("decision"):
            # A mode without reviews: confirmed, the application waits for the decision.
            raise InvalidTransition(_("The eligibility is confirmed already."))
        if application.status != S.ELIGIBILITY_CHECK:
            raise InvalidTransition(
                _("An application that is %(status)s has no eligibility to decide.")
                % {"status": application.get_status_display()}
            )
        automatic = bool(application.eligibility.get("ok"))
        override = eligible != automatic
        if (override or not eligible) and not reason:
            raise ValidationError(
                {
                    "reason": _("Give the reason for overriding the automatic check.")
                    if override
                    else _("Give the reason for the rejection.")
                }
            )
        now = timezone.now()
        application.eligibility = {
            **application.eligibility,
            "decision": {
                "ok": eligible,
                "override": override,
                "reason": reason,
                "by": str(actor.pk),
                "at": now.isoformat(),
            },
        }
        if eligible:
            first = first_review_status(application.call.mode)
            if first:
                _move(application, actor, first, note=reason, override=override)
            else:
                # No review in this mode: the application waits here for the decision.
                application.save(update_fields=["eligibility", "updated_at"])
                audit_record(
                    actor=actor,
                    action="application.eligibility_confirm",
                    obj=application,
                    changes={"override": override, **({"note": reason} if reason else {})},
                )
        else:
            application.outcome = Outcome.REJECTED
            application.decided_at = now
            Decision.objects.create(
                application=application,
                outcome=Outcome.REJECTED,
                reason=reason,
                decided_by=actor,
            )
            _move(application, actor, S.DECIDED, note=reason, outcome=Outcome.REJECTED)
    return application


def application_request_revision(*, actor, application: Application, note: str) -> Application:
    """The factory asks the applicant to change something; the clock pauses until they
    resubmit."""
    require(actor, "application.manage", application)
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise ValidationError({"note": _("Say what the applicant should change.")})
    if len(note) > 5000 or "\x00" in note:
        raise ValidationError({"note": _("At most %(limit)d characters.") % {"limit": 5000}})
    with transaction.atomic():
        application = _locked(application)
        if application.status not in (S.ELIGIBILITY_CHECK, S.TECHNICAL_REVIEW, S.PEER_REVIEW):
            raise InvalidTransition(
                _("A revision cannot be requested for an application that is %(status)s.")
                % {"status": application.get_status_display()}
            )
        _move(application, actor, S.REVISION_REQUESTED, note=note)
    return application


def application_withdraw(*, actor, application: Application, reason: str = "") -> Application:
    """The applicant takes the application back, from any open state."""
    require(actor, "application.edit", application)
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > 3000 or "\x00" in reason:
        raise ValidationError({"reason": _("At most %(limit)d characters.") % {"limit": 3000}})
    with transaction.atomic():
        application = _locked(application)
        if application.status not in OPEN_STATES:
            raise InvalidTransition(
                _("An application that is %(status)s cannot be withdrawn.")
                % {"status": application.get_status_display()}
            )
        _move(application, actor, S.WITHDRAWN, note=reason)
    return application
