from typing import Any

from django.db import models

from .models import AuditEvent


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    organisation_id=None,
) -> AuditEvent:
    """Record who did what to which object; called inside the service's transaction."""
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    if organisation_id is None and obj is not None:
        organisation_id = getattr(obj, "organisation_id", None)
        if organisation_id is None and obj._meta.label_lower == "accounts.organisation":
            organisation_id = obj.pk
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_repr=(actor_obj.email if actor_obj else "system")[:254],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        organisation_id=organisation_id,
        changes=_jsonable(changes or {}),
    )


def diff_fields(instance: models.Model, data: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the given fields on the instance and return {field: [old, new]} for those that changed."""
    changed = {}
    for field, new in data.items():
        old = getattr(instance, field)
        if old != new:
            changed[field] = [old, new]
            setattr(instance, field, new)
    return changed


def worker_heartbeat(*, worker_id: str, hostname: str, pid: int, started_at) -> None:
    from django.utils import timezone

    from .models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": hostname,
            "pid": pid,
            "started_at": started_at,
            "seen_at": timezone.now(),
        },
    )
