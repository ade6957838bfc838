"""Readiness assessments under /api/v1/readiness.

The questionnaire is public (anyone may read what is asked); assessments are seen by the members
of their organisation and by advisors, operators and administrators, and filled in only by the
members. Answers are {question id: option value}; texts come in the language asked for with
``?lang=`` (en, de, fr, lb).
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import ConfigDict

from aifactory.accounts.models import Organisation
from aifactory.core.api import public
from aifactory.core.errors import NotFound

from . import readiness
from . import readiness_selectors as selectors
from .models import Assessment, AssessmentStatus
from .readiness_chart import assessment_chart
from .services import readiness as services

router = Router(tags=["readiness"])


class Strict(Schema):
    """Inputs reject unknown keys, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class AssessmentIn(Strict):
    organisation: UUID
    language: str = ""
    # Values are checked by the service, which names the question of each wrong one.
    answers: dict[str, Any] = {}


class AssessmentPatch(Strict):
    answers: dict[str, Any] | None = None
    language: str | None = None


class AssessmentOut(Schema):
    id: UUID
    organisation_id: UUID
    organisation: str
    status: str
    version: int
    language: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    answered: int
    total: int
    answers: dict[str, str]
    overall_level: int | None
    # The levels, the action plan and the recommended offerings, worded in ``?lang=``.
    result: dict[str, Any] | None


class ListFilters(Schema):
    organisation: UUID | None = None
    status: str = ""


def _lang(request: HttpRequest, asked: str) -> str:
    if asked and asked not in readiness.LANGUAGES:
        raise ValidationError(
            {"lang": [_("Choose one of: %(codes)s.") % {"codes": ", ".join(readiness.LANGUAGES)}]}
        )
    return asked or readiness.normalise_language(translation.get_language())


def _out(assessment: Assessment, language: str) -> dict[str, Any]:
    q = readiness.questionnaire(assessment.version)
    answers = assessment.answers or {}
    answered, total = readiness.progress(q, answers)
    return {
        "id": assessment.pk,
        "organisation_id": assessment.organisation_id,
        "organisation": assessment.organisation.legal_name,
        "status": assessment.status,
        "version": assessment.version,
        "language": assessment.language,
        "created_by": assessment.created_by.email if assessment.created_by else None,
        "created_at": assessment.created_at,
        "updated_at": assessment.updated_at,
        "completed_at": assessment.completed_at,
        "answered": answered,
        "total": total,
        "answers": answers,
        "overall_level": assessment.overall_level,
        "result": readiness.present_result(q, assessment.result, language),
    }


@router.get(
    "/readiness/questionnaire",
    auth=public,
    summary="The questionnaire in one language (public)",
)
def readiness_questionnaire(request: HttpRequest, lang: str = "", version: int = 0):
    """Questions by dimension with their options and the level (1–5) each option stands for.
    ``version`` defaults to the current one; assessments say which version they were answered in."""
    language = _lang(request, lang)
    version = version or readiness.CURRENT_VERSION
    if not readiness.known_version(version):
        raise ValidationError(
            {"version": [_("There is no version %(version)s.") % {"version": version}]}
        )
    return readiness.present_questionnaire(readiness.questionnaire(version), language)


@router.get(
    "/readiness/assessments",
    response=list[AssessmentOut],
    summary="Assessments (my organisations'; every one for advisors and operators)",
)
@paginate(LimitOffsetPagination, max_limit=200)
def readiness_list(request: HttpRequest, filters: Query[ListFilters], lang: str = ""):
    language = _lang(request, lang)
    if filters.status and filters.status not in AssessmentStatus.values:
        raise ValidationError(
            {
                "status": [
                    _("Choose one of: %(codes)s.") % {"codes": ", ".join(AssessmentStatus.values)}
                ]
            }
        )
    organisation = None
    if filters.organisation is not None:
        organisation = selectors.organisation_for_readiness(request.user, filters.organisation)
    qs = selectors.assessments_visible(
        request.user, organisation=organisation, status=filters.status
    )
    return [_out(a, language) for a in qs]


@router.post(
    "/readiness/assessments",
    response={200: AssessmentOut, 201: AssessmentOut},
    summary="Start an assessment for my organisation (or continue its open one: 200)",
)
def readiness_create(request: HttpRequest, payload: AssessmentIn, lang: str = ""):
    language = _lang(request, lang)
    organisation = Organisation.objects.filter(pk=payload.organisation).first()
    if organisation is None:
        raise ValidationError({"organisation": [_("No such organisation.")]})
    assessment, created = services.assessment_start(
        actor=request.user,
        organisation=organisation,
        language=payload.language,
        answers=payload.answers,
    )
    return Status(201 if created else 200, _out(assessment, language))


@router.get(
    "/readiness/assessments/{assessment_id}",
    response=AssessmentOut,
    summary="One assessment, with its result once completed",
)
def readiness_read(request: HttpRequest, assessment_id: UUID, lang: str = ""):
    language = _lang(request, lang)
    return _out(selectors.assessment_get(request.user, assessment_id), language)


@router.patch(
    "/readiness/assessments/{assessment_id}",
    response=AssessmentOut,
    summary="Save answers (the others are kept; null clears one) or change the language",
)
def readiness_update(
    request: HttpRequest, assessment_id: UUID, payload: AssessmentPatch, lang: str = ""
):
    language = _lang(request, lang)
    assessment = selectors.assessment_get(request.user, assessment_id)
    services.assessment_answer(
        actor=request.user,
        assessment=assessment,
        answers=payload.answers,
        language=payload.language,
    )
    return _out(assessment, language)


@router.post(
    "/readiness/assessments/{assessment_id}/complete",
    response=AssessmentOut,
    summary="Complete: levels, chart and action plan (every question must be answered)",
)
def readiness_complete(request: HttpRequest, assessment_id: UUID, lang: str = ""):
    language = _lang(request, lang)
    assessment = selectors.assessment_get(request.user, assessment_id)
    services.assessment_complete(actor=request.user, assessment=assessment)
    return _out(assessment, language)


@router.get(
    "/readiness/assessments/{assessment_id}/chart.svg",
    summary="The chart of a completed assessment, as SVG",
    openapi_extra={"responses": {200: {"description": "SVG", "content": {"image/svg+xml": {}}}}},
)
def readiness_chart_svg(request: HttpRequest, assessment_id: UUID, lang: str = ""):
    language = _lang(request, lang)
    assessment = selectors.assessment_get(request.user, assessment_id)
    if assessment.status != AssessmentStatus.COMPLETED:
        raise NotFound(_("The chart exists once the assessment is completed."))
    return HttpResponse(
        assessment_chart(assessment, language), content_type="image/svg+xml; charset=utf-8"
    )
