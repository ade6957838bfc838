"""Harvest sources: registering and changing them, running one now, and the schedule."""

import contextlib
import datetime
import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record

from ...models import HarvestSource, HarvestStatus
from ...storage import get_storage
from .parsing import _max_bytes

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,78}[a-z0-9])?$")


def _organisation(value):
    from aifactory.accounts.models import Organisation

    if isinstance(value, Organisation):
        return value
    organisation = None
    with contextlib.suppress(ValueError, TypeError, ValidationError):
        organisation = Organisation.objects.filter(pk=uuid.UUID(str(value))).first()
    if organisation is None and value:
        organisation = Organisation.objects.filter(legal_name__iexact=str(value).strip()).first()
    if organisation is None:
        raise ValidationError({"publisher": _("No such organisation.")})
    return organisation


def _check_url(url: str) -> str:
    from ...fetch import FetchError, check_reference

    url = (url or "").strip()
    if url.lower().startswith("s3://"):
        raise ValidationError({"url": _("Give an https address of a DCAT-AP document.")})
    try:
        return check_reference(url)
    except FetchError as exc:
        raise ValidationError({"url": str(exc)}) from None


def _clean_source(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    known = {"name", "title", "url", "file", "publisher", "interval_hours", "is_active"}
    unknown = set(data) - known
    if unknown:
        raise ValidationError({f: _("Not a field of a harvest source.") for f in sorted(unknown)})
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "name" in data or creating:
        name = str(data.get("name") or "").strip()
        if not NAME_RE.match(name):
            errors["name"] = _(
                "Use 1 to 80 lower-case letters, digits, - and _ (starting with a letter or digit)."
            )
        clean["name"] = name
    if "title" in data:
        title = str(data.get("title") or "").strip()
        if len(title) > 200:
            errors["title"] = _("At most 200 characters.")
        clean["title"] = title
    if "publisher" in data or creating:
        try:
            clean["publisher"] = _organisation(data.get("publisher"))
        except ValidationError:
            errors["publisher"] = _("No such organisation.")
    if "interval_hours" in data:
        try:
            hours = int(data["interval_hours"])
            if not 1 <= hours <= 24 * 366:
                raise ValueError
            clean["interval_hours"] = hours
        except (TypeError, ValueError):
            errors["interval_hours"] = _("A whole number of hours from 1 to 8784.")
    if "is_active" in data:
        clean["is_active"] = bool(data["is_active"])
    if data.get("url"):
        try:
            clean["url"] = _check_url(str(data["url"]))
        except ValidationError as exc:
            errors["url"] = exc.message_dict["url"][0]
    if data.get("file") is not None:
        clean["file"] = data["file"]
    if data.get("url") and data.get("file") is not None:
        errors["url"] = _("Give an address or a file, not both.")
    elif creating and not data.get("url") and data.get("file") is None:
        errors["url"] = _("Give the address of a DCAT-AP document, or upload the file.")
    if errors:
        raise ValidationError(errors)
    return clean


def _chunks(file) -> Iterable[bytes]:
    """An uploaded file (Django's UploadedFile), bytes, or an iterable of chunks."""
    if isinstance(file, bytes | bytearray):
        yield bytes(file)
    elif hasattr(file, "chunks"):
        yield from file.chunks()
    elif hasattr(file, "read"):
        while chunk := file.read(1024 * 1024):
            yield chunk
    else:
        yield from file


def _store_file(file, name: str) -> str:
    from ...storage import TooLarge

    # No leading dots: a stored file is never hidden nor taken for a temporary one (".part-").
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name or "catalog")[:100].lstrip(".") or "catalog"
    key = f"harvest/{uuid.uuid4()}/{safe}"
    try:
        stored = get_storage().put_stream(key, _chunks(file), max_bytes=_max_bytes())
    except TooLarge as exc:
        raise ValidationError({"file": str(exc)}) from None
    if stored.size == 0:
        get_storage().delete(key)
        raise ValidationError({"file": _("The file is empty.")})
    return key


def _file_name(file) -> str:
    return str(getattr(file, "name", "") or "catalog").replace("\\", "/").rsplit("/", 1)[-1]


def harvest_source_create(*, actor, data: dict[str, Any]) -> HarvestSource:
    """A new source (operators). ``data``: name, publisher (an organisation or its id), url (https)
    or file (an uploaded file, bytes or chunks), and optionally title, interval_hours, is_active."""
    require_actor(actor, "harvest.manage")
    clean = _clean_source(data, creating=True)
    if HarvestSource.objects.filter(name=clean["name"]).exists():
        raise ValidationError({"name": _("A harvest source with this name exists already.")})
    file = clean.pop("file", None)
    file_key = _store_file(file, _file_name(file)) if file is not None else ""
    try:
        with transaction.atomic():
            source = HarvestSource.objects.create(file_key=file_key, **clean)
            audit_record(
                actor=actor,
                action="harvest_source.create",
                obj=source,
                organisation_id=source.publisher_id,
                changes={
                    "url": source.url,
                    "file": bool(file_key),
                    "publisher": str(source.publisher_id),
                    "interval_hours": source.interval_hours,
                },
            )
    except IntegrityError:
        if file_key:
            get_storage().delete(file_key)
        raise ValidationError(
            {"name": _("A harvest source with this name exists already.")}
        ) from None
    except Exception:
        if file_key:
            get_storage().delete(file_key)
        raise
    return source


def harvest_source_update(*, actor, source: HarvestSource, data: dict[str, Any]) -> HarvestSource:
    """Change what ``data`` gives (the same keys as for creating); a new url replaces the file and
    a new file the url. The publisher of the source's datasets changes with the next run."""
    require_actor(actor, "harvest.manage", source)
    clean = _clean_source(data, creating=False)
    if (
        "name" in clean
        and HarvestSource.objects.filter(name=clean["name"]).exclude(pk=source.pk).exists()
    ):
        raise ValidationError({"name": _("A harvest source with this name exists already.")})
    file = clean.pop("file", None)
    new_key = _store_file(file, _file_name(file)) if file is not None else ""
    old_key = ""
    try:
        with transaction.atomic():
            source = HarvestSource.objects.select_for_update().get(pk=source.pk)
            if new_key:
                old_key, clean["file_key"], clean["url"] = source.file_key, new_key, ""
            elif clean.get("url"):
                old_key, clean["file_key"] = source.file_key, ""
            changes = {}
            for field, value in clean.items():
                old = getattr(source, field)
                if old != value:
                    changes[field] = [
                        str(old.pk) if hasattr(old, "pk") else old,
                        str(value.pk) if hasattr(value, "pk") else value,
                    ]
                    setattr(source, field, value)
            if changes:
                source.save()
                audit_record(
                    actor=actor,
                    action="harvest_source.update",
                    obj=source,
                    organisation_id=source.publisher_id,
                    changes=changes,
                )
    except Exception:
        if new_key:
            get_storage().delete(new_key)
        raise
    if old_key and old_key != source.file_key:
        with contextlib.suppress(Exception):
            get_storage().delete(old_key)
    return source


def harvest_source_run(*, actor, source: HarvestSource) -> HarvestSource:
    """Harvest the source now, in the background (operators)."""
    require_actor(actor, "harvest.manage", source)
    from ... import tasks

    audit_record(
        actor=actor,
        action="harvest_source.run",
        obj=source,
        organisation_id=source.publisher_id,
    )
    source_id = str(source.pk)
    transaction.on_commit(lambda: tasks.harvest_source.enqueue(source_id))
    return source


def harvest_due() -> list[str]:
    """Enqueue the active sources whose interval has passed since their last run; each is claimed
    with one conditional update, so two workers never enqueue the same source twice."""
    from ... import tasks

    now = timezone.now()
    queued = []
    for source in HarvestSource.objects.filter(is_active=True):
        last = source.last_run_at
        if last is not None and last > now - datetime.timedelta(hours=source.interval_hours):
            continue
        with transaction.atomic():
            claimed = HarvestSource.objects.filter(pk=source.pk, last_run_at=last).update(
                last_run_at=now, last_status=HarvestStatus.QUEUED
            )
            if claimed:
                source_id = str(source.pk)
                transaction.on_commit(lambda sid=source_id: tasks.harvest_source.enqueue(sid))
                queued.append(source_id)
    return queued
