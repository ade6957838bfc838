"""Pages of the readiness assessment: start or continue, answer (saved as you go), the result with
its chart and action plan, a printable version, and an organisation's history.

Every form is a plain POST that works without JavaScript; with HTMX the questionnaire saves each
answer as it is chosen. Members of the organisation fill in; advisors, operators and
administrators read. The services check again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.catalog.models import OfferingType
from aifactory.core.forms import call_service
from aifactory.core.htmx import is_htmx, render_fragment
from aifactory.core.permissions import allowed

from . import readiness
from . import readiness_selectors as selectors
from .models import Assessment, AssessmentStatus
from .readiness_chart import assessment_chart
from .readiness_forms import AssessmentForm, StartForm, language_choices
from .services import readiness as services

# --- shared pieces -----------------------------------------------------------------------------


def page_language(request) -> str:
    """The language a result is shown in: ``?lang=`` when it names one of the four, else the
    portal's current language."""
    asked = request.GET.get("lang", "")
    if asked in readiness.LANGUAGES:
        return asked
    return readiness.normalise_language(translation.get_language())


def _previous(user, assessment: Assessment) -> Assessment | None:
    if assessment.status != AssessmentStatus.COMPLETED:
        return None
    previous = selectors.latest_completed(user, assessment.organisation, before=assessment)
    if previous is None or previous.version != assessment.version:
        return None  # levels of another questionnaire version do not compare
    return previous


def result_context(user, assessment: Assessment, language: str, *, id_prefix="readiness") -> dict:
    """What the result page and its printable version show."""
    q = readiness.questionnaire(assessment.version)
    previous = _previous(user, assessment)
    result = readiness.present_result(q, assessment.result, language)
    earlier = {}
    if previous is not None:
        earlier = {row["key"]: row["level"] for row in previous.result["dimensions"]}
    for row in result["dimensions"]:
        row["previous"] = earlier.get(row["key"])
    kinds = dict(OfferingType.choices)
    for item in result["plan"]:
        for offering in item["offerings"]:
            offering["kind"] = kinds.get(offering["type"], offering["type"])
    return {
        "scale": readiness.LEVELS,
        "assessment": assessment,
        "organisation": assessment.organisation,
        "result": result,
        "previous": previous,
        "language": language,
        "chart": assessment_chart(
            assessment, language, previous=previous, id_prefix=f"{id_prefix}-{assessment.pk}"
        ),
        "answers": readiness.present_answers(q, assessment.answers or {}, language),
    }


def _draft_context(assessment: Assessment, form=None, *, can_fill: bool) -> dict:
    q = readiness.questionnaire(assessment.version)
    language = readiness.normalise_language(assessment.language)
    answers = assessment.answers or {}
    if can_fill and form is None:
        form = AssessmentForm(
            initial={**answers, "language": language}, questionnaire=q, language=language
        )
    answered, total = readiness.progress(q, answers)
    missing = []
    if form is not None and form.is_bound:
        missing = [
            {"id": question.id, "number": question.number}
            for question in q.questions
            if question.id in form.errors
        ]
    return {
        "assessment": assessment,
        "organisation": assessment.organisation,
        "form": form,
        "can_fill": can_fill,
        "answered": answered,
        "total": total,
        "missing": missing,
        "language": language,
        "answers": readiness.present_answers(q, answers, language),
    }


# --- lists -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def readiness_index(request):
    """The person's organisations with their latest assessment; for the factory's staff, also
    the most recent assessments of every organisation."""
    user = request.user
    rows = []
    for organisation in selectors.organisations_to_assess(user):
        rows.append(
            {
                "organisation": organisation,
                "latest": selectors.latest_completed(user, organisation),
                "draft": selectors.open_draft(user, organisation),
            }
        )
    staff = allowed(user, "readiness.list_all")
    recent = (
        selectors.assessments_visible(user, status=AssessmentStatus.COMPLETED)[:100]
        if staff
        else []
    )
    return render(
        request,
        "advisor/readiness_index.html",
        {"rows": rows, "staff": staff, "recent": recent},
    )


@login_required
@require_http_methods(["GET"])
def readiness_organisation(request, organisation_id):
    """An organisation's assessments, newest first, with the levels side by side."""
    user = request.user
    organisation = selectors.organisation_for_readiness(user, organisation_id)
    assessments = list(selectors.assessments_visible(user, organisation=organisation))
    language = page_language(request)
    history = []
    for a in assessments:
        if a.status == AssessmentStatus.COMPLETED:
            q = readiness.questionnaire(a.version)
            history.append(
                {"assessment": a, "result": readiness.present_result(q, a.result, language)}
            )
    q = readiness.questionnaire()
    return render(
        request,
        "advisor/readiness_organisation.html",
        {
            "organisation": organisation,
            "assessments": assessments,
            "history": history,
            "dimensions": [readiness.tr(d.name, language) for d in q.dimensions],
            "draft": next((a for a in assessments if a.status == AssessmentStatus.DRAFT), None),
            "can_fill": allowed(user, "readiness.fill", organisation),
            "start_form": StartForm(initial={"language": language}),
        },
    )


# --- filling in --------------------------------------------------------------------------------


@login_required
@require_POST
def readiness_start(request, organisation_id):
    user = request.user
    organisation = selectors.organisation_for_readiness(user, organisation_id)
    form = StartForm(request.POST)
    language = form.cleaned_data.get("language", "") if form.is_valid() else ""
    ok, started = call_service(
        request,
        services.assessment_start,
        actor=user,
        organisation=organisation,
        language=language,
    )
    if not ok:
        return redirect("advisor:readiness_organisation", organisation.pk)
    assessment, created = started
    if not created:
        messages.info(
            request,
            _("You continue the assessment started on %(date)s; your answers are kept.")
            % {"date": formats.date_format(assessment.created_at, "DATE_FORMAT")},
        )
    return redirect("advisor:readiness_detail", assessment.pk)


@login_required
@require_http_methods(["GET"])
def readiness_detail(request, assessment_id):
    """A draft shows the questionnaire (or, to the staff, how far it is); a completed assessment
    shows its result."""
    user = request.user
    assessment = selectors.assessment_get(user, assessment_id)
    if assessment.status == AssessmentStatus.DRAFT:
        context = _draft_context(assessment, can_fill=allowed(user, "readiness.fill", assessment))
        return render(request, "advisor/readiness_form.html", context)
    context = result_context(user, assessment, page_language(request))
    return render(request, "advisor/readiness_result.html", context)


@login_required
@require_POST
def readiness_save(request, assessment_id):
    """Save the answers on the page; with ``action=complete`` also complete the assessment.

    HTMX posts here on every change and gets the progress line back; a plain POST redirects to
    the assessment. A refused completion shows the questionnaire again, each open question
    marked.
    """
    user = request.user
    assessment = selectors.assessment_get(user, assessment_id)
    q = readiness.questionnaire(assessment.version)
    language = readiness.normalise_language(assessment.language)
    form = AssessmentForm(request.POST, questionnaire=q, language=language)
    completing = request.POST.get("action") == "complete"
    saved = False
    if form.is_valid():
        saved, _a = call_service(
            request,
            services.assessment_answer,
            form=form,
            actor=user,
            assessment=assessment,
            answers=form.answers(),
            language=form.cleaned_data.get("language") or None,
        )
    if is_htmx(request) and not completing:
        answered, total = readiness.progress(q, assessment.answers or {})
        return render_fragment(
            request,
            "advisor/_readiness_progress.html",
            {"answered": answered, "total": total, "saved": saved, "assessment": assessment},
            status=200 if saved else 422,
        )
    if saved and completing:
        done, _a = call_service(
            request, services.assessment_complete, form=form, actor=user, assessment=assessment
        )
        if done:
            messages.success(request, _("Your assessment is complete. Here is your result."))
            return redirect("advisor:readiness_detail", assessment.pk)
    if saved and not completing:
        messages.success(
            request, _("Your answers are saved. You can come back and finish at any time.")
        )
        return redirect("advisor:readiness_detail", assessment.pk)
    if assessment.status == AssessmentStatus.COMPLETED:
        return redirect("advisor:readiness_detail", assessment.pk)  # the message says why
    context = _draft_context(assessment, form, can_fill=True)
    return render(request, "advisor/readiness_form.html", context, status=422)


# --- printing and the chart --------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def readiness_print(request, assessment_id):
    """A page made for paper: no navigation, the result (or the questionnaire of a draft, with
    the answers given so far ticked) in the language asked for."""
    user = request.user
    assessment = selectors.assessment_get(user, assessment_id)
    language = page_language(request)
    with translation.override(language):
        if assessment.status == AssessmentStatus.COMPLETED:
            context = result_context(user, assessment, language, id_prefix="print")
        else:
            q = readiness.questionnaire(assessment.version)
            questionnaire = readiness.present_questionnaire(q, language)
            answers = assessment.answers or {}
            for section in questionnaire["dimensions"]:
                for question in section["questions"]:
                    question["chosen"] = answers.get(question["id"])
            context = {
                "assessment": assessment,
                "organisation": assessment.organisation,
                "questionnaire": questionnaire,
                "language": language,
            }
        context["language_choices"] = language_choices()
        response = render(request, "advisor/readiness_print.html", context)
    return response


@login_required
@require_http_methods(["GET"])
def readiness_chart(request, assessment_id):
    """The chart alone, as an SVG file (for documents and slides)."""
    user = request.user
    assessment = selectors.assessment_get(user, assessment_id)
    if assessment.status != AssessmentStatus.COMPLETED:
        return HttpResponse(
            _("The chart exists once the assessment is completed."),
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    language = page_language(request)
    svg = assessment_chart(assessment, language, previous=_previous(user, assessment))
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="readiness-{assessment.pk}.svg"'
    return response
