"""Open standards over the API: the catalogue as DCAT-AP 3 (Turtle, JSON-LD), one dataset as
DCAT-AP, and a dataset version as Croissant. Anyone may call them; a token or the portal session
shows what that person may see besides (their organisations' internal datasets)."""

import json

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Router

from aifactory.core.api import public
from aifactory.core.errors import NotFound

from . import croissant as croissant_lib
from . import dcat
from .datasets_selectors import dataset_get
from .models import Dataset

router = Router(tags=["data standards"])


def _rdf(graph, fmt: str) -> HttpResponse:
    response = HttpResponse(
        dcat.serialize(graph, fmt), content_type=f"{dcat.MEDIA_TYPES[fmt]}; charset=utf-8"
    )
    response["Content-Disposition"] = f'inline; filename="dataset.{fmt}"'
    return response


def _catalog(request, fmt: str) -> StreamingHttpResponse:
    """The whole catalogue, written as it is read (memory stays flat however large it is)."""
    chunks = (text.encode() for text in dcat.catalog_text(request.user, fmt))
    response = StreamingHttpResponse(chunks, content_type=f"{dcat.MEDIA_TYPES[fmt]}; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="catalog.{fmt}"'
    return response


def dataset_visible(user, key: str) -> Dataset:
    """The dataset by short name or id, if the person may see it (404 otherwise, as for one that
    does not exist)."""
    try:
        return dataset_get(user, key)
    except Http404:
        raise NotFound(_("No such dataset.")) from None


@router.get(
    "/dcat/catalog.ttl",
    auth=public,
    summary="The catalogue as DCAT-AP 3 in Turtle (the datasets the caller may see)",
)
def dcat_catalog_ttl(request: HttpRequest):
    return _catalog(request, "ttl")


@router.get(
    "/dcat/catalog.jsonld",
    auth=public,
    summary="The catalogue as DCAT-AP 3 in JSON-LD (the datasets the caller may see)",
)
def dcat_catalog_jsonld(request: HttpRequest):
    return _catalog(request, "jsonld")


@router.get("/datasets/{key}/dcat.ttl", auth=public, summary="One dataset as DCAT-AP 3 (Turtle)")
def dcat_dataset_ttl(request: HttpRequest, key: str):
    return _rdf(dcat.dataset_graph(dataset_visible(request.user, key)), "ttl")


@router.get(
    "/datasets/{key}/dcat.jsonld", auth=public, summary="One dataset as DCAT-AP 3 (JSON-LD)"
)
def dcat_dataset_jsonld(request: HttpRequest, key: str):
    return _rdf(dcat.dataset_graph(dataset_visible(request.user, key)), "jsonld")


@router.get(
    "/datasets/{key}/croissant",
    auth=public,
    summary="A version of the dataset as Croissant 1.0 JSON-LD (the newest unless ?version=N)",
)
def dataset_croissant(request: HttpRequest, key: str, version: int | None = None):
    dataset = dataset_visible(request.user, key)
    found = croissant_lib.version_of(dataset, version)
    if found is None:
        raise NotFound(
            _("This dataset has no version %(n)s.") % {"n": version}
            if version is not None
            else _("This dataset has no data yet.")
        )
    body = json.dumps(croissant_lib.croissant(dataset, found), ensure_ascii=False, indent=1)
    return HttpResponse(body, content_type="application/ld+json; charset=utf-8")
