"""The decision on an application: accepted, accepted with reduced resources, or rejected.

An acceptance needs the reviews the mode asks for (the technical assessment; at least
``ACCESS_MIN_PEER_REVIEWS`` submitted peer reviews and none still open; in a mode without reviews,
the operator's confirmation of the eligibility) and must fit what is left
in the mode's capacity pool (``modes.pool_reserve`` locks the pool row, so two decisions, or a
decision and an approved change request, cannot both take the last hours). A peer reviewer of
the application cannot decide it, even as an operator. It writes the Decision, moves the application to ``decided`` (event, audit, e-mail) and
opens the project through ``project_create`` in the same transaction: members from the
application, an allocation from the start date for the requested duration with the mode's
tranche policy and pool. A rejection needs a reason and may come at any review stage.
"""

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.core.errors import InvalidTransition, NotAllowed, ServiceError
from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record

from ..models import (
    Application,
    ApplicationStatus,
    Decision,
    MemberRole,
    Outcome,
    Resource,
    ReviewKind,
    ReviewStatus,
)
from .applications import _locked, _move
from .modes import pool_reserve
from .projects import project_create
from .projects_common import _resources

__all__ = ["DECIDABLE", "allocation_period", "application_decide", "decision_problems"]

S = ApplicationStatus
# The states in which an application can be decided (accepted once its reviews are done; rejected
# at any of them).
DECIDABLE = frozenset({S.ELIGIBILITY_CHECK, S.TECHNICAL_REVIEW, S.PEER_REVIEW})
REASON_MAX = 5000


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def allocation_period(application: Application, today: date | None = None) -> tuple[date, date]:
    """From the requested start (or today, if that has passed) for the requested months."""
    today = today or timezone.localdate()
    start = max(application.start_date or today, today)
    end = _add_months(start, application.duration_months or 1) - timedelta(days=1)
    return start, end


def _eligibility_confirmed(application: Application) -> bool | None:
    """The operator's eligibility decision; None while there is none."""
    decision = application.eligibility.get("decision")
    return None if decision is None else bool(decision.get("ok"))


def decision_problems(application: Application) -> list[str]:
    """What is missing before the application can be accepted; empty when it can be. (A
    rejection needs only the right state.)"""
    mode = application.call.mode
    reviews = mode.reviews or []
    if application.status == S.ELIGIBILITY_CHECK:
        if reviews:
            return [_("The application has not been through its reviews yet.")]
        confirmed = _eligibility_confirmed(application)
        if confirmed is None:
            return [_("Confirm the eligibility first.")]
        if not confirmed:
            return [_("The application is not eligible.")]
        return []
    if application.status not in DECIDABLE:
        return [
            _("An application that is %(status)s cannot be decided.")
            % {"status": application.get_status_display()}
        ]
    problems = []
    done = application.reviews.filter(status=ReviewStatus.SUBMITTED)
    if "technical" in reviews and not done.filter(kind=ReviewKind.TECHNICAL).exists():
        problems.append(_("The technical assessment is missing."))
    if "peer" in reviews:
        if application.status != S.PEER_REVIEW:
            problems.append(_("The application has not been through peer review yet."))
        else:
            submitted = done.filter(kind=ReviewKind.PEER).count()
            need = settings.ACCESS_MIN_PEER_REVIEWS
            if submitted < need:
                problems.append(
                    _("%(done)d of at least %(need)d peer reviews are submitted.")
                    % {"done": submitted, "need": need}
                )
            open_reviews = application.reviews.filter(
                kind=ReviewKind.PEER, status=ReviewStatus.ASSIGNED
            ).count()
            if open_reviews:
                problems.append(
                    _("%(count)d assigned peer review(s) are not submitted yet.")
                    % {"count": open_reviews}
                )
    return problems


def _granted(outcome: str, granted: Any, requested: dict) -> dict:
    if outcome == Outcome.REJECTED:
        if granted:
            raise ValidationError({"granted": _("A rejection grants nothing.")})
        return {}
    if outcome == Outcome.ACCEPTED:
        if granted not in (None, {}) and _resources("granted", granted) != requested:
            raise ValidationError(
                {
                    "granted": _(
                        "An acceptance grants what was requested; choose “accepted with "
                        "reduced resources” to grant less."
                    )
                }
            )
        return dict(requested)
    cleaned = _resources("granted", granted)
    errors = {}
    for key, amount in cleaned.items():
        if key not in requested:
            errors[f"granted.{key}"] = [_("This resource was not requested.")]
        elif Decimal(str(amount)) > Decimal(str(requested[key])):
            errors[f"granted.{key}"] = [
                _("At most the %(amount)s requested.") % {"amount": requested[key]}
            ]
    if errors:
        raise ValidationError(errors)
    if not any(Decimal(str(v)) > 0 for v in cleaned.values()):
        raise ValidationError({"granted": _("Grant some resources, or reject the application.")})
    if cleaned == requested or all(
        Decimal(str(cleaned.get(k, 0))) >= Decimal(str(v)) for k, v in requested.items()
    ):
        raise ValidationError({"granted": _("Grant less than requested of at least one resource.")})
    return cleaned


def _members(application: Application) -> tuple[list, list[str]]:
    """The project's members from the application's team: people on the hub (linked now by
    address if they signed up since, and only to an account whose address is confirmed: anyone
    can sign up with someone else's address) with their role; the addresses of the others."""
    users = get_user_model().objects.filter(is_active=True, email_verified=True)
    members, missing, seen = [], [], set()
    for member in application.members.select_related("user"):
        user = member.user or users.filter(email__iexact=member.email).first()
        if user is None:
            if member.role == MemberRole.PI:
                raise ServiceError(
                    _(
                        "The principal investigator %(email)s has no account with a confirmed "
                        "address on the hub yet; the project cannot be opened without them."
                    )
                    % {"email": member.email},
                    field="members",
                )
            missing.append(member.email)
            continue
        if user.pk not in seen:
            seen.add(user.pk)
            members.append((user, member.role))
    return members, missing


def application_decide(
    *,
    actor,
    application: Application,
    outcome: str,
    granted: dict | None = None,
    reason: str = "",
    cluster: str | None = None,
    partition: str | None = None,
) -> Decision:
    """Decide once. Accepted grants what was requested; accepted_reduced grants less of at least
    one resource and needs a reason; rejected needs a reason. Accepting opens the project."""
    require_actor(actor, "application.decide", application)
    if (
        actor is not None
        and application.reviews.filter(kind=ReviewKind.PEER, reviewer=actor).exists()
    ):
        raise NotAllowed(
            _("You are a peer reviewer of this application; another operator must decide it.")
        )
    if outcome not in (Outcome.ACCEPTED, Outcome.ACCEPTED_REDUCED, Outcome.REJECTED):
        raise ValidationError({"outcome": _("Unknown value “%(value)s”.") % {"value": outcome}})
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise ValidationError(
            {"reason": _("At most %(limit)d characters.") % {"limit": REASON_MAX}}
        )
    if outcome != Outcome.ACCEPTED and not reason:
        raise ValidationError({"reason": _("Give the reason for this decision.")})
    with transaction.atomic():
        application = _locked(application)
        if application.status == S.DECIDED:
            raise InvalidTransition(_("The application is decided already."))
        if application.status not in DECIDABLE:
            raise InvalidTransition(
                _("An application that is %(status)s cannot be decided.")
                % {"status": application.get_status_display()}
            )
        if outcome != Outcome.REJECTED:
            problems = decision_problems(application)
            if problems:
                raise InvalidTransition(" ".join(str(p) for p in problems))
        granted = _granted(outcome, granted, application.requested or {})
        mode = application.call.mode
        pool = None
        if outcome != Outcome.REJECTED:
            pool = pool_reserve(mode.pool, granted, field="granted")
        now = timezone.now()
        decision = Decision.objects.create(
            application=application,
            outcome=outcome,
            granted=granted,
            reason=reason,
            decided_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        application.outcome = outcome
        application.decided_at = now
        missing: list[str] = []
        project = None
        if outcome != Outcome.REJECTED:
            members, missing = _members(application)
            start, end = allocation_period(application)
            project = project_create(
                actor=actor,
                organisation=application.organisation,
                title=application.title,
                members=members,
                allocation={
                    "resources": granted,
                    "start": start,
                    "end": end,
                    "pool": pool,
                    "tranche_policy": mode.tranche_policy,
                    "cluster": cluster if cluster is not None else settings.ACCESS_DEFAULT_CLUSTER,
                    "partition": (
                        partition if partition is not None else settings.ACCESS_DEFAULT_PARTITION
                    ),
                },
                application=application,
            )
        note = reason
        if granted:
            labels = dict(Resource.choices)
            note = "\n".join(
                filter(
                    None,
                    [
                        reason,
                        _("Granted: %(resources)s")
                        % {
                            "resources": ", ".join(
                                f"{labels.get(k, k)} {v}" for k, v in granted.items()
                            )
                        },
                        _("Project: %(code)s") % {"code": project.code} if project else "",
                        _("Not yet on the hub (add them once they sign up): %(emails)s")
                        % {"emails": ", ".join(missing)}
                        if missing
                        else "",
                    ],
                )
            )
        _move(
            application,
            actor,
            S.DECIDED,
            note=note,
            outcome=outcome,
            granted=granted,
            project=project.code if project else None,
        )
        audit_record(
            actor=actor,
            action="application.decide",
            obj=application,
            changes={"decision": decision.pk, "outcome": outcome, "granted": granted},
        )
    return decision
