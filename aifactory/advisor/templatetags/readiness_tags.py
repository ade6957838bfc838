"""``{% readiness_summary organisation as summary %}``: what advisor/readiness_summary.html shows.

A tag rather than view context, so any page that shows an organisation (a support case, the
organisation's profile) can include the summary without its view knowing about assessments. It
returns None to a person who may not see the organisation's assessments.
"""

from django import template

from aifactory.core.permissions import allowed

from .. import readiness
from .. import readiness_selectors as selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def readiness_summary(context, organisation):
    request = context.get("request")
    user = getattr(request, "user", None)
    if organisation is None or user is None or not allowed(user, "readiness.view", organisation):
        return None
    language = readiness.normalise_language(None)
    latest = selectors.latest_completed(user, organisation)
    draft = selectors.open_draft(user, organisation)
    result = weakest = None
    if latest is not None:
        result = readiness.present_result(
            readiness.questionnaire(latest.version), latest.result, language
        )
        weakest = [item["name"] for item in result["plan"]]
    answered = 0
    if draft is not None:
        answered, _total = readiness.progress(
            readiness.questionnaire(draft.version), draft.answers or {}
        )
    return {
        "assessment": latest,
        "result": result,
        "weakest": weakest,
        "draft": draft,
        "answered": answered,
    }
