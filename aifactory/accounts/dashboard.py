"""The accounts app's panels on the dashboard."""

from aifactory.core.dashboard import Panel, register
from aifactory.core.roles import OrgRole

from .selectors import invitations_addressed_to, organisations_visible


def _invitations(request):
    invitations = list(invitations_addressed_to(request.user))
    return {"invitations": invitations} if invitations else None


def _organisations(request):
    user = request.user
    rows = [
        {"organisation": o, "role": OrgRole(o.my_role).label} for o in organisations_visible(user)
    ]
    return {"rows": rows}


def _shortcuts(request):
    return {}


def register_panels() -> None:
    register(Panel("invitations", "accounts/_dashboard_invitations.html", _invitations, 10, True))
    register(Panel("organisations", "accounts/_dashboard_organisations.html", _organisations, 20))
    register(Panel("shortcuts", "accounts/_dashboard_shortcuts.html", _shortcuts, 90))
