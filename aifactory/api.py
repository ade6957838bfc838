"""The REST API at /api/v1: one NinjaAPI, one router per app, errors as RFC 9457 problem details."""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from aifactory.core.errors import NotAllowed, ServiceError, field_errors
from aifactory.core.middleware import PROBLEM


def require_current_terms(user, *, session=None) -> None:
    """The API serves only people who accepted the current terms of use, as the portal does.

    One indexed lookup per request; the portal's session remembers the answer, as for the pages.
    """
    from django.conf import settings
    from django.urls import reverse

    from aifactory.accounts.services import terms_accepted

    if session is not None and session.get("terms_ok") == settings.TERMS_VERSION:
        return
    known = getattr(user, "current_terms_accepted", None)  # set by token_authenticate
    if not (known if known is not None else terms_accepted(user)):
        raise NotAllowed(
            _("Accept the current terms of use in the portal first: %(url)s")
            % {"url": settings.SITE_URL + reverse("accounts:terms")}
        )


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        from aifactory.accounts.services import token_authenticate

        user = token_authenticate(token)
        if user is not None:
            request.user = user
            request.auth_method = "bearer"
            require_current_terms(user)
        return user


class PortalSession(SessionAuth):
    """The portal's own session; ninja checks its CSRF token on unsafe methods."""

    def authenticate(self, request: HttpRequest, key):
        user = super().authenticate(request, key)
        if user is not None:
            request.auth_method = "session"
            require_current_terms(user, session=request.session)
        return user


def authenticated_by_bearer(request: HttpRequest) -> bool:
    return getattr(request, "auth_method", "") == "bearer"


api = NinjaAPI(
    title="AI Factory Hub API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), PortalSession()],
    docs_url="/docs",
    openapi_url="/openapi.json",
    description="Bearer tokens from the portal (Settings → API tokens) or `aifactory tokens create`. "
    "Errors are application/problem+json with the offending fields under `errors`.",
)


def problem(
    request,
    status: int,
    title: str,
    detail: str = "",
    errors: dict | None = None,
    extra: dict | None = None,
):
    """``extra`` adds members of the problem type's own, e.g. ``records`` for a rejected import."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = PROBLEM
    return response


def _location(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "data")]
    return ".".join(parts) or "__all__"


@api.exception_handler(NinjaValidationError)
def on_schema_error(request, exc: NinjaValidationError):
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        errors.setdefault(_location(item.get("loc", ())), []).append(item.get("msg", "invalid"))
    return problem(request, 422, "Invalid input", _("Some fields are invalid."), errors)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    return problem(request, 422, "Invalid input", _("Some fields are invalid."), field_errors(exc))


@api.exception_handler(ServiceError)
def on_service_error(request, exc: ServiceError):
    errors = {exc.field: [exc.message]} if exc.field else None
    title = {403: "Forbidden", 404: "Not found", 503: "Service unavailable"}.get(
        exc.status, "Conflict"
    )
    return problem(request, exc.status, title, exc.message, errors)


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return problem(request, 403, "Forbidden", _("You may not do this."))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    response = problem(
        request, 401, "Unauthorized", _("Send a valid token as 'Authorization: Bearer <token>'.")
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return problem(request, 404, "Not found", _("No such object."))


@api.exception_handler(ObjectDoesNotExist)
def on_missing(request, exc):
    return problem(request, 404, "Not found", _("No such object."))


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return problem(request, exc.status_code, str(exc) or "Error", str(exc))


def register_routers() -> None:
    from aifactory.access.applications_api import router as applications_router
    from aifactory.access.modes_api import router as modes_router
    from aifactory.access.projects_api import router as projects_router
    from aifactory.access.reviews_api import router as reviews_router
    from aifactory.accounts.api import router as accounts_router
    from aifactory.advisor.api import router as cases_router
    from aifactory.advisor.readiness_api import router as readiness_router
    from aifactory.catalog.api import match_router
    from aifactory.catalog.api import router as catalog_router
    from aifactory.compute.api import router as compute_router
    from aifactory.core.api import router as core_router
    from aifactory.data.datasets_api import router as datasets_router
    from aifactory.data.dcat_api import router as dcat_router
    from aifactory.data.harvest_api import router as harvest_router
    from aifactory.data.requests_api import router as data_requests_router

    api.add_router("/", accounts_router)
    api.add_router("/", core_router)
    api.add_router("/catalog", catalog_router)
    api.add_router("/", match_router)
    api.add_router("/access", modes_router)
    api.add_router("/access", applications_router)
    api.add_router("/access", reviews_router)
    api.add_router("/projects", projects_router)
    api.add_router("/", cases_router)
    api.add_router("/", readiness_router)
    api.add_router("/", compute_router)
    api.add_router("/", datasets_router)
    api.add_router("/", data_requests_router)
    api.add_router("/", dcat_router)
    api.add_router("/", harvest_router)


register_routers()
