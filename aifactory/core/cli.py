"""What every `aifactory <command>` shares: service refusals as errors naming the option the
operator typed, the person a command acts for, and JSON output.

A CommandError ends the command with exit code 1 and its message on the standard error.
"""

import contextlib
import json
from collections.abc import Callable, Mapping

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError
from django.core.serializers.json import DjangoJSONEncoder

from .errors import ServiceError, field_errors

__all__ = ["person", "service_errors", "write_json"]


@contextlib.contextmanager
def service_errors(
    options: Mapping[str, str] | Callable[[str], str] | None = None, *, who: str = "this person"
):
    """Turn a service's refusal into a CommandError naming the option (``options`` maps a service
    field to it; a field not mapped is named as it is); a refusal by the permission rules names
    the person the command acts for (``who``)."""
    if callable(options):
        name = options
    else:
        mapping = options or {}

        def name(field: str) -> str:
            return mapping.get(field, field)

    try:
        yield
    except ValidationError as exc:
        raise CommandError(
            "; ".join(
                f"{name(f)}: {' '.join(m)}" if f != "__all__" else " ".join(m)
                for f, m in field_errors(exc).items()
            )
        ) from None
    except ServiceError as exc:
        prefix = f"{name(exc.field)}: " if exc.field else ""
        raise CommandError(prefix + exc.message) from None
    except PermissionDenied as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise CommandError(f"--user: {who} may not do that{detail}") from None


def person(email: str | None, name: str = "--user", *, required: bool = True):
    """The active person with this e-mail address. Without an address, a command that may act as
    the system (``required=False``) gets None: a blank ``--user ""`` never silently becomes the
    system where a person is required."""
    email = (email or "").strip()
    if not email:
        if required:
            raise CommandError(f"{name}: give the person's e-mail address")
        return None
    user = get_user_model().objects.filter(email__iexact=email).first()
    if user is None:
        raise CommandError(f"{name}: no person with the address {email!r}")
    if not user.is_active:
        raise CommandError(f"{name}: {user.email} is deactivated")
    return user


def write_json(stdout, data) -> None:
    """``data`` as indented JSON (dates, decimals and UUIDs as Django writes them)."""
    stdout.write(json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
