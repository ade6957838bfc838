"""A completed readiness assessment for the demo carpentry shop, so an advisor opening its case
sees its levels and action plan next to it."""

from django.db import transaction

from aifactory.accounts.models import Organisation, User

from . import readiness
from .models import Assessment
from .services import assessment_complete, assessment_start

OWNER = "owner@carpentry.demo"
ORGANISATION = "Menuiserie Demo Schmit S.à r.l."
# The level chosen in each dimension: a small workshop with ideas but little data or skills yet.
LEVELS = {
    "strategy": 2,
    "data": 2,
    "skills": 1,
    "processes": 3,
    "technology": 3,
    "compliance": 2,
}


def load_demo_readiness() -> str:
    owner = User.objects.filter(email=OWNER, is_demo=True).first()
    organisation = Organisation.objects.filter(legal_name=ORGANISATION, is_demo=True).first()
    if owner is None or organisation is None:
        return "demo readiness: skipped (the demo carpentry shop is missing)"
    if Assessment.objects.filter(organisation=organisation).exists():
        return "demo readiness: there already"
    questionnaire = readiness.questionnaire(readiness.CURRENT_VERSION)
    answers = {}
    for dimension in questionnaire.dimensions:
        level = LEVELS[dimension.key]
        for question in dimension.questions:
            option = min(question.options, key=lambda o: abs(o.level - level))
            answers[question.id] = option.value
    with transaction.atomic():
        assessment, _created = assessment_start(
            actor=owner, organisation=organisation, language="lb", answers=answers
        )
        assessment_complete(actor=owner, assessment=assessment)
    return "demo readiness: 1 completed assessment"
