"""The advisor app's panels on the dashboard: my support cases, or the inbox's figures for staff."""

from aifactory.core.dashboard import Panel, register
from aifactory.core.permissions import allowed

from .models import CaseStatus
from .selectors import case_counts, cases_visible


def _cases(request):
    user = request.user
    if allowed(user, "case.list_all"):
        return {"staff": True, "counts": case_counts(user)}
    mine = cases_visible(user).filter(organisation__memberships__user=user)
    can_create = user.memberships.exists()
    if not can_create and not mine.exists():
        return None
    cases = list(mine.exclude(status=CaseStatus.CLOSED).order_by("-created_at")[:5])
    return {"staff": False, "cases": cases, "can_create": can_create}


def register_panels() -> None:
    register(Panel("cases", "advisor/_dashboard_cases.html", _cases, 15))
