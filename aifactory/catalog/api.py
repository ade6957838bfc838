"""The catalogue under /api/v1/catalog. Reading published offerings needs no account."""

import json
from pathlib import Path
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from aifactory.core.api import public

from . import selectors, services
from .formats import ImportRejected
from .models import OfferingStatus
from .schemas import ImportOut, MatchIn, MatchOut, OfferingIn, OfferingOut, OfferingPatch, ReasonIn

router = Router(tags=["catalog"])
match_router = Router(tags=["matchmaking"])
SCHEMA_FILE = Path(__file__).with_name("offerings.schema.json")


class OfferingFilters(Schema):
    type: str = ""
    sector: str = ""
    stage: str = ""
    language: str = ""
    deployment: str = ""
    status: str = OfferingStatus.PUBLISHED
    organisation: UUID | None = None


@router.get(
    "/offerings",
    response=list[OfferingOut],
    auth=public,
    summary="Offerings (published ones for anyone; drafts of my organisations)",
)
@paginate(LimitOffsetPagination, max_limit=500)
def offerings_list(request: HttpRequest, filters: Query[OfferingFilters]):
    return selectors.offerings_list(request.user, **filters.dict())


@router.get("/offerings/{key}", response=OfferingOut, auth=public, summary="One offering")
def offerings_read(request: HttpRequest, key: str):
    """``key`` is the offering's id or its external id."""
    return selectors.offering_get(request.user, key)


@router.post("/offerings", response={201: OfferingOut}, summary="Propose an offering (a draft)")
def offerings_create(request: HttpRequest, payload: OfferingIn):
    return Status(201, services.offering_create(actor=request.user, data=payload.dict()))


@router.patch("/offerings/{key}", response=OfferingOut, summary="Edit an offering")
def offerings_update(request: HttpRequest, key: str, payload: OfferingPatch):
    offering = selectors.offering_get(request.user, key)
    data = payload.dict(exclude_unset=True)
    return services.offering_update(actor=request.user, offering=offering, data=data)


@router.post("/offerings/{key}/submit", response=OfferingOut, summary="Submit for review")
def offerings_submit(request: HttpRequest, key: str):
    offering = selectors.offering_get(request.user, key)
    return services.offering_submit(actor=request.user, offering=offering)


@router.post("/offerings/{key}/approve", response=OfferingOut, summary="Publish (operators)")
def offerings_approve(request: HttpRequest, key: str):
    offering = selectors.offering_get(request.user, key)
    return services.offering_approve(actor=request.user, offering=offering)


@router.post("/offerings/{key}/reject", response=OfferingOut, summary="Back to draft with a reason")
def offerings_reject(request: HttpRequest, key: str, payload: ReasonIn):
    offering = selectors.offering_get(request.user, key)
    return services.offering_reject(actor=request.user, offering=offering, reason=payload.reason)


@router.post("/offerings/{key}/archive", response=OfferingOut, summary="Withdraw")
def offerings_archive(request: HttpRequest, key: str):
    offering = selectors.offering_get(request.user, key)
    return services.offering_archive(actor=request.user, offering=offering)


@router.post("/offerings/{key}/restore", response=OfferingOut, summary="Back to draft to revise")
def offerings_restore(request: HttpRequest, key: str):
    offering = selectors.offering_get(request.user, key)
    return services.offering_restore(actor=request.user, offering=offering)


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "Each record as in GET /api/v1/catalog/schema.",
                }
            }
        },
    }
}


@router.post(
    "/import",
    response=ImportOut,
    summary="Create or update offerings from a JSON array, all or nothing (operators)",
    openapi_extra=IMPORT_BODY,
)
def catalog_import(request: HttpRequest):
    """The body is the array itself (see GET /catalog/schema). A bad record rejects the whole
    request with 422 and every error under ``records``: index (from 0), id, field, message."""
    from aifactory.api import problem

    try:
        records = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        return problem(request, 400, "Bad request", f"The body is not valid JSON: {exc}")
    try:
        return services.catalog_import(actor=request.user, records=records)
    except ImportRejected as exc:
        return problem(
            request,
            422,
            "Invalid import",
            f"{len(exc.errors)} error(s); nothing was imported.",
            errors=exc.message_dict,
            extra={"records": [e.as_dict() for e in exc.errors]},
        )


@router.get("/export", auth=public, summary="Every published offering, in the import format")
def catalog_export(request: HttpRequest):
    return selectors.catalog_export()


@router.get("/schema", auth=public, summary="The JSON Schema of one record of the import format")
def catalog_schema(request: HttpRequest):
    return json.loads(SCHEMA_FILE.read_text())


@match_router.post(
    "/match", response=MatchOut, auth=public, summary="Offerings for a need, ranked and explained"
)
def match(request: HttpRequest, payload: MatchIn):
    """``text`` in English, German, French or Luxembourgish (at most 5,000 characters).
    ``organisation`` (one of mine) adds its sector, kind, size and country — or give ``kind``,
    ``size`` and ``country`` directly: funding and services it is not eligible for come last,
    marked, with the reason."""
    from .matching import Profile
    from .matching import match as run_match

    organisation = selectors.organisation_for_match(request.user, payload.organisation)
    result = run_match(
        payload.text,
        user=request.user,
        organisation=organisation,
        sector=payload.sector,
        limit=payload.limit,
        facets=payload.facets,
        profile=Profile(kind=payload.kind, size=payload.size, country=payload.country.upper()),
    )
    return result.as_dict()
