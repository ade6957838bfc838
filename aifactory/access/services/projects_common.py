"""What the project services share: permission checks with the system actor, field checks that
name the field, project codes and Slurm account names, allocations with their tranches, and the
mail to the PI."""

import contextlib
import secrets
from datetime import date
from decimal import InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from aifactory.core.errors import ServiceError
from aifactory.core.mail import mail_send

from ..models import Allocation, CapacityPool, MemberRole, Project, Resource, TranchePolicy
from .projects_tranches import _number, _store, _write_tranches, tranche_split

SLURM_ACCOUNT_MAX = 30
SUFFIX_LEN = 4
TITLE_MAX = 200
REASON_MAX = 5000
CODE_ATTEMPTS = 50


def _resources(field: str, value: Any, *, required: bool = True) -> dict[str, int | float]:
    """{resource: amount} with known resources and non-negative numbers, naming the field."""
    if not isinstance(value, dict) or (required and not value):
        raise ValidationError({field: _("Give the resources as {resource: amount}.")})
    cleaned = {}
    for key, amount in value.items():
        if key not in Resource.values:
            raise ValidationError(
                {f"{field}.{key}": _("Unknown resource “%(value)s”.") % {"value": key}}
            )
        if isinstance(amount, bool):
            raise ValidationError({f"{field}.{key}": _("Enter a number.")})
        try:
            number = _number(amount)
        except (InvalidOperation, ValueError, TypeError):
            raise ValidationError({f"{field}.{key}": _("Enter a number.")}) from None
        if not number.is_finite() or number < 0:
            raise ValidationError({f"{field}.{key}": _("Enter a number of zero or more.")})
        cleaned[key] = _store(number)
    return cleaned


def _date(field: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value.strip())
    raise ValidationError({field: _("Enter a date as YYYY-MM-DD.")})


def _text(field: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or "\x00" in value or not value.strip():
        raise ValidationError({field: _("This field cannot be empty.")})
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(
            {
                field: _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)}
            }
        )
    return value


def _project_code(title: str) -> str:
    base = slugify(title)[: 60 - SUFFIX_LEN - 1].strip("-") or "project"
    for _attempt in range(CODE_ATTEMPTS):
        code = f"{base}-{secrets.token_hex(SUFFIX_LEN // 2)}"
        if not Project.objects.filter(code=code).exists():
            return code
    raise ServiceError(_("Could not find a free project code; try again."))


def _slurm_account(code: str) -> str:
    """The project code in Slurm's alphabet, at most 30 characters, unique: the suffix is kept
    (the title part is cut), and a clash gets a fresh suffix."""
    clean = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in code.lower())
    head, _sep, suffix = clean.rpartition("_")
    head = head or "p"
    for attempt in range(CODE_ATTEMPTS):
        tail = suffix if attempt == 0 else secrets.token_hex(SUFFIX_LEN // 2)
        name = f"{head[: SLURM_ACCOUNT_MAX - len(tail) - 1].rstrip('_')}_{tail}"
        if not Allocation.objects.filter(slurm_account=name).exists():
            return name
    raise ServiceError(_("Could not find a free Slurm account name; try again."))


def _clean_allocation(data: dict, field: str = "allocation") -> dict:
    if not isinstance(data, dict):
        raise ValidationError({field: _("Give the allocation's resources and dates.")})
    resources = _resources(f"{field}.resources", data.get("resources"))
    start = _date(f"{field}.start", data.get("start"))
    end = _date(f"{field}.end", data.get("end"))
    if end < start:
        raise ValidationError({f"{field}.end": _("The end must not be before the start.")})
    policy = data.get("tranche_policy") or TranchePolicy.NONE
    if policy not in TranchePolicy.values:
        raise ValidationError(
            {f"{field}.tranche_policy": _("Unknown value “%(value)s”.") % {"value": policy}}
        )
    pool = data.get("pool")
    if pool is not None and not isinstance(pool, CapacityPool):
        pool = CapacityPool.objects.filter(code=str(pool)).first()
        if pool is None:
            raise ValidationError({f"{field}.pool": _("No such capacity pool.")})
    cleaned = {"resources": resources, "start": start, "end": end, "tranche_policy": policy}
    for key in ("cluster", "partition"):
        value = data.get(key) or ""
        if not isinstance(value, str) or len(value) > 100:
            raise ValidationError({f"{field}.{key}": _("At most 100 characters.")})
        cleaned[key] = value.strip()
    cleaned["pool"] = pool
    return cleaned


def _create_allocation(project: Project, data: dict, *, external_id: str = "") -> Allocation:
    allocation = Allocation.objects.create(
        project=project,
        pool=data["pool"],
        resources=data["resources"],
        start=data["start"],
        end=data["end"],
        tranche_policy=data["tranche_policy"],
        cluster=data["cluster"],
        partition=data["partition"],
        slurm_account=_slurm_account(project.code),
        external_id=external_id,
    )
    _write_tranches(
        allocation,
        0,
        tranche_split(
            allocation.resources, allocation.start, allocation.end, allocation.tranche_policy
        ),
    )
    return allocation


def _pi(project: Project):
    member = project.members.filter(role=MemberRole.PI).select_related("user").first()
    return member.user if member else None


def _mail_pi(project: Project, subject: str, body: str) -> None:
    pi = _pi(project)
    if pi is not None:
        to = [pi.email]
        transaction.on_commit(lambda: mail_send(subject=subject, body=body, to=to))


def _describe(resources: dict) -> str:
    labels = dict(Resource.choices)
    return ", ".join(f"{labels.get(k, k)}: {v}" for k, v in resources.items())


def _mail_allocation(project: Project, allocation: Allocation) -> None:
    _mail_pi(
        project,
        _("Allocation for project %(code)s") % {"code": project.code},
        _(
            "Project %(code)s (%(title)s) has an allocation from %(start)s to %(end)s: "
            "%(resources)s. Slurm account: %(account)s."
        )
        % {
            "code": project.code,
            "title": project.title,
            "start": allocation.start.isoformat(),
            "end": allocation.end.isoformat(),
            "resources": _describe(allocation.resources),
            "account": allocation.slurm_account,
        },
    )


def _person_by_email(field: str, email: Any):
    if not isinstance(email, str) or not email.strip():
        raise ValidationError({field: _("Enter an e-mail address.")})
    person = get_user_model().objects.filter(email__iexact=email.strip(), is_active=True).first()
    if person is None:
        raise ValidationError(
            {field: _("No one on the hub has the address %(email)s.") % {"email": email.strip()}}
        )
    return person
