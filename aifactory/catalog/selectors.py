"""Reads of the catalogue, filtered by what the asking person may see."""

import contextlib
import threading
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from aifactory.accounts.models import Organisation
from aifactory.core.language import ISO_639_1, TEXT_LANGUAGES
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


# --- the portal's browse page and provider pages ----------------------------------------------

FACETS = ("type", *LIST_FILTERS)


def _facet_values(row: dict[str, Any], name: str) -> frozenset[str]:
    """An offering's values of a facet. Its languages are those it works in and those its
    texts are written in, as the matchmaking's facet has them."""
    if name == "type":
        return frozenset([row["type"]])
    values = set(row[LIST_FILTERS[name]] or [])
    if name == "language":
        values |= {lang for lang in TEXT_LANGUAGES if row[f"text_{lang}"]}
    return frozenset(values)


_facet_cache: dict[str, Any] = {"key": None, "rows": ()}
_facet_lock = threading.Lock()


def _facet_rows() -> tuple[tuple[frozenset[str], ...], ...]:
    """Every published offering's facet values, in the order of FACETS.

    Kept per process while no offering changes: every change goes through a service that saves
    the offering, which moves its ``updated_at`` (and a deletion the count), so one small
    aggregate query tells whether the copy is current; reading and decoding the JSON lists of
    ten thousand offerings on every page would cost far more."""
    state = Offering.objects.aggregate(count=Count("pk"), last=Max("updated_at"))
    key = (state["count"], state["last"])
    with _facet_lock:
        if _facet_cache["key"] == key:
            return _facet_cache["rows"]
    # Whether a text exists in each language, asked of the database: the texts stay there.
    written = {
        f"text_{lang}": ExpressionWrapper(
            Q(title__has_key=lang) | Q(description__has_key=lang), output_field=BooleanField()
        )
        for lang in TEXT_LANGUAGES
    }
    rows = tuple(
        tuple(_facet_values(row, name) for name in FACETS)
        for row in Offering.objects.filter(status=OfferingStatus.PUBLISHED)
        .annotate(**written)
        .values("type", *LIST_FILTERS.values(), *written)
    )
    with _facet_lock:
        _facet_cache.update(key=key, rows=rows)
    return rows


def offerings_faceted(facets: dict[str, list[str]]) -> QuerySet[Offering]:
    """Published offerings with any of the chosen values of each facet, and all facets at once.

    The values were checked by the page's form; an unknown one simply matches nothing."""
    qs = Offering.objects.select_related("provider_organisation").filter(
        status=OfferingStatus.PUBLISHED
    )
    for name, values in facets.items():
        if not values:
            continue
        if name == "type":
            qs = qs.filter(type__in=values)
            continue
        any_of = Q()
        for value in values:
            any_of |= _in_list(LIST_FILTERS[name], value)
            if name == "language":
                any_of |= Q(title__has_key=value) | Q(description__has_key=value)
        qs = qs.filter(any_of)
    return qs.order_by("-created_at", "external_id")


def offering_facet_counts(facets: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """For each facet and value, how many published offerings have it with the *other* facets
    applied, so a count tells what ticking the value would give; every value that any published
    offering has is listed, with 0 where the other facets leave none. Counted in Python: JSON
    lists cannot be grouped by in SQLite."""
    chosen = [frozenset(facets.get(name) or ()) for name in FACETS]
    counts: list[dict[str, int]] = [{} for _name in FACETS]
    for row in _facet_rows():
        failing = [i for i, wanted in enumerate(chosen) if wanted and not wanted & row[i]]
        for i, values in enumerate(row):
            # Counted where every other facet lets the offering through.
            counted = not failing or failing == [i]
            for value in values:
                counts[i][value] = counts[i].get(value, 0) + counted
    return dict(zip(FACETS, counts, strict=True))


def provider_organisations(user) -> list[Organisation]:
    """The person's organisations for which they may list offerings (as manager or owner)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [
        org
        for org in Organisation.objects.filter(memberships__user=user).order_by("legal_name")
        if allowed(user, "offering.create", org)
    ]


def offerings_managed(user) -> QuerySet[Offering]:
    """Every listing, in any status, of the organisations where the person may list offerings
    (managers and owners); for operators also the factory's own unpublished listings (no
    organisation), which would otherwise appear on no page."""
    if not getattr(user, "is_authenticated", False):
        return Offering.objects.none()
    scope = Q(provider_organisation__in=[org.pk for org in provider_organisations(user)])
    if allowed(user, "offering.moderate"):
        scope |= Q(provider_organisation__isnull=True) & ~Q(status=OfferingStatus.PUBLISHED)
    return (
        Offering.objects.select_related("provider_organisation")
        .filter(scope)
        .order_by("-updated_at", "external_id")
    )


def organisation_for_match(user, organisation_id):
    """The organisation whose profile a match may use: one the person may see, else 403."""
    if organisation_id is None:
        return None
    from django.core.exceptions import PermissionDenied

    from aifactory.accounts.models import Organisation

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None or not allowed(user, "organisation.view", organisation):
        raise PermissionDenied("organisation.view")
    return organisation
