"""Pages of the support cases: my cases, ask the factory, a case's timeline, the advisor inbox.

Every action is a plain POST form that redirects back to the case (so the pages work without
JavaScript); with HTMX the same forms swap the case in place. Buttons are shown only to those
allowed, and the services check again.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.accounts.models import Organisation
from aifactory.catalog.matching import GROUP_BY_KEY, SESSION_KEY
from aifactory.catalog.models import Offering
from aifactory.catalog.selectors import offering_get
from aifactory.core.forms import call_service
from aifactory.core.htmx import render_page
from aifactory.core.permissions import allowed, require
from aifactory.core.taxonomy import Sector
from aifactory.core.workdays import working_days_between

from . import selectors
from .forms import (
    AssignForm,
    CaseForm,
    InboxFilterForm,
    LinkForm,
    MessageForm,
    NoteForm,
    StatusForm,
    TriageForm,
)
from .models import Case, CaseStatus, CloseReason, EntryKind
from .notifications import describe
from .services import cases as services

# --- lists -------------------------------------------------------------------------------------


SECTORS = dict(Sector.choices)


def _rows(cases, now=None) -> list[dict]:
    now = now or timezone.now()
    return [
        {"case": c, "overdue": selectors.is_overdue(c, now), "sector": SECTORS.get(c.sector, "")}
        for c in cases
    ]


@login_required
@require_http_methods(["GET"])
def case_list(request):
    """The cases of the person's own organisations (staff find every case in the inbox)."""
    user = request.user
    cases = selectors.cases_visible(user).filter(organisation__memberships__user=user)
    return render(
        request,
        "advisor/case_list.html",
        {
            "rows": _rows(cases.order_by("-created_at")),
            "can_create": _my_organisations(user).exists(),
            "can_use_inbox": allowed(user, "case.list_all"),
            "days": settings.ADVISOR_FIRST_RESPONSE_DAYS,
        },
    )


@login_required
@require_http_methods(["GET"])
def inbox(request):
    user = request.user
    require(user, "case.list_all")
    form = InboxFilterForm(request.GET or None, initial={"status": selectors.OPEN})
    filters = form.filters()
    now = timezone.now()
    cases = selectors.cases_list(user, **filters)[:500]
    context = {
        "form": form,
        "rows": _rows(cases, now),
        "counts": selectors.case_counts(user),
        "filters": filters,
    }
    return render_page(request, "advisor/inbox.html", "advisor/_inbox_results.html", context)


# --- opening -----------------------------------------------------------------------------------


def _my_organisations(user):
    return Organisation.objects.filter(memberships__user=user).order_by("legal_name")


@login_required
@require_http_methods(["GET", "POST"])
def case_create(request):
    """Ask the factory. The catalogue's match page links here with ``?from=match`` and the
    need it ran in the session (a long text does not fit in an address); ``need``, ``sector`` and
    ``organisation`` in the query string pre-fill the form too, so the need is not written twice."""
    user = request.user
    organisations = list(_my_organisations(user))
    source = request.GET
    if request.GET.get("from") == "match":
        source = request.session.get(SESSION_KEY) or {}
    initial = {
        "need": str(source.get("need", ""))[:20_000],
        "sector": source.get("sector", ""),
        "organisation": source.get("organisation", "")
        or (str(organisations[0].pk) if organisations else ""),
    }
    form = CaseForm(request.POST or None, organisations=organisations, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        organisation = next(o for o in organisations if str(o.pk) == data["organisation"])
        ok, case = call_service(
            request,
            services.case_open,
            form=form,
            actor=user,
            organisation=organisation,
            need=data["need"],
            subject=data["subject"],
            sector=data["sector"],
        )
        if ok:
            messages.success(
                request,
                _("Your request %(ref)s is with the factory. An advisor answers by %(date)s.")
                % {
                    "ref": case.reference,
                    "date": formats.date_format(
                        timezone.localtime(case.first_response_due), "DATETIME_FORMAT"
                    ),
                },
            )
            return redirect("advisor:case_detail", case.pk)
    return render(
        request, "advisor/case_form.html", {"form": form, "has_organisation": bool(organisations)}
    )


# --- one case ----------------------------------------------------------------------------------


def _snapshot_groups(case: Case, linked_ids: set[str]) -> list[dict]:
    snapshot = case.matchmaking or {}
    results = {r["id"]: r for r in snapshot.get("results", [])}
    groups = []
    for group in snapshot.get("groups", []):
        known = GROUP_BY_KEY.get(group.get("key"))
        items = [
            {**results[i], "linked": i in linked_ids} for i in group.get("ids", []) if i in results
        ]
        if items:
            groups.append(
                {
                    "key": group.get("key"),
                    "label": known.label if known else group.get("key"),
                    "hint": known.hint if known else "",
                    "items": items,
                }
            )
    return groups


def _case_context(request, case: Case, **forms) -> dict:
    user = request.user
    staff = allowed(user, "case.manage", case)
    now = timezone.now()
    linked = list(case.offerings.order_by("external_id"))
    linked_ids = {str(o.pk) for o in linked}
    timeline = [
        {"entry": e, "text": describe(e) if e.kind == EntryKind.EVENT else ""}
        for e in selectors.case_entries(user, case)
    ]
    closed = case.status == CaseStatus.CLOSED
    status_choices = [
        (value, label)
        for value, label in CaseStatus.choices
        if value in services.TRANSITIONS.get(case.status, set()) and value != CaseStatus.CLOSED
    ]
    context = {
        "case": case,
        "staff": staff,
        "timeline": timeline,
        "linked": linked,
        "groups": _snapshot_groups(case, linked_ids),
        "overdue": selectors.is_overdue(case, now),
        "sector": SECTORS.get(case.sector, ""),
        "late_by": working_days_between(case.first_response_due, now)
        if selectors.is_overdue(case, now)
        else 0,
        "closed": closed,
        "can_message": allowed(user, "case.message", case) and not closed,
        "can_withdraw": allowed(user, "case.withdraw", case) and not closed and not staff,
        "can_reopen": allowed(user, "case.reopen", case) and closed,
        "status_choices": status_choices,
        "message_form": forms.get("message_form") or MessageForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "status_form": forms.get("status_form") or StatusForm(),
        "assign_form": forms.get("assign_form")
        or AssignForm(
            staff=selectors.case_staff() if staff else (),
            initial={"assignee": str(case.assigned_to_id or "")},
        ),
        "triage_form": forms.get("triage_form")
        or TriageForm(initial={"stage": case.stage, "sector": case.sector}),
        "link_form": forms.get("link_form") or LinkForm(),
        "reasons": [(v, label) for v, label in CloseReason.choices if v],
    }
    return context


def _show(request, case: Case, **forms):
    return render(request, "advisor/case_detail.html", _case_context(request, case, **forms))


def _back(request, case: Case):
    """After an action: back to the case, or to a local ``next`` page (the inbox)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("advisor:case_detail", case.pk)


@login_required
@require_http_methods(["GET"])
def case_detail(request, case_id):
    case = selectors.case_get(request.user, case_id)
    return _show(request, case)


@login_required
@require_POST
def case_message(request, case_id):
    user = request.user
    case = selectors.case_get(user, case_id)
    form = MessageForm(request.POST)
    if form.is_valid():
        ok, _entry = call_service(
            request,
            services.case_message,
            form=form,
            actor=user,
            case=case,
            body=form.cleaned_data["body"],
            await_customer=form.cleaned_data["await_customer"],
        )
        if ok:
            messages.success(request, _("Your message is on the case."))
            return _back(request, case)
        case.refresh_from_db()
    return _show(request, case, message_form=form)


@login_required
@require_POST
def case_note(request, case_id):
    user = request.user
    case = selectors.case_get(user, case_id)
    require(user, "case.manage", case)
    form = NoteForm(request.POST)
    if form.is_valid():
        ok, _entry = call_service(
            request,
            services.case_note,
            form=form,
            actor=user,
            case=case,
            body=form.cleaned_data["body"],
            visibility=form.cleaned_data["visibility"],
        )
        if ok:
            messages.success(request, _("The note is saved."))
            return _back(request, case)
    return _show(request, case, note_form=form)


@login_required
@require_POST
def case_status(request, case_id):
    """Change the status; the customer's buttons (withdraw, reopen) post here as well."""
    user = request.user
    case = selectors.case_get(user, case_id)
    form = StatusForm(request.POST)
    if form.is_valid():
        # The status forms are buttons and one select: refusals go to the page's messages.
        ok, case_after = call_service(
            request,
            services.case_set_status,
            actor=user,
            case=case,
            status=form.cleaned_data["status"],
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(
                request,
                _("The case is now “%(status)s”.") % {"status": case_after.get_status_display()},
            )
            return _back(request, case)
        case.refresh_from_db()
    elif "reason" in form.errors or "status" in form.errors:
        messages.error(request, _("Choose one of the listed values."))
    return _show(request, case, status_form=form)


@login_required
@require_POST
def case_assign(request, case_id):
    user = request.user
    case = selectors.case_get(user, case_id)
    require(user, "case.manage", case)
    staff = selectors.case_staff()
    if request.POST.get("assignee") == "me":
        post = request.POST.copy()
        post["assignee"] = str(user.pk)
    else:
        post = request.POST
    form = AssignForm(post, staff=staff)
    if form.is_valid():
        pk = form.cleaned_data["assignee"]
        assignee = get_user_model().objects.get(pk=pk) if pk else None
        ok, _case = call_service(
            request, services.case_assign, form=form, actor=user, case=case, assignee=assignee
        )
        if ok:
            messages.success(
                request,
                _("%(ref)s is assigned to %(name)s.")
                % {"ref": case.reference, "name": assignee.display_name}
                if assignee
                else _("%(ref)s is not assigned any more.") % {"ref": case.reference},
            )
            return _back(request, case)
    return _show(request, case, assign_form=form)


@login_required
@require_POST
def case_triage(request, case_id):
    user = request.user
    case = selectors.case_get(user, case_id)
    require(user, "case.manage", case)
    form = TriageForm(request.POST)
    if form.is_valid():
        ok, _case = call_service(
            request,
            services.case_triage,
            form=form,
            actor=user,
            case=case,
            stage=form.cleaned_data["stage"],
            sector=form.cleaned_data["sector"],
        )
        if ok:
            messages.success(request, _("The case is classified."))
            return _back(request, case)
        case.refresh_from_db()
    return _show(request, case, triage_form=form)


def _offering(user, key) -> Offering | None:
    try:
        return offering_get(user, key)
    except Exception:  # noqa: BLE001 - any miss (404, bad id) is "no such offering" to the form
        return None


@login_required
@require_POST
def case_link(request, case_id):
    user = request.user
    case = selectors.case_get(user, case_id)
    require(user, "case.manage", case)
    form = LinkForm(request.POST)
    if form.is_valid():
        offering = _offering(user, form.cleaned_data["offering"].strip())
        if offering is None:
            form.add_error("offering", _("No such offering."))
        else:
            ok, _case = call_service(
                request,
                services.case_link_offering,
                form=form,
                actor=user,
                case=case,
                offering=offering,
            )
            if ok:
                messages.success(
                    request,
                    _("%(title)s is recommended on the case.")
                    % {"title": offering.text("title", request.LANGUAGE_CODE)},
                )
                return _back(request, case)
    return _show(request, case, link_form=form)


@login_required
@require_POST
def case_unlink(request, case_id, offering_id):
    user = request.user
    case = selectors.case_get(user, case_id)
    require(user, "case.manage", case)
    offering = _offering(user, offering_id)
    if offering is None:
        messages.error(request, _("No such offering."))
        return _back(request, case)
    ok, _case = call_service(
        request, services.case_unlink_offering, actor=user, case=case, offering=offering
    )
    if ok:
        messages.success(request, _("The recommendation is withdrawn."))
    return _back(request, case)
