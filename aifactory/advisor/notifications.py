"""What a case's timeline says, and who is told by e-mail when a case changes.

Only shared changes are mailed (the services never call ``case_changed`` for an internal note or
the triage), and a mail carries only the one shared entry it is about. The two sides:

- the customer: the person who opened the case and the members who wrote on it, while they are
  still active members of its organisation;
- the factory: the assigned advisor, or every advisor while nobody is assigned (the front desk).

The person who made the change is not told about it, except the opener, who gets a receipt with
the reference. Each person gets their own message, in their preferred language, sent after the
commit so a rolled-back change mails nobody.
"""

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from aifactory.core.mail import mail_muted, mail_send
from aifactory.core.permissions import allowed
from aifactory.core.roles import StaffRole

from .models import Case, CaseEntry, CaseStatus, CloseReason, EntryKind

# --- timeline sentences ------------------------------------------------------------------------


def _status_label(value: str) -> str:
    try:
        return str(CaseStatus(value).label)
    except ValueError:
        return value


def _reason_label(value: str) -> str:
    try:
        return str(CloseReason(value).label)
    except ValueError:
        return value


def describe(entry: CaseEntry) -> str:
    """One sentence for an event on the timeline, in the active language."""
    data = entry.data or {}
    event = data.get("event", "")
    if event == "opened":
        return _("Case opened.")
    if event == "status":
        if data.get("new") == CaseStatus.CLOSED:
            return _("Closed: %(reason)s.") % {"reason": _reason_label(data.get("reason", ""))}
        if data.get("reopened"):
            return _("Reopened.")
        return _("Status changed from “%(old)s” to “%(new)s”.") % {
            "old": _status_label(data.get("old", "")),
            "new": _status_label(data.get("new", "")),
        }
    if event == "assigned":
        if data.get("new"):
            return _("%(name)s is the advisor for this case.") % {"name": data["new"]}
        return _("The case has no assigned advisor any more.")
    if event == "triaged":
        parts = []
        if data.get("stage"):
            parts.append(_("journey stage: %(stage)s") % {"stage": _stage(data["stage"])})
        if data.get("sector"):
            parts.append(_("sector: %(sector)s") % {"sector": _sector(data["sector"])})
        return _("Classified (%(what)s).") % {"what": ", ".join(parts)}
    if event == "linked":
        return _("Recommended offering: %(title)s.") % {"title": data.get("title", "")}
    if event == "unlinked":
        return _("Recommendation withdrawn: %(title)s.") % {"title": data.get("title", "")}
    return event


def _stage(value: str) -> str:
    from aifactory.core.taxonomy import JourneyStage

    return str(dict(JourneyStage.choices).get(value, value))


def _sector(value: str) -> str:
    from aifactory.core.taxonomy import Sector

    return str(dict(Sector.choices).get(value, value))


# --- e-mail ------------------------------------------------------------------------------------


def _customers(case: Case) -> list:
    people = [case.opened_by] if case.opened_by_id else []
    writers = (
        CaseEntry.objects.filter(case=case, kind=EntryKind.MESSAGE)
        .exclude(author=None)
        .select_related("author")
    )
    people += [e.author for e in writers]
    return [
        p
        for p in people
        if p.is_active
        and allowed(p, "case.view", case)
        and p.memberships.filter(organisation_id=case.organisation_id).exists()
    ]


def _factory(case: Case) -> list:
    from django.contrib.auth import get_user_model

    if case.assigned_to_id:
        people = [case.assigned_to]
    else:
        people = list(get_user_model().objects.filter(staff_role=StaffRole.ADVISOR, is_active=True))
    return [p for p in people if p.is_active and allowed(p, "case.manage", case)]


def _language(person) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    return person.preferred_language if person.preferred_language in known else "en"


def _headline(case: Case, event: str, *, for_customer: bool, entry=None, offering=None) -> str:
    ref = case.reference
    if event == "opened":
        if for_customer:
            return _("We received your request %(ref)s.") % {"ref": ref}
        return _("New case %(ref)s from %(org)s.") % {
            "ref": ref,
            "org": case.organisation.legal_name,
        }
    if event == "message":
        author = entry.author.display_name if entry and entry.author else ""
        return _("New message from %(name)s on case %(ref)s.") % {"name": author, "ref": ref}
    if event == "note":
        return _("New note on case %(ref)s.") % {"ref": ref}
    if event == "assigned":
        if case.assigned_to_id:
            return _("%(name)s is now the advisor for case %(ref)s.") % {
                "name": case.assigned_to.display_name,
                "ref": ref,
            }
        return _("Case %(ref)s has no assigned advisor any more.") % {"ref": ref}
    if event == "linked":
        return _("Recommended for case %(ref)s: %(title)s") % {
            "ref": ref,
            "title": offering.text("title", _language_of_case(case)) if offering else "",
        }
    if event == "unlinked":
        return _("Recommendation withdrawn on case %(ref)s: %(title)s") % {
            "ref": ref,
            "title": offering.text("title", _language_of_case(case)) if offering else "",
        }
    if case.status == CaseStatus.CLOSED:
        return _("Case %(ref)s is closed: %(reason)s.") % {
            "ref": ref,
            "reason": _reason_label(case.close_reason),
        }
    return _("Case %(ref)s is now “%(status)s”.") % {
        "ref": ref,
        "status": _status_label(case.status)
        if for_customer or case.status != CaseStatus.WAITING_FOR_CUSTOMER
        else pgettext("case, for staff", "waiting for the customer"),
    }


def _language_of_case(case: Case) -> str:
    return translation.get_language() or case.language or "en"


def case_changed(*, case: Case, actor, event: str, entry=None, offering=None, previous=None):
    """Mail a shared change to both sides, once the transaction commits."""
    if entry is not None and entry.visibility != "shared":  # never, whatever the caller says
        return
    if mail_muted():  # checked now: the mails go out later, on commit
        return
    actor_pk = getattr(actor, "pk", None)
    sides = [(p, True) for p in _customers(case)] + [(p, False) for p in _factory(case)]
    if previous is not None and previous.is_active:
        sides.append((previous, False))
    link = settings.SITE_URL + reverse("advisor:case_detail", args=[case.pk])
    seen, messages = set(), []
    for person, for_customer in sides:
        if person.pk in seen or not person.email:
            continue
        seen.add(person.pk)
        if person.pk == actor_pk and not (event == "opened" and for_customer):
            continue
        with translation.override(_language(person)):
            subject = f"[{case.reference}] " + _headline(
                case, event, for_customer=for_customer, entry=entry, offering=offering
            )
            body = render_to_string(
                "advisor/email/case_changed.txt",
                {
                    "case": case,
                    "headline": subject,
                    "entry": entry,
                    "for_customer": for_customer,
                    "status": _status_label(case.status),
                    "link": link,
                    "opened": event == "opened",
                },
            )
        messages.append((" ".join(subject.split()), body, person.email))

    def send():
        for subject, body, to in messages:
            mail_send(subject=subject, body=body, to=[to])

    if messages:
        transaction.on_commit(send)
