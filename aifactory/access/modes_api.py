"""Access modes, calls and capacity pools under /api/v1/access.

Active modes and open or closed calls are public (a bearer token, when sent, must be valid);
pools are for the staff; operators create and edit all three and open and close calls.
"""

from django.http import HttpRequest
from ninja import Router, Status

from aifactory.core.api import public

from . import modes_selectors as selectors
from .modes_schemas import CallIn, CallOut, ModeIn, ModeOut, PoolIn, PoolOut
from .services import modes as services

router = Router(tags=["access modes and calls"])


def _given(payload) -> dict:
    return payload.dict(exclude_unset=True)


@router.get("/modes", response=list[ModeOut], auth=public, summary="Access modes")
def modes_list(request: HttpRequest):
    return list(selectors.modes_visible(request.user))


@router.get("/modes/{code}", response=ModeOut, auth=public, summary="One access mode")
def modes_read(request: HttpRequest, code: str):
    return selectors.mode_get(request.user, code)


@router.post("/modes", response={201: ModeOut}, summary="Create an access mode (operators)")
def modes_create(request: HttpRequest, payload: ModeIn):
    return Status(201, services.mode_create(actor=request.user, data=_given(payload)))


@router.patch("/modes/{code}", response=ModeOut, summary="Edit an access mode (operators)")
def modes_update(request: HttpRequest, code: str, payload: ModeIn):
    mode = selectors.mode_get(request.user, code)
    return services.mode_update(actor=request.user, mode=mode, data=_given(payload))


@router.get("/calls", response=list[CallOut], auth=public, summary="Calls")
def calls_list(request: HttpRequest, open: bool = False, mode: str = ""):
    """``open=true``: only the calls that take applications now."""
    return list(selectors.calls_visible(request.user, open_only=open, mode=mode))


@router.get("/calls/{code}", response=CallOut, auth=public, summary="One call")
def calls_read(request: HttpRequest, code: str):
    return selectors.call_get(request.user, code)


@router.post("/calls", response={201: CallOut}, summary="Create a call, as a draft (operators)")
def calls_create(request: HttpRequest, payload: CallIn):
    return Status(201, services.call_create(actor=request.user, data=_given(payload)))


@router.patch("/calls/{code}", response=CallOut, summary="Edit a call and its cut-offs")
def calls_update(request: HttpRequest, code: str, payload: CallIn):
    call = selectors.call_get(request.user, code)
    return services.call_update(actor=request.user, call=call, data=_given(payload))


@router.post("/calls/{code}/open", response=CallOut, summary="Open a draft call (operators)")
def calls_open(request: HttpRequest, code: str):
    call = selectors.call_get(request.user, code)
    return services.call_open(actor=request.user, call=call)


@router.post("/calls/{code}/close", response=CallOut, summary="Close an open call (operators)")
def calls_close(request: HttpRequest, code: str):
    call = selectors.call_get(request.user, code)
    return services.call_close(actor=request.user, call=call)


@router.get("/pools", response=list[PoolOut], summary="Capacity pools with their usage (staff)")
def pools_list(request: HttpRequest):
    return list(selectors.pools_visible(request.user))


@router.get("/pools/{code}", response=PoolOut, summary="One capacity pool (staff)")
def pools_read(request: HttpRequest, code: str):
    return selectors.pool_get(request.user, code)


@router.post("/pools", response={201: PoolOut}, summary="Create a capacity pool (operators)")
def pools_create(request: HttpRequest, payload: PoolIn):
    return Status(201, services.pool_create(actor=request.user, data=_given(payload)))


@router.patch("/pools/{code}", response=PoolOut, summary="Edit a capacity pool (operators)")
def pools_update(request: HttpRequest, code: str, payload: PoolIn):
    pool = selectors.pool_get(request.user, code)
    return services.pool_update(actor=request.user, pool=pool, data=_given(payload))
