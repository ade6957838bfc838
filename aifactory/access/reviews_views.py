"""Pages of reviews and decisions: the reviewer's list and review page (conflict of interest,
then the scores), the operators' technical assessment, reviewer assignment, decision screen and
the ranking of a cut-off. The views only read forms and call services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.core.forms import call_service
from aifactory.core.permissions import allowed, require

from .applications_selectors import application_get
from .applications_views import _show as show_application
from .applications_views import _text
from .models import Call, Outcome, Resource
from .reviews_forms import (
    AssignForm,
    ConflictForm,
    DecisionForm,
    ScoreForm,
    TechnicalForm,
    shown_reviews,
)
from .reviews_selectors import (
    cutoffs_of,
    decision_context,
    ranking,
    review_actions,
    review_get,
    reviews_mine,
)
from .services import decisions
from .services import reviews as services
from .services.reviews import CRITERIA


def _requested(application) -> list[dict]:
    labels = dict(Resource.choices)
    return [
        {"key": key, "label": labels.get(key, key), "amount": amount}
        for key, amount in (application.requested or {}).items()
    ]


# --- the reviewer -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def review_list(request):
    """The peer reviews assigned to me, the open ones first."""
    require(request.user, "review.list_mine")
    return render(request, "access/reviews_list.html", {"reviews": reviews_mine(request.user)})


def _render_review(request, review, status=200, **forms):
    """The review page; a reviewer who is off the application (a declared conflict) sees their
    own declaration only, not the application."""
    user = request.user
    application = review.application
    actions = review_actions(user, review)
    shown = [s for s in shown_reviews(user, application) if s.review.pk != review.pk]
    return render(
        request,
        "access/reviews_detail.html",
        {
            **actions,
            "review": review,
            "application": application,
            "mode_name": _text(application.call.mode.name, application.call.mode.code),
            "requested": _requested(application) if actions["shows_application"] else [],
            "can_view_application": allowed(user, "application.view", application),
            "can_list_mine": allowed(user, "review.list_mine"),
            "conflict_form": forms.get("conflict_form") or ConflictForm(),
            "score_form": forms.get("score_form") or ScoreForm(),
            "shown": shown if actions["shows_application"] else [],
            "own_scores": [(label, review.scores.get(key)) for key, label in CRITERIA.items()],
        },
        status=status,
    )


@login_required
@require_http_methods(["GET"])
def review_detail(request, review_id):
    return _render_review(request, review_get(request.user, review_id))


@login_required
@require_POST
def review_conflict(request, review_id):
    user = request.user
    review = review_get(user, review_id)
    require(user, "review.write", review)
    form = ConflictForm(request.POST)
    if form.is_valid():
        ok, _review = call_service(
            request,
            services.review_declare_conflict,
            form=form,
            actor=user,
            review=review,
            conflict=form.cleaned_data["conflict"],
            note=form.cleaned_data["note"],
        )
        if ok:
            if form.cleaned_data["conflict"]:
                messages.success(request, _("Thank you; the operators will assign someone else."))
            else:
                messages.success(request, _("No conflict declared; you can score now."))
            return redirect("access:review_detail", review.pk)
    review.refresh_from_db()
    return _render_review(request, review, status=422, conflict_form=form)


@login_required
@require_POST
def review_submit(request, review_id):
    user = request.user
    review = review_get(user, review_id)
    require(user, "review.write", review)
    form = ScoreForm(request.POST)
    if form.is_valid():
        ok, _review = call_service(
            request,
            services.peer_review_submit,
            form=form,
            actor=user,
            review=review,
            scores=form.scores(),
            comments=form.cleaned_data["comments"],
        )
        if ok:
            messages.success(request, _("Your review is submitted. Thank you."))
            return redirect("access:review_detail", review.pk)
    review.refresh_from_db()
    return _render_review(request, review, status=422, score_form=form)


# --- the operators ------------------------------------------------------------------------------


@login_required
@require_POST
def review_unassign(request, review_id):
    user = request.user
    review = review_get(user, review_id)
    require(user, "review.assign", review.application)
    ok, _result = call_service(request, services.peer_reviewer_unassign, actor=user, review=review)
    if ok:
        messages.success(
            request, _("%(name)s is off the application.") % {"name": review.reviewer.email}
        )
    return redirect("access:application_detail", review.application_id)


@login_required
@require_POST
def application_technical(request, application_id):
    user = request.user
    application = application_get(user, application_id)
    require(user, "review.assess", application)
    form = TechnicalForm(request.POST)
    if form.is_valid():
        ok, _review = call_service(
            request,
            services.technical_assessment_submit,
            form=form,
            actor=user,
            application=application,
            assessment=form.assessment(),
            recommendation=form.cleaned_data["recommendation"],
            comments=form.cleaned_data["comments"],
        )
        if ok:
            messages.success(request, _("The technical assessment is recorded."))
            return redirect("access:application_detail", application.pk)
    application.refresh_from_db()
    return show_application(request, application, status=422, technical_form=form)


@login_required
@require_POST
def application_reviewer_assign(request, application_id):
    """The reviewer is chosen by e-mail address among the active people on the hub; the service
    refuses one without the reviewer role or with a conflict of interest."""
    user = request.user
    application = application_get(user, application_id)
    require(user, "review.assign", application)
    form = AssignForm(request.POST)
    if form.is_valid():
        ok, reviewer = call_service(
            request, services.reviewer_by_email, form=form, email=form.cleaned_data["reviewer"]
        )
        if ok:
            ok, review = call_service(
                request,
                services.peer_reviewer_assign,
                form=form,
                actor=user,
                application=application,
                reviewer=reviewer,
            )
        if ok:
            messages.success(
                request, _("%(name)s is asked to review.") % {"name": review.reviewer.email}
            )
            return redirect("access:application_detail", application.pk)
    application.refresh_from_db()
    return show_application(request, application, status=422, assign_form=form)


def _render_decide(request, application, form, status=200):
    labels = dict(Resource.choices)
    context = decision_context(application)
    for row in context["resources"]:
        row["label"] = labels.get(row["resource"], row["resource"])
    return render(
        request,
        "access/reviews_decide.html",
        {
            **context,
            "application": application,
            "mode_name": _text(application.call.mode.name, application.call.mode.code),
            "usage_rows": [
                {"label": labels.get(key, key), **values}
                for key, values in context["usage"].items()
            ],
            "form": form,
            "open": application.status in decisions.DECIDABLE,
            "shown": shown_reviews(request.user, application),
            "score_rows": [
                (label, (context["score"] or {}).get(key)) for key, label in CRITERIA.items()
            ],
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def application_decide(request, application_id):
    """GET: the decision screen, with what is left in the pool; POST: the decision."""
    user = request.user
    application = application_get(user, application_id)
    require(user, "application.decide", application)
    requested = application.requested or {}
    if request.method == "GET":
        return _render_decide(request, application, DecisionForm(requested=requested))
    form = DecisionForm(request.POST, requested=requested)
    if form.is_valid():
        ok, decision = call_service(
            request,
            decisions.application_decide,
            form=form,
            actor=user,
            application=application,
            outcome=form.cleaned_data["outcome"],
            granted=form.granted(),
            reason=form.cleaned_data["reason"],
            cluster=form.cleaned_data["cluster"] or None,
            partition=form.cleaned_data["partition"] or None,
        )
        if ok:
            project = getattr(decision.application, "project", None)
            if decision.outcome == Outcome.REJECTED or project is None:
                messages.success(request, _("The application is rejected."))
            else:
                messages.success(
                    request,
                    _("The application is accepted; project %(code)s is open.")
                    % {"code": project.code},
                )
            return redirect("access:application_detail", application.pk)
    application.refresh_from_db()
    return _render_decide(request, application, form, status=422)


@login_required
@require_http_methods(["GET"])
def call_ranking(request, code):
    """The applications of one cut-off by peer score, with the running total of GPU hours
    against what the pool has left; an unknown cut-off is named (422)."""
    require(request.user, "application.rank")
    call = get_object_or_404(Call.objects.select_related("mode__pool"), code=code)
    error, status = "", 200
    try:
        result = ranking(call, request.GET.get("cutoff", ""))
    except ValidationError as exc:
        error, status = " ".join(exc.message_dict.get("cutoff", exc.messages)), 422
        result = {"cutoff": None, "cutoffs": cutoffs_of(call), "gpu_hours_left": None, "rows": []}
    for row in result["rows"]:
        row["criteria"] = [(row["score"] or {}).get(key) for key in CRITERIA]
    return render(
        request,
        "access/reviews_ranking.html",
        {
            "call": call,
            "call_title": _text(call.title, call.code),
            "cutoffs": result["cutoffs"],
            "cutoff": result["cutoff"],
            "error": error,
            "rows": result["rows"],
            "criteria": CRITERIA,
            "gpu_left": result["gpu_hours_left"],
        },
        status=status,
    )
