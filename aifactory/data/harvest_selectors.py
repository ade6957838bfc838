"""Reads of harvest sources and their runs: operators only (the rule "harvest.manage")."""

import contextlib
import uuid

from django.db.models import Count, Q
from django.http import Http404
from django.utils.translation import gettext as _

from aifactory.core.permissions import require

from .models import HarvestRun, HarvestSource


def sources_visible(user):
    """Every source with the number of datasets it holds (and of those gone from it)."""
    require(user, "harvest.manage")
    return HarvestSource.objects.select_related("publisher").annotate(
        dataset_count=Count("datasets", filter=Q(datasets__gone_at__isnull=True)),
        gone_count=Count("datasets", filter=Q(datasets__gone_at__isnull=False)),
    )


def source_get(user, key: str) -> HarvestSource:
    """A source by name or id (404 when there is none)."""
    lookup = Q(name=key)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(str(key)))
    source = sources_visible(user).filter(lookup).first()
    if source is None:
        raise Http404(_("No such harvest source."))
    return source


def runs_of(user, source: HarvestSource, limit: int = 100):
    require(user, "harvest.manage", source)
    return HarvestRun.objects.filter(source=source).order_by("-created_at")[:limit]
