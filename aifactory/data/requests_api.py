"""Access to data under /api/v1: access requests and their decisions, grants, the access log,
file downloads and previews, and read-only SQL.

``{key}`` of a dataset is its slug or id. Downloads and previews of open data need no token; a
token, when sent, must be valid. Whatever a person may not see answers 404."""

from urllib.parse import quote

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import LimitOffsetPagination, paginate

from aifactory.core.api import public

from . import requests_selectors as selectors
from . import services
from .models import AccessAction, RequestStatus
from .requests_schemas import (
    ApproveIn,
    GrantOut,
    LogEntryOut,
    PreviewOut,
    QueryIn,
    QueryOut,
    ReasonIn,
    RequestIn,
    RequestOut,
)

router = Router(tags=["data access"])


def _choice(field: str, value: str, values) -> str:
    if value and value not in values:
        raise ValidationError(
            {field: _("Choose one of: %(values)s.") % {"values": ", ".join(values)}}
        )
    return value


@router.post(
    "/datasets/{key}/requests",
    response={201: RequestOut},
    summary="Ask for access to a restricted dataset",
)
def data_request_create(request: HttpRequest, key: str, payload: RequestIn):
    dataset = selectors.dataset_get(request.user, key)
    membership = request.user.memberships.filter(organisation_id=payload.organisation).first()
    if membership is None:
        raise ValidationError({"organisation": _("Choose an organisation you are a member of.")})
    data = payload.dict(exclude={"organisation"})
    req = services.request_create(
        actor=request.user, dataset=dataset, organisation=membership.organisation, **data
    )
    return Status(201, selectors.request_get(request.user, req.pk))


@router.get(
    "/data-requests",
    response=list[RequestOut],
    summary="My access requests, and those I decide as a data steward",
)
@paginate(LimitOffsetPagination, max_limit=500)
def data_requests_list(request: HttpRequest, status: str = "", scope: str = ""):
    """``scope``: ``mine`` or ``decide`` (default: both); ``status``: pending, approved..."""
    _choice("status", status, RequestStatus.values)
    _choice("scope", scope, ["mine", "decide"])
    return selectors.requests_list(request.user, status=status, scope=scope)


@router.get("/data-requests/{pk}", response=RequestOut, summary="One access request")
def data_request_read(request: HttpRequest, pk: str):
    return selectors.request_get(request.user, pk)


@router.post(
    "/data-requests/{pk}/approve",
    response=RequestOut,
    summary="Approve (data stewards): a grant with conditions and an expiry",
)
def data_request_approve(request: HttpRequest, pk: str, payload: ApproveIn):
    """``expires_at``: a date or a time, at most the duration asked for (default)."""
    req = selectors.request_get(request.user, pk)
    services.request_approve(actor=request.user, request=req, **payload.dict())
    return selectors.request_get(request.user, pk)


@router.post(
    "/data-requests/{pk}/refuse", response=RequestOut, summary="Refuse with a reason (stewards)"
)
def data_request_refuse(request: HttpRequest, pk: str, payload: ReasonIn):
    req = selectors.request_get(request.user, pk)
    services.request_refuse(actor=request.user, request=req, reason=payload.reason)
    return selectors.request_get(request.user, pk)


@router.post(
    "/data-requests/{pk}/withdraw", response=RequestOut, summary="Withdraw a waiting request"
)
def data_request_withdraw(request: HttpRequest, pk: str):
    req = selectors.request_get(request.user, pk)
    services.request_withdraw(actor=request.user, request=req)
    return selectors.request_get(request.user, pk)


@router.get(
    "/datasets/{key}/grants", response=list[GrantOut], summary="A dataset's grants (stewards)"
)
def dataset_grants(request: HttpRequest, key: str):
    return list(selectors.grants_of(request.user, selectors.dataset_get(request.user, key)))


@router.post("/grants/{pk}/revoke", response=GrantOut, summary="Revoke a grant (stewards)")
def grant_revoke(request: HttpRequest, pk: str, payload: ReasonIn):
    grant = selectors.grant_get(request.user, pk)
    services.grant_revoke(actor=request.user, grant=grant, reason=payload.reason)
    return selectors.grant_get(request.user, pk)


@router.get(
    "/datasets/{key}/access-log",
    response=list[LogEntryOut],
    summary="Every read of a dataset's data, newest first (stewards)",
)
@paginate(LimitOffsetPagination, max_limit=1000)
def dataset_access_log(request: HttpRequest, key: str, action: str = ""):
    _choice("action", action, AccessAction.values)
    dataset = selectors.dataset_get(request.user, key)
    return selectors.access_log(request.user, dataset, action=action)


@router.get(
    "/datasets/{key}/versions/{number}/files/{name}",
    auth=public,
    summary="Download a file (streamed); logged",
)
def file_download(request: HttpRequest, key: str, number: int, name: str):
    distribution = selectors.distribution_get(request.user, key, number, name)
    stream, filename, media_type = services.distribution_download(
        actor=request.user, distribution=distribution
    )
    response = FileResponse(stream, content_type=media_type, as_attachment=True, filename=filename)
    if not filename.isascii():
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


@router.get(
    "/datasets/{key}/versions/{number}/files/{name}/preview",
    auth=public,
    response=PreviewOut,
    summary="The first rows of a tabular file; logged",
)
def file_preview(request: HttpRequest, key: str, number: int, name: str, rows: int = 50):
    distribution = selectors.distribution_get(request.user, key, number, name)
    return services.distribution_preview(actor=request.user, distribution=distribution, rows=rows)


@router.post(
    "/query",
    response=QueryOut,
    summary="Read-only SQL over the datasets I may read (one SELECT; row and time limits)",
)
def data_query(request: HttpRequest, payload: QueryIn):
    """Tables are named by the dataset's slug with underscores (``energy_use``); a version with
    several tabular files gives ``<slug>__<file name>``. The newest version is read."""
    return services.query_run(actor=request.user, sql=payload.sql, max_rows=payload.max_rows)
