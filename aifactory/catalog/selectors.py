"""Reads of the catalogue, filtered by what the asking person may see."""

import contextlib
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from aifactory.core.language import ISO_639_1
from aifactory.core.permissions import allowed
from aifactory.core.taxonomy import JourneyStage, Sector

from .formats import offering_record
from .models import Deployment, Offering, OfferingStatus, OfferingType

# List filters: query parameter -> the JSON list field it looks in.
LIST_FILTERS = {
    "sector": "sectors",
    "stage": "stages",
    "language": "languages",
    "deployment": "deployment",
}


def _in_list(field: str, value: str) -> Q:
    """A JSON list holds the value. Our values are plain codes, so a quoted text match is exact
    and works on SQLite as on PostgreSQL (SQLite has no JSON containment lookup)."""
    return Q(**{f"{field}__icontains": f'"{value}"'})


def offerings_visible(
    user, *, status: str = OfferingStatus.PUBLISHED, organisation_id=None
) -> QuerySet[Offering]:
    """Published offerings for everyone; other statuses only of the person's organisations,
    or all of them for the factory's staff."""
    qs = Offering.objects.select_related("provider_organisation").filter(status=status)
    if status != OfferingStatus.PUBLISHED and not allowed(user, "offering.list_all"):
        if not getattr(user, "is_authenticated", False):
            return qs.none()
        qs = qs.filter(provider_organisation__memberships__user=user)
    if organisation_id is not None:
        qs = qs.filter(provider_organisation_id=organisation_id)
    return qs.order_by("external_id")


def offerings_list(
    user,
    *,
    type: str = "",
    sector: str = "",
    stage: str = "",
    language: str = "",
    deployment: str = "",
    status: str = OfferingStatus.PUBLISHED,
    organisation=None,
) -> QuerySet[Offering]:
    """The list behind the API and the CLI; an unknown filter value is an error, not no result."""
    filters = {"sector": sector, "stage": stage, "language": language, "deployment": deployment}
    checks = {
        "type": (type, OfferingType.values),
        "status": (status, OfferingStatus.values),
        "sector": (sector, Sector.values),
        "stage": (stage, JourneyStage.values),
        "language": (language, ISO_639_1),
        "deployment": (deployment, Deployment.values),
    }
    errors = {
        name: [_("Unknown value “%(value)s”.") % {"value": value}]
        for name, (value, known) in checks.items()
        if value and value not in known
    }
    if errors:
        raise ValidationError(errors)
    qs = offerings_visible(user, status=status, organisation_id=organisation)
    if type:
        qs = qs.filter(type=type)
    for name, value in filters.items():
        if value:
            qs = qs.filter(_in_list(LIST_FILTERS[name], value))
    return qs


def offering_get(user, key) -> Offering:
    """By id or external id. One the person may not see answers 404, so ids reveal nothing."""
    lookup = Q(external_id=str(key))
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(str(key)))
    offering = Offering.objects.select_related("provider_organisation").filter(lookup).first()
    if offering is None or not allowed(user, "offering.view", offering):
        raise Http404
    return offering


def catalog_export() -> list[dict[str, Any]]:
    """Every published offering in the import format. Other statuses stay out: an import
    publishes what it reads, so exporting a draft would publish it on the way back."""
    return [offering_record(o) for o in Offering.objects.filter(status=OfferingStatus.PUBLISHED)]
