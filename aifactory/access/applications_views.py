"""Pages of the applications: mine, the form in sections (saved as you go), the team, evidence,
submit and withdraw; the operators' queue with the service-time clock, eligibility and revision
requests. The views only read forms and call services."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.accounts.models import Organisation
from aifactory.core.forms import call_service
from aifactory.core.permissions import allowed, require

from . import applications_selectors as selectors
from .applications_forms import (
    ApplicationForm,
    ApplicationStartForm,
    AttachmentForm,
    EligibilityForm,
    MemberForm,
    QueueFilterForm,
    ReasonForm,
    RevisionForm,
)
from .models import Application, Call, CallStatus, Resource
from .reviews_forms import AssignForm, TechnicalForm, shown_reviews
from .reviews_selectors import review_panels
from .services import applications as services
from .services.modes import mode_eligibility


def _text(values: dict, default: str = "") -> str:
    """A multilingual {language: text} value in the reader's language, else English, else any."""
    language = translation.get_language() or "en"
    values = values or {}
    return values.get(language) or values.get("en") or next(iter(values.values()), default)


def _open_calls():
    now = timezone.now()
    return [
        c
        for c in Call.objects.select_related("mode").filter(status=CallStatus.OPEN)
        if services.call_is_open(c, now) and c.mode.is_active
    ]


def _my_organisations(user):
    return Organisation.objects.filter(memberships__user=user).order_by("legal_name")


def _rows(applications, now=None):
    now = now or timezone.now()
    return [{"app": a, "clock": selectors.application_clock(a, now)} for a in applications]


@login_required
@require_http_methods(["GET"])
def application_list(request):
    user = request.user
    rows = _rows(selectors.applications_list(user, mine=True))
    return render(
        request,
        "access/applications_list.html",
        {
            "rows": rows,
            "can_start": bool(_open_calls()) and _my_organisations(user).exists(),
            "can_use_queue": allowed(user, "application.list_all"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def application_start(request):
    user = request.user
    calls, organisations = _open_calls(), list(_my_organisations(user))
    for call in calls:
        call.display_title = _text(call.title, call.code)
    form = ApplicationStartForm(request.POST or None, calls=calls, organisations=organisations)
    if request.method == "POST" and form.is_valid():
        call = next(c for c in calls if str(c.pk) == form.cleaned_data["call"])
        organisation = next(
            o for o in organisations if str(o.pk) == form.cleaned_data["organisation"]
        )
        ok, application = call_service(
            request,
            services.application_create,
            form=form,
            actor=user,
            call=call,
            organisation=organisation,
        )
        if ok:
            messages.success(request, _("Your draft is saved; fill it in at your pace."))
            return redirect("access:application_detail", application.pk)
    return render(
        request,
        "access/applications_start.html",
        {"form": form, "calls": calls, "organisations": organisations},
    )


def _limits(mode):
    labels = dict(Resource.choices)
    return [
        {"label": labels.get(key, key), "min": bounds.get("min", 0), "max": bounds.get("max")}
        for key, bounds in (mode.limits or {}).items()
    ]


def _context(request, application: Application, **forms):
    user = request.user
    can_edit = allowed(user, "application.edit", application)
    editable = can_edit and application.status in services.EDITABLE
    mode = application.call.mode
    eligible, reasons = (
        (application.eligibility.get("ok"), application.eligibility.get("reasons", []))
        if application.eligibility
        else mode_eligibility(mode, application.organisation)
    )
    form = forms.get("form") or ApplicationForm(initial=ApplicationForm.initial_from(application))
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    return {
        "application": application,
        "form": form,
        "member_form": forms.get("member_form") or MemberForm(),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "withdraw_form": ReasonForm(),
        "eligibility_form": forms.get("eligibility_form") or EligibilityForm(),
        "revision_form": forms.get("revision_form") or RevisionForm(),
        "mode": mode,
        "mode_name": _text(mode.name, mode.code),
        "call_title": _text(application.call.title, application.call.code),
        "limits": _limits(mode),
        "eligible": eligible,
        "eligibility_reasons": reasons,
        "eligibility_decision": application.eligibility.get("decision"),
        "clock": selectors.application_clock(application),
        "members": application.members.all(),
        "attachments": application.attachments.all(),
        "events": application.events.select_related("actor"),
        "can_edit": can_edit,
        "editable": editable,
        "can_withdraw": can_edit and application.status in services.OPEN_STATES,
        "can_manage": allowed(user, "application.manage", application),
        "max_upload_mb": settings.ACCESS_MAX_UPLOAD_MB,
        "problems": (services.submission_problems(application) if editable else {}),
        **review_panels(user, application),
        "reviews_shown": shown_reviews(user, application),
        "technical_form": forms.get("technical_form") or TechnicalForm(),
        "assign_form": forms.get("assign_form") or AssignForm(),
    }


def _show(request, application, status=200, **forms):
    return render(
        request,
        "access/applications_detail.html",
        _context(request, application, **forms),
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def application_detail(request, application_id):
    """GET shows the application; POST saves the form as it is (a draft need not be complete)."""
    user = request.user
    application = selectors.application_get(user, application_id)
    if request.method == "GET":
        return _show(request, application)
    require(user, "application.edit", application)
    form = ApplicationForm(request.POST)
    if form.is_valid():
        ok, _app = call_service(
            request,
            services.application_update,
            form=form,
            actor=user,
            application=application,
            data=form.data_for_service(),
        )
        if ok:
            messages.success(request, _("Saved."))
            return redirect("access:application_detail", application.pk)
    application.refresh_from_db()
    return _show(request, application, form=form)


def _action(request, application_id, service, success: str, **kwargs):
    application = selectors.application_get(request.user, application_id)
    ok, _result = call_service(
        request, service, actor=request.user, application=application, **kwargs
    )
    if ok:
        messages.success(request, success)
    return redirect("access:application_detail", application.pk)


@login_required
@require_POST
def application_submit(request, application_id):
    return _action(
        request,
        application_id,
        services.application_submit,
        _("The application is submitted. You will hear from the factory by e-mail."),
    )


@login_required
@require_POST
def application_withdraw(request, application_id):
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _action(
        request,
        application_id,
        services.application_withdraw,
        _("The application is withdrawn."),
        reason=reason,
    )


@login_required
@require_POST
def application_member_add(request, application_id):
    user = request.user
    application = selectors.application_get(user, application_id)
    require(user, "application.edit", application)
    form = MemberForm(request.POST)
    if form.is_valid():
        ok, _member = call_service(
            request,
            services.application_member_add,
            form=form,
            actor=user,
            application=application,
            **form.cleaned_data,
        )
        if ok:
            messages.success(request, _("The person is on the application."))
            return redirect("access:application_detail", application.pk)
    return _show(request, application, status=422, member_form=form)


@login_required
@require_POST
def application_member_remove(request, application_id, member_id):
    return _action(
        request,
        application_id,
        services.application_member_remove,
        _("The person is off the application."),
        member_id=member_id,
    )


@login_required
@require_POST
def application_attachment_add(request, application_id):
    user = request.user
    application = selectors.application_get(user, application_id)
    require(user, "application.edit", application)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        ok, _attachment = call_service(
            request,
            services.application_attachment_add,
            form=form,
            actor=user,
            application=application,
            upload=form.cleaned_data["file"],
        )
        if ok:
            messages.success(request, _("The file is attached."))
            return redirect("access:application_detail", application.pk)
    return _show(request, application, status=422, attachment_form=form)


@login_required
@require_http_methods(["GET"])
def application_attachment(request, application_id, attachment_id):
    """Evidence files are served only to those who may see the application."""
    application = selectors.application_get(request.user, application_id)
    attachment = application.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type="application/pdf",
    )


@login_required
@require_POST
def application_eligibility(request, application_id):
    user = request.user
    application = selectors.application_get(user, application_id)
    require(user, "application.manage", application)
    form = EligibilityForm(request.POST)
    if form.is_valid():
        ok, _app = call_service(
            request,
            services.application_eligibility_decide,
            form=form,
            actor=user,
            application=application,
            eligible=form.cleaned_data["eligible"],
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("The eligibility decision is recorded."))
            return redirect("access:application_detail", application.pk)
    return _show(request, application, status=422, eligibility_form=form)


@login_required
@require_POST
def application_revision(request, application_id):
    user = request.user
    application = selectors.application_get(user, application_id)
    require(user, "application.manage", application)
    form = RevisionForm(request.POST)
    if form.is_valid():
        ok, _app = call_service(
            request,
            services.application_request_revision,
            form=form,
            actor=user,
            application=application,
            note=form.cleaned_data["note"],
        )
        if ok:
            messages.success(request, _("The applicant is asked for a revision."))
            return redirect("access:application_detail", application.pk)
    return _show(request, application, status=422, revision_form=form)


@login_required
@require_http_methods(["GET"])
def application_queue(request):
    """Operators: the submitted applications with their clock, the late ones first."""
    user = request.user
    require(user, "application.list_all")
    form = QueueFilterForm(request.GET or None)
    status = overdue = None
    if form.is_valid():
        status, overdue = form.cleaned_data["status"], form.cleaned_data["overdue"]
    apps = selectors.applications_list(user, status=status or "", overdue=bool(overdue))
    if not status:
        apps = [a for a in apps if a.status in selectors.CLOCK_OPEN]
    rows = _rows(apps)
    rows.sort(key=lambda r: (r["clock"].due_at is None, r["clock"].remaining_days))
    ranking_calls = Call.objects.filter(mode__has_cutoffs=True).order_by("code")
    return render(
        request,
        "access/applications_queue.html",
        {"form": form, "rows": rows, "ranking_calls": ranking_calls},
    )
