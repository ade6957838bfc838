"""Datasets under /api/v1: the catalogue's datasets (list, read, create, edit, publish, archive),
their versions, and new versions from files streamed in (multipart), from completed resumable
uploads or from URLs.

Resumable uploads, in the spirit of tus: ``POST /datasets/{id}/uploads`` announces a file (name,
size, optional SHA-256) and answers its id and offset 0; each ``PATCH`` sends raw bytes with an
``Upload-Offset`` header that must equal the offset received so far (409 with the expected offset
otherwise); ``HEAD``/``GET`` answer the offset to resume from; ``DELETE`` gives up. The request
body is read in chunks from the stream, never whole into memory.

Handlers stay thin: the services check and write, the selectors answer 404 for what the person
may not see."""

import json
import uuid

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import ValidationError as PydanticValidationError

from aifactory.core.errors import NotFound

from . import datasets_selectors as selectors
from . import services
from .datasets_schemas import (
    DatasetIn,
    DatasetOut,
    DatasetPatch,
    UploadIn,
    UploadOut,
    VersionJsonIn,
    VersionOut,
)
from .models import Upload
from .services.versions import OffsetMismatch
from .storage import CHUNK

router = Router(tags=["datasets"])

VERSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                        "note": {"type": "string"},
                    },
                    "required": ["files"],
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "uploads": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                        "references": {"type": "array", "items": {"type": "string"}},
                        "note": {"type": "string"},
                    },
                    "additionalProperties": False,
                }
            },
        },
    }
}
RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}
        },
    },
    "parameters": [
        {"name": "Upload-Offset", "in": "header", "required": True, "schema": {"type": "integer"}}
    ],
}


# --- datasets ----------------------------------------------------------------------------------


@router.get("/datasets", response=list[DatasetOut], summary="Datasets I may see, newest first")
@paginate(LimitOffsetPagination, max_limit=500)
def datasets_list(
    request: HttpRequest,
    q: str = "",
    theme: str = "",
    format: str = "",  # noqa: A002 - the query parameter's name
    access_rights: str = "",
    publisher: str = "",
    status: str = "",
):
    qs = selectors.datasets_filter(
        selectors.datasets_visible(request.user),
        q=q,
        theme=theme,
        file_format=format,
        access_rights=access_rights,
        publisher=publisher,
        status=status,
    )
    return qs.order_by("-created_at")


@router.post("/datasets", response={201: DatasetOut}, summary="Create a dataset (a draft)")
def datasets_create(request: HttpRequest, payload: DatasetIn):
    from aifactory.accounts.models import Organisation

    data = payload.dict()
    organisation = Organisation.objects.filter(pk=data.pop("organisation")).first()
    if organisation is None:
        raise ValidationError({"organisation": _("No such organisation.")})
    dataset = services.dataset_create(actor=request.user, organisation=organisation, data=data)
    return Status(201, dataset)


@router.get("/datasets/{key}", response=DatasetOut, summary="One dataset (by id or short name)")
def dataset_read(request: HttpRequest, key: str):
    return selectors.dataset_get(request.user, key)


@router.patch("/datasets/{key}", response=DatasetOut, summary="Change a dataset's metadata")
def dataset_patch(request: HttpRequest, key: str, payload: DatasetPatch):
    dataset = selectors.dataset_get(request.user, key)
    return services.dataset_update(
        actor=request.user, dataset=dataset, data=payload.dict(exclude_unset=True)
    )


@router.post("/datasets/{key}/publish", response=DatasetOut, summary="Publish (data stewards)")
def dataset_publish(request: HttpRequest, key: str):
    dataset = selectors.dataset_get(request.user, key)
    return services.dataset_publish(actor=request.user, dataset=dataset)


@router.post("/datasets/{key}/archive", response=DatasetOut, summary="Archive (data stewards)")
def dataset_archive(request: HttpRequest, key: str):
    dataset = selectors.dataset_get(request.user, key)
    return services.dataset_archive(actor=request.user, dataset=dataset)


# --- versions ----------------------------------------------------------------------------------


@router.get("/datasets/{key}/versions", response=list[VersionOut], summary="A dataset's versions")
def versions_list(request: HttpRequest, key: str):
    dataset = selectors.dataset_get(request.user, key)
    return list(selectors.versions_visible(request.user, dataset))


@router.get(
    "/datasets/{key}/versions/{number}", response=VersionOut, summary="One version with its files"
)
def version_read(request: HttpRequest, key: str, number: int):
    dataset = selectors.dataset_get(request.user, key)
    return selectors.version_get(request.user, dataset, number)


def _json_body(request: HttpRequest) -> VersionJsonIn:
    try:
        raw = json.loads(request.body or b"{}")
    except ValueError:
        raise ValidationError({"__all__": _("The body is not valid JSON.")}) from None
    try:
        return VersionJsonIn.model_validate(raw)
    except PydanticValidationError as exc:
        errors = {}
        for item in exc.errors():
            field = ".".join(str(p) for p in item.get("loc", ())) or "__all__"
            errors.setdefault(field, []).append(item.get("msg", "invalid"))
        raise ValidationError(errors) from None


@router.post(
    "/datasets/{key}/versions",
    response={201: VersionOut, 202: VersionOut},
    summary="Add a version: files (multipart), completed uploads or URLs (JSON)",
    openapi_extra=VERSION_BODY,
)
def versions_create(request: HttpRequest, key: str):
    dataset = selectors.dataset_get(request.user, key)
    if request.content_type == "multipart/form-data":
        files = [
            (upload.name, upload.chunks(CHUNK))
            for _field, uploaded in request.FILES.lists()
            for upload in uploaded
        ]
        if not files:
            raise ValidationError({"files": _("Add at least one file.")})
        version = services.version_create(
            actor=request.user, dataset=dataset, files=files, note=request.POST.get("note", "")
        )
        return Status(201, version)
    if request.content_type != "application/json":
        raise ValidationError(
            {"__all__": _("Send the files as multipart/form-data, or uploads or URLs as JSON.")}
        )
    body = _json_body(request)
    if bool(body.uploads) == bool(body.references):
        raise ValidationError({"__all__": _("Give either uploads or references.")})
    if body.references:
        version = services.version_add_references(
            actor=request.user, dataset=dataset, urls=body.references, note=body.note
        )
        return Status(202, version)
    uploads = list(
        Upload.objects.filter(pk__in=body.uploads, dataset=dataset, created_by=request.user)
    )
    missing = {str(u) for u in body.uploads} - {str(u.pk) for u in uploads}
    if missing:
        raise ValidationError(
            {"uploads": _("No such upload: %(ids)s") % {"ids": ", ".join(sorted(missing))}}
        )
    order = {str(u): n for n, u in enumerate(body.uploads)}
    uploads.sort(key=lambda u: order[str(u.pk)])
    version = services.version_create(
        actor=request.user, dataset=dataset, uploads=uploads, note=body.note
    )
    return Status(201, version)


# --- resumable uploads -------------------------------------------------------------------------


def _upload(request: HttpRequest, key: str, upload_id: str) -> Upload:
    dataset = selectors.dataset_get(request.user, key)
    try:
        upload_uuid = uuid.UUID(str(upload_id))
    except ValueError:
        raise Http404("upload") from None
    upload = Upload.objects.filter(pk=upload_uuid, dataset=dataset, created_by=request.user).first()
    if upload is None:
        raise Http404("upload")
    return upload


def _with_offset(response: HttpResponse, upload: Upload) -> HttpResponse:
    response["Upload-Offset"] = str(upload.received)
    response["Upload-Length"] = str(upload.size)
    response["Cache-Control"] = "no-store"
    return response


@router.post(
    "/datasets/{key}/uploads", response={201: UploadOut}, summary="Start a resumable upload"
)
def upload_start(request: HttpRequest, key: str, payload: UploadIn):
    dataset = selectors.dataset_get(request.user, key)
    upload = services.upload_start(
        actor=request.user,
        dataset=dataset,
        name=payload.name,
        size=payload.size,
        sha256=payload.sha256,
    )
    return Status(201, upload)


@router.api_operation(
    ["GET", "HEAD"],
    "/datasets/{key}/uploads/{upload_id}",
    response=UploadOut,
    summary="Where a resumable upload stands (its offset)",
)
def upload_read(request: HttpRequest, response: HttpResponse, key: str, upload_id: str):
    upload = _upload(request, key, upload_id)
    _with_offset(response, upload)
    return upload


def _body_chunks(request: HttpRequest):
    """The raw request body in chunks, never whole in memory."""
    while chunk := request.read(CHUNK):
        yield chunk


@router.patch(
    "/datasets/{key}/uploads/{upload_id}",
    response=UploadOut,
    summary="Send bytes of a resumable upload at Upload-Offset",
    openapi_extra=RAW_BODY,
)
def upload_append(request: HttpRequest, response: HttpResponse, key: str, upload_id: str):
    from aifactory.api import problem

    upload = _upload(request, key, upload_id)
    offset = request.headers.get("Upload-Offset", "")
    if not offset.isdigit():
        raise ValidationError({"offset": _("Send the Upload-Offset header (a number of bytes).")})
    try:
        upload = services.upload_append(
            actor=request.user, upload=upload, offset=int(offset), chunks=_body_chunks(request)
        )
    except OffsetMismatch as exc:
        answer = problem(request, 409, "Conflict", exc.message, {"offset": [exc.message]})
        answer["Upload-Offset"] = str(exc.expected)
        return answer
    _with_offset(response, upload)
    return upload


@router.delete(
    "/datasets/{key}/uploads/{upload_id}", response={204: None}, summary="Give up an upload"
)
def upload_delete(request: HttpRequest, key: str, upload_id: str):
    upload = _upload(request, key, upload_id)
    try:
        services.upload_abort(actor=request.user, upload=upload)
    except NotFound:
        raise Http404("upload") from None
    return Status(204, None)
