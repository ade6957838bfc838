from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, WorkerHeartbeat
from .permissions import require

NUL_MESSAGE = _("Remove the invisible NUL character from this text.")


def audit_events(
    user,
    *,
    action: str = "",
    object_type: str = "",
    actor: str = "",
    organisation_id=None,
    since=None,
    until=None,
) -> QuerySet[AuditEvent]:
    require(user, "audit.view")
    texts = {"action": action, "object_type": object_type, "actor": actor}
    # PostgreSQL cannot compare text that holds a NUL character; say so instead of failing.
    nul = {name: [NUL_MESSAGE] for name, value in texts.items() if value and "\x00" in value}
    if nul:
        raise ValidationError(nul)
    qs = AuditEvent.objects.all()
    if action:
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if actor:
        qs = qs.filter(actor_repr__icontains=actor)
    if organisation_id:
        qs = qs.filter(organisation_id=organisation_id)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs


def worker_last_seen():
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    return beat.seen_at if beat else None


def worker_alive() -> bool:
    seen = worker_last_seen()
    return seen is not None and timezone.now() - seen < timedelta(
        seconds=settings.WORKER_STALE_SECONDS
    )
