"""The readiness panel on the dashboard: my organisations' latest levels, or for the factory's
staff how many assessments were completed lately."""

from datetime import timedelta

from django.utils import timezone

from aifactory.core.dashboard import Panel, register
from aifactory.core.permissions import allowed


def _readiness(request):
    from . import readiness_selectors as selectors
    from .models import AssessmentStatus

    user = request.user
    rows = [
        {
            "organisation": organisation,
            "latest": selectors.latest_completed(user, organisation),
            "draft": selectors.open_draft(user, organisation),
        }
        for organisation in selectors.organisations_to_assess(user)[:10]
    ]
    staff = allowed(user, "readiness.list_all")
    if not rows and not staff:
        return None
    completed_recently = 0
    if staff:
        completed_recently = (
            selectors.assessments_visible(user, status=AssessmentStatus.COMPLETED)
            .filter(completed_at__gte=timezone.now() - timedelta(days=30))
            .count()
        )
    return {
        "rows": rows,
        "staff": staff,
        "completed_recently": completed_recently,
        "assessed_any": any(row["latest"] or row["draft"] for row in rows),
    }


def register_panel() -> None:
    register(Panel("readiness", "advisor/_dashboard_readiness.html", _readiness, 25))
