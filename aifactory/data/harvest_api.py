"""Harvest sources under /api/v1/harvest (operators): register a DCAT-AP endpoint, change it, run it
now (in the background) and read its runs. A source from an uploaded file is made in the portal or
with `aifactory harvest add --file`."""

from django.http import HttpRequest
from ninja import Router, Status

from aifactory.core.permissions import require

from . import harvest_selectors as selectors
from . import services
from .harvest_schemas import RunOut, RunQueued, SourceIn, SourceOut, SourcePatch

router = Router(tags=["data harvesting"])


@router.get("/harvest/sources", response=list[SourceOut], summary="Harvest sources (operators)")
def harvest_sources_list(request: HttpRequest):
    return list(selectors.sources_visible(request.user))


@router.post(
    "/harvest/sources", response={201: SourceOut}, summary="Register a harvest source (operators)"
)
def harvest_sources_create(request: HttpRequest, payload: SourceIn):
    require(request.user, "harvest.manage")
    source = services.harvest_source_create(actor=request.user, data=payload.dict())
    return Status(201, selectors.source_get(request.user, str(source.pk)))


@router.get("/harvest/sources/{key}", response=SourceOut, summary="One harvest source")
def harvest_source_read(request: HttpRequest, key: str):
    return selectors.source_get(request.user, key)


@router.patch("/harvest/sources/{key}", response=SourceOut, summary="Change a harvest source")
def harvest_source_update(request: HttpRequest, key: str, payload: SourcePatch):
    source = selectors.source_get(request.user, key)
    data = payload.dict(exclude_unset=True)
    services.harvest_source_update(actor=request.user, source=source, data=data)
    return selectors.source_get(request.user, str(source.pk))


@router.post(
    "/harvest/sources/{key}/run",
    response={202: RunQueued},
    summary="Harvest the source now, in the background",
)
def harvest_source_run(request: HttpRequest, key: str):
    source = selectors.source_get(request.user, key)
    services.harvest_source_run(actor=request.user, source=source)
    return Status(202, {"source": source.name, "queued": True})


@router.get(
    "/harvest/sources/{key}/runs", response=list[RunOut], summary="The source's runs, newest first"
)
def harvest_source_runs(request: HttpRequest, key: str, limit: int = 100):
    source = selectors.source_get(request.user, key)
    return list(selectors.runs_of(request.user, source, max(1, min(limit, 1000))))
