from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema

from . import selectors

router = Router(tags=["audit"])


def public(request: HttpRequest):
    """API auth for endpoints anyone may call: a bearer token, when sent, must be valid and
    names the person; the portal's session user is on ``request.user`` already."""
    from ninja.errors import AuthenticationError

    from aifactory.api import BearerToken

    if request.headers.get("Authorization") and BearerToken()(request) is None:
        raise AuthenticationError()
    return True


class AuditEventOut(Schema):
    id: int
    created_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    organisation_id: UUID | None
    changes: dict[str, Any]

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_repr


@router.get("/audit", response=list[AuditEventOut], summary="The audit log (operators)")
def audit_list(
    request: HttpRequest,
    action: str = "",
    object_type: str = "",
    actor: str = "",
    organisation_id: UUID | None = None,
    limit: int = 100,
):
    limit = max(1, min(limit, 1000))
    return list(
        selectors.audit_events(
            request.user,
            action=action,
            object_type=object_type,
            actor=actor,
            organisation_id=organisation_id,
        )[:limit]
    )
