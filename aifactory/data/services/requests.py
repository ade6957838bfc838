"""Access requests for restricted datasets, the grants they lead to, and their end.

A person asks for their organisation (project, purpose, duration, the legal basis where the data is
personal, the data-use conditions accepted); the publisher's data stewards approve (a Grant to the
organisation, with conditions and an expiry no later than the duration asked for) or refuse (with a
reason); the requester may withdraw while it waits. A grant ends by itself: ``dataset.read``
compares ``expires_at`` with the clock on every read, and ``grants_expire_due`` only records the
expiry (an audit event) once it has passed. A steward may revoke a grant early, with a reason.
"""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aifactory.core.errors import InvalidTransition, NotAllowed, NotFound, ServiceError
from aifactory.core.mail import mail_send
from aifactory.core.permissions import allowed, organisation_ids, require_actor
from aifactory.core.roles import OrgRole
from aifactory.core.services import audit_record

from ..models import AccessRequest, Dataset, Grant, LegalBasis, RequestStatus

__all__ = [
    "grant_revoke",
    "grants_expire_due",
    "request_approve",
    "request_create",
    "request_refuse",
    "request_withdraw",
]

TEXT_MAX = 5000
S = RequestStatus


def _text(value, field: str, *, required: bool, limit: int = TEXT_MAX) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > limit or "\x00" in value:
        raise ValidationError({field: _("At most %(limit)d characters.") % {"limit": limit}})
    return value


def _language(user) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    language = getattr(user, "preferred_language", "") if user is not None else ""
    return language if language in known else settings.LANGUAGE_CODE


def _stewards(dataset: Dataset) -> list:
    return [
        m.user
        for m in dataset.publisher.memberships.filter(
            role__in=[OrgRole.OWNER, OrgRole.MANAGER], user__is_active=True
        ).select_related("user")
    ]


def _link(name: str, *args) -> str:
    from django.urls import reverse

    return settings.SITE_URL + reverse(name, args=args)


def _mail_on_commit(messages: list[tuple[str, str, str]]) -> None:
    def send():
        for subject, body, to in messages:
            mail_send(subject=subject, body=body, to=[to])

    if messages:
        transaction.on_commit(send)


def _mail_stewards(req: AccessRequest) -> None:
    dataset = req.dataset
    outgoing = []
    for person in _stewards(dataset):
        if not person.email:
            continue
        with translation.override(_language(person)):
            subject = _("Access request for %(dataset)s") % {"dataset": dataset.slug}
            lines = [
                _("%(person)s asks for access to %(dataset)s for %(organisation)s.")
                % {
                    "person": req.requester.email,
                    "dataset": dataset.text("title", _language(person)) or dataset.slug,
                    "organisation": req.organisation.legal_name,
                },
                "",
                _("Project: %(project)s") % {"project": req.project},
                _("Purpose: %(purpose)s") % {"purpose": req.purpose},
                _("For %(days)d days") % {"days": req.duration_days},
            ]
            if req.legal_basis:
                lines.append(_("Legal basis: %(basis)s") % {"basis": req.get_legal_basis_display()})
            lines += ["", _("Decide: %(url)s") % {"url": _link("data_requests:inbox")}]
            outgoing.append((subject, "\n".join(lines), person.email))
    _mail_on_commit(outgoing)


def _mail_requester(req: AccessRequest, grant: Grant | None = None, *, revoked: bool = False):
    person = req.requester
    if not person.email:
        return
    with translation.override(_language(person)):
        dataset = req.dataset.text("title", _language(person)) or req.dataset.slug
        if revoked:
            subject = _("Your access to %(dataset)s was revoked") % {"dataset": req.dataset.slug}
            lines = [
                _("The publisher revoked the access of %(organisation)s to %(dataset)s.")
                % {"organisation": req.organisation.legal_name, "dataset": dataset},
                _("Reason: %(reason)s") % {"reason": grant.revoke_reason},
            ]
        elif req.status == S.APPROVED:
            subject = _("Access to %(dataset)s approved") % {"dataset": req.dataset.slug}
            lines = [
                _("Your request for access to %(dataset)s was approved.") % {"dataset": dataset},
                _("Until: %(date)s")
                % {"date": timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")},
            ]
            if grant.conditions:
                lines.append(_("Conditions: %(conditions)s") % {"conditions": grant.conditions})
        else:
            subject = _("Access to %(dataset)s refused") % {"dataset": req.dataset.slug}
            lines = [
                _("Your request for access to %(dataset)s was refused.") % {"dataset": dataset},
                _("Reason: %(reason)s") % {"reason": req.reason},
            ]
        lines += ["", _link("data_requests:request_detail", req.pk)]
        _mail_on_commit([(subject, "\n".join(lines), person.email)])


def request_create(
    *,
    actor,
    dataset: Dataset,
    organisation,
    project: str,
    purpose: str,
    duration_days,
    legal_basis: str = "",
    accept_conditions: bool = False,
) -> AccessRequest:
    """Ask the publisher for access to a restricted dataset, for one's organisation."""
    if not allowed(actor, "dataset.view", dataset):
        raise NotFound(_("No such dataset."))
    if not allowed(actor, "dataset.request_access", dataset):
        if not getattr(actor, "is_authenticated", False):
            raise NotAllowed(_("Sign in to ask for access."))
        if dataset.status != "published":
            raise ServiceError(_("Only a published dataset can be requested."))
        if dataset.access_rights != "restricted":
            raise ServiceError(
                _("This dataset is not restricted: no request is needed to read it.")
            )
        raise NotAllowed(_("You are a member of its publisher and can read it already."))
    if organisation is None or organisation.pk not in organisation_ids(actor):
        raise ValidationError({"organisation": _("Choose an organisation you are a member of.")})
    project = _text(project, "project", required=True, limit=200)
    purpose = _text(purpose, "purpose", required=True)
    try:
        days = int(duration_days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= settings.DATA_MAX_GRANT_DAYS:
        raise ValidationError(
            {
                "duration_days": _("Give a number of days from 1 to %(max)d.")
                % {"max": settings.DATA_MAX_GRANT_DAYS}
            }
        )
    if dataset.personal_data:
        if legal_basis not in LegalBasis.values or not legal_basis:
            raise ValidationError(
                {"legal_basis": _("The dataset holds personal data: name the legal basis.")}
            )
    else:
        legal_basis = ""
    if accept_conditions is not True:
        raise ValidationError(
            {"accept_conditions": _("Accept the data-use conditions to send the request.")}
        )
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        if AccessRequest.objects.filter(
            dataset=dataset, organisation=organisation, status=S.PENDING
        ).exists():
            raise ServiceError(
                _("%(organisation)s already has a request for this dataset waiting.")
                % {"organisation": organisation.legal_name}
            )
        live = dataset.grants.live().filter(organisation=organisation).first()
        if live is not None:
            raise ServiceError(
                _("%(organisation)s has access until %(date)s already.")
                % {
                    "organisation": organisation.legal_name,
                    "date": timezone.localtime(live.expires_at).strftime("%Y-%m-%d"),
                }
            )
        req = AccessRequest.objects.create(
            dataset=dataset,
            requester=actor,
            organisation=organisation,
            project=project,
            purpose=purpose,
            duration_days=days,
            legal_basis=legal_basis,
            conditions_accepted=dataset.use_conditions,
        )
        audit_record(
            actor=actor,
            action="data_request.create",
            obj=req,
            changes={"dataset": dataset.slug, "days": days, "project": project},
        )
        _mail_stewards(req)
    return req


def _locked(req: AccessRequest) -> AccessRequest:
    return AccessRequest.objects.select_for_update().get(pk=req.pk)


def _pending(req: AccessRequest) -> None:
    if req.status != S.PENDING:
        raise InvalidTransition(
            _("The request is %(status)s already.") % {"status": req.get_status_display()}
        )


def _expiry(value, limit: datetime) -> datetime:
    """The grant's end: a date means the end of that day (local time), never past ``limit``."""
    now = timezone.now()
    if value in (None, ""):
        return limit
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError({"expires_at": _("Give a date as YYYY-MM-DD.")}) from None
    if isinstance(value, datetime):
        expires = value if timezone.is_aware(value) else timezone.make_aware(value)
        if expires > limit + timedelta(minutes=1):
            raise ValidationError(
                {
                    "expires_at": _("At most the days asked for: until %(date)s.")
                    % {"date": timezone.localtime(limit).strftime("%Y-%m-%d")}
                }
            )
        expires = min(expires, limit)
    elif isinstance(value, date):
        if value > timezone.localtime(limit).date():
            raise ValidationError(
                {
                    "expires_at": _("At most the days asked for: until %(date)s.")
                    % {"date": timezone.localtime(limit).strftime("%Y-%m-%d")}
                }
            )
        expires = min(timezone.make_aware(datetime.combine(value, time(23, 59, 59))), limit)
    else:
        raise ValidationError({"expires_at": _("Give a date as YYYY-MM-DD.")})
    if expires <= now:
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    return expires


def request_approve(*, actor, request: AccessRequest, conditions: str = "", expires_at=None):
    """Approve a waiting request: the organisation may read the dataset until the expiry
    (default: the duration asked for, counted from now; never longer)."""
    require_actor(actor, "data_request.decide", request)
    conditions = _text(conditions, "conditions", required=False)
    with transaction.atomic():
        req = _locked(request)
        _pending(req)
        now = timezone.now()
        expires = _expiry(expires_at, now + timedelta(days=req.duration_days))
        grant = Grant.objects.create(
            dataset=req.dataset,
            organisation=req.organisation,
            request=req,
            conditions=conditions,
            expires_at=expires,
            granted_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        req.status = S.APPROVED
        req.decided_by = grant.granted_by
        req.decided_at = now
        req.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
        audit_record(
            actor=actor,
            action="data_request.approve",
            obj=req,
            changes={"grant": grant.pk, "expires_at": expires, "conditions": conditions},
        )
        _mail_requester(req, grant)
    request.refresh_from_db()
    return grant


def request_refuse(*, actor, request: AccessRequest, reason: str) -> AccessRequest:
    require_actor(actor, "data_request.decide", request)
    reason = _text(reason, "reason", required=True)
    with transaction.atomic():
        req = _locked(request)
        _pending(req)
        req.status = S.REFUSED
        req.reason = reason
        req.decided_by = actor if getattr(actor, "is_authenticated", False) else None
        req.decided_at = timezone.now()
        req.save(update_fields=["status", "reason", "decided_by", "decided_at", "updated_at"])
        audit_record(actor=actor, action="data_request.refuse", obj=req, changes={"reason": reason})
        _mail_requester(req)
    request.refresh_from_db()
    return request


def request_withdraw(*, actor, request: AccessRequest) -> AccessRequest:
    require_actor(actor, "data_request.withdraw", request)
    with transaction.atomic():
        req = _locked(request)
        _pending(req)
        req.status = S.WITHDRAWN
        req.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="data_request.withdraw", obj=req)
    request.refresh_from_db()
    return request


def grant_revoke(*, actor, grant: Grant, reason: str) -> Grant:
    """End a grant before its expiry; its organisation reads nothing more from now on."""
    require_actor(actor, "dataset.govern", grant.dataset)
    reason = _text(reason, "reason", required=True)
    with transaction.atomic():
        locked = Grant.objects.select_for_update().get(pk=grant.pk)
        if locked.revoked_at is not None:
            raise InvalidTransition(_("The grant is revoked already."))
        if locked.expires_at <= timezone.now():
            raise InvalidTransition(_("The grant has expired already."))
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.revoke_reason = reason
        locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "updated_at"])
        audit_record(actor=actor, action="grant.revoke", obj=locked, changes={"reason": reason})
        if locked.request_id:
            _mail_requester(locked.request, locked, revoked=True)
    grant.refresh_from_db()
    return grant


def grants_expire_due() -> int:
    """Record the grants whose expiry has passed since the last run (one audit event each)."""
    now = timezone.now()
    count = 0
    due = Grant.objects.filter(
        expires_at__lte=now, revoked_at__isnull=True, expiry_recorded_at__isnull=True
    ).values_list("pk", flat=True)
    for pk in list(due[:1000]):
        with transaction.atomic():
            grant = (
                Grant.objects.select_for_update()
                .filter(pk=pk, expiry_recorded_at__isnull=True)
                .first()
            )
            if grant is None:
                continue
            grant.expiry_recorded_at = now
            grant.save(update_fields=["expiry_recorded_at", "updated_at"])
            audit_record(
                actor=None,
                action="grant.expire",
                obj=grant,
                changes={"dataset": grant.dataset_id, "expires_at": grant.expires_at},
            )
            count += 1
    return count
