"""Errors that services raise and every interface (API, pages, CLI) turns into a clear answer."""

from django.core.exceptions import ValidationError


class ServiceError(Exception):
    """A request that is well-formed but cannot be done now (HTTP 409)."""

    status = 409

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(ServiceError):
    """A state machine was asked for a transition its current state does not allow."""


class NotFound(ServiceError):
    status = 404


class NotAllowed(ServiceError):
    """Refused for this person, with a reason they can act on (HTTP 403)."""

    status = 403


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Flatten a Django ValidationError into {field: [messages]}; non-field errors under ``__all__``."""
    if hasattr(exc, "error_dict"):
        return {
            field: [str(m) for e in errs for m in e.messages]
            for field, errs in exc.error_dict.items()
        }
    return {"__all__": [str(m) for m in exc.messages]}
