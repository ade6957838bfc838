"""Readiness assessments: starting, answering (saved as the person goes), completing.

An assessment is a small state machine: ``draft → completed``. A draft keeps whatever answers it
has, so a person can stop and come back; an organisation has at most one draft at a time, and
"start" on an organisation that has one continues it. Completing scores the answers (see
advisor/readiness.py), asks the catalogue what helps the weakest dimensions, and freezes all of it
in ``result``; a completed assessment is never changed again, so the history stays true. A new
assessment is how an organisation measures its progress.

The catalogue is asked before the transaction, as for support cases, so no database lock is held
while the queries are embedded.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.accounts.models import Organisation
from aifactory.catalog import matching
from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.permissions import require
from aifactory.core.services import audit_record

from .. import readiness
from ..models import Assessment, AssessmentStatus

__all__ = [
    "assessment_start",
    "assessment_answer",
    "assessment_complete",
    "readiness_plan",
]

MATCH_LIMIT = 12
# Offerings scoring under this share of the best one for the same query are left out: they
# share words with the query more than purpose.
RELATIVE_FLOOR = 0.6


def _language(value: str | None, field: str = "language") -> str:
    if value in (None, ""):
        return ""
    if value not in readiness.LANGUAGES:
        raise ValidationError(
            {field: [_("Choose one of: %(codes)s.") % {"codes": ", ".join(readiness.LANGUAGES)}]}
        )
    return value


def _default_language(actor) -> str:
    from django.utils import translation

    preferred = getattr(actor, "preferred_language", "") or translation.get_language()
    return readiness.normalise_language(preferred)


def assessment_start(
    *,
    actor,
    organisation: Organisation,
    language: str = "",
    answers: dict[str, Any] | None = None,
) -> tuple[Assessment, bool]:
    """The organisation's open draft, or a new one: (assessment, created). ``answers``, when
    given, are saved into it in the same transaction, so bad answers leave no empty draft.

    The organisation's row is locked first, so two people pressing "start" at the same moment
    get the same draft instead of two.
    """
    require(actor, "readiness.fill", organisation)
    chosen = _language(language)
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        assessment = (
            Assessment.objects.filter(organisation=organisation, status=AssessmentStatus.DRAFT)
            .order_by("-created_at")
            .first()
        )
        created = assessment is None
        if created:
            assessment = Assessment.objects.create(
                organisation=organisation,
                created_by=actor,
                language=chosen or _default_language(actor),
                version=readiness.CURRENT_VERSION,
                status=AssessmentStatus.DRAFT,
            )
            audit_record(
                actor=actor,
                action="readiness.start",
                obj=assessment,
                changes={"language": assessment.language, "version": assessment.version},
            )
        if answers or (chosen and not created):
            assessment_answer(
                actor=actor, assessment=assessment, answers=answers or {}, language=chosen
            )
    return assessment, created


def _locked_draft(assessment: Assessment) -> Assessment:
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.status != AssessmentStatus.DRAFT:
        raise InvalidTransition(_("This assessment is completed; start a new one to change it."))
    return locked


def assessment_answer(
    *,
    actor,
    assessment: Assessment,
    answers: dict[str, Any] | None = None,
    language: str | None = None,
) -> Assessment:
    """Save some answers of a draft (the others are kept); a None or empty value clears one.

    Any unknown question or option refuses the whole call, naming each, and nothing is saved.
    """
    require(actor, "readiness.fill", assessment)
    q = readiness.questionnaire(assessment.version)
    cleaned = readiness.clean_answers(q, answers if answers is not None else {})
    new_language = _language(language)
    with transaction.atomic():
        locked = _locked_draft(assessment)
        merged = dict(locked.answers or {})
        changes: dict[str, list] = {}
        for question_id, value in cleaned.items():
            old = merged.get(question_id)
            if value is None:
                merged.pop(question_id, None)
            else:
                merged[question_id] = value
            if old != value:
                changes[question_id] = [old, value]
        if new_language and new_language != locked.language:
            changes["language"] = [locked.language, new_language]
            locked.language = new_language
        if changes:
            locked.answers = merged
            locked.save(update_fields=["answers", "language", "updated_at"])
            audit_record(actor=actor, action="readiness.answer", obj=locked, changes=changes)
    assessment.answers, assessment.language = locked.answers, locked.language
    assessment.updated_at = locked.updated_at
    return assessment


def readiness_plan(
    *, q: readiness.Questionnaire, scored: dict[str, Any], organisation, language: str
) -> list[dict[str, Any]]:
    """The action plan of a scored assessment: for each weakest dimension, the next steps of its
    band and the published offerings the catalogue recommends for it (each offering once).

    Offerings are stored with their id, external id and titles in every language they had, so a
    later change to the catalogue does not rewrite the history of a completed assessment.
    """
    levels = {row["key"]: row["level"] for row in scored["dimensions"]}
    sectors = list(organisation.sectors or []) if organisation is not None else []
    used: set[str] = set()
    plan = []
    for key in readiness.weakest(scored["dimensions"]):
        dimension = q.dimension(key)
        level = levels[key]
        text = readiness.query(dimension, level, language)
        found = matching.match(
            text,
            organisation=organisation,
            limit=MATCH_LIMIT,
            facets=readiness.facets(dimension, level, sectors),
        )
        eligible = [m for m in found.matches if m.eligible]
        best = eligible[0].score if eligible else 0.0
        offerings = []
        for m in eligible:
            pk = str(m.offering.pk)
            if pk in used or m.score < best * RELATIVE_FLOOR:
                continue
            used.add(pk)
            offerings.append(
                {
                    "id": pk,
                    "external_id": m.offering.external_id,
                    "type": m.offering.type,
                    "group": m.group,
                    "title": dict(m.offering.title or {}),
                    "url": m.offering.url,
                    "score": m.score,
                    # Why, kept as facts and worded when shown, in the reader's language.
                    "sector": next(
                        (s for s in m.offering.sectors or [] if s in sectors and s != "general"),
                        "",
                    ),
                    "eligible": any(r.kind == "eligibility" for r in m.reasons),
                }
            )
            if len(offerings) == readiness.OFFERINGS_PER_DIMENSION:
                break
        plan.append(
            {
                "dimension": key,
                "level": level,
                "band": readiness.band(level),
                "steps": [s.id for s in dimension.steps[readiness.band(level)]],
                "query": text,
                "offerings": offerings,
            }
        )
    return plan


def assessment_complete(*, actor, assessment: Assessment) -> Assessment:
    """Score a complete draft, build its action plan and freeze both.

    Refused with every unanswered question named (ValidationError, nothing written), and with
    InvalidTransition when it is completed already.
    """
    require(actor, "readiness.fill", assessment)
    if assessment.status != AssessmentStatus.DRAFT:
        raise InvalidTransition(_("This assessment is completed already."))
    q = readiness.questionnaire(assessment.version)
    answers = dict(assessment.answers or {})
    scored = readiness.score(q, answers)
    language = readiness.normalise_language(assessment.language)
    plan = readiness_plan(
        q=q, scored=scored, organisation=assessment.organisation, language=language
    )
    now = timezone.now()
    result = {**scored, "plan": plan, "language": language, "computed_at": now.isoformat()}
    with transaction.atomic():
        locked = _locked_draft(assessment)
        if (locked.answers or {}) != answers:
            raise ServiceError(
                _("The answers changed while the assessment was being completed; try again.")
            )
        locked.status = AssessmentStatus.COMPLETED
        locked.result = result
        locked.overall_level = scored["overall"]["level"]
        locked.completed_at = now
        locked.save(
            update_fields=["status", "result", "overall_level", "completed_at", "updated_at"]
        )
        audit_record(
            actor=actor,
            action="readiness.complete",
            obj=locked,
            changes={
                "status": [AssessmentStatus.DRAFT, AssessmentStatus.COMPLETED],
                "overall_level": scored["overall"]["level"],
                "levels": {row["key"]: row["level"] for row in scored["dimensions"]},
                "recommended": [o["external_id"] for item in plan for o in item["offerings"]],
            },
        )
    for name in ("status", "result", "overall_level", "completed_at", "updated_at"):
        setattr(assessment, name, getattr(locked, name))
    return assessment
