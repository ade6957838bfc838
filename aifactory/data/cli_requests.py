"""`aifactory data-requests ...`: access requests, grants and SQL from the server's shell.

``list``, ``grants`` and ``log`` read everything, like the other operator commands. ``approve``,
``refuse`` and ``revoke`` act as the system (a command on the server) unless ``--user`` names the
data steward they act for, whose rights the services then check. ``query`` always runs for the
person named with ``--user``: it reads exactly what they may read, and is logged under their
name. Errors name the option.
"""

import contextlib
import uuid
from datetime import date

from django.core.management.base import CommandError

from aifactory.core.cli import person, service_errors, write_json

from . import services
from .cli_datasets import dataset_named
from .models import AccessLogEntry, AccessRequest, Grant, RequestStatus

OPTIONS = {"expires_at": "--expires", "conditions": "--conditions", "reason": "--reason"}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)

    listing = sub.add_parser("list", help="access requests, newest first")
    listing.add_argument("--status", choices=RequestStatus.values)
    listing.add_argument("--dataset", metavar="SLUG")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")

    approve = sub.add_parser("approve", help="approve a waiting request: a grant")
    approve.add_argument("id", help="the request's id")
    approve.add_argument("--expires", metavar="YYYY-MM-DD", help="default: the days asked for")
    approve.add_argument("--conditions", default="", metavar="TEXT")
    approve.add_argument(
        "--user", metavar="EMAIL", help="the data steward acting (default: system)"
    )

    refuse = sub.add_parser("refuse", help="refuse a waiting request")
    refuse.add_argument("id")
    refuse.add_argument("--reason", required=True, metavar="TEXT")
    refuse.add_argument("--user", metavar="EMAIL")

    grants = sub.add_parser("grants", help="grants, newest first")
    grants.add_argument("--dataset", metavar="SLUG")
    grants.add_argument("--json", action="store_true")

    revoke = sub.add_parser("revoke", help="end a grant now")
    revoke.add_argument("id", help="the grant's id")
    revoke.add_argument("--reason", required=True, metavar="TEXT")
    revoke.add_argument("--user", metavar="EMAIL")

    sub.add_parser("expire", help="record the grants that expired (the worker does this)")

    log = sub.add_parser("log", help="a dataset's access log, newest first")
    log.add_argument("dataset", metavar="SLUG")
    log.add_argument("--limit", type=int, default=100)
    log.add_argument("--json", action="store_true")

    query = sub.add_parser("query", help="read-only SQL over what a person may read")
    query.add_argument("sql", help="one SELECT statement")
    query.add_argument("--user", required=True, metavar="EMAIL", help="whose rights apply")
    query.add_argument("--max-rows", type=int, metavar="N")
    query.add_argument("--json", action="store_true")


def handle(action: str, options: dict) -> None:
    {
        "list": _list,
        "approve": _approve,
        "refuse": _refuse,
        "grants": _grants,
        "revoke": _revoke,
        "expire": _expire,
        "log": _log,
        "query": _query,
    }[action](options)


def _by_id(model, key: str, what: str):
    obj = None
    with contextlib.suppress(ValueError):
        obj = model.objects.filter(pk=uuid.UUID((key or "").strip())).first()
    if obj is None:
        raise CommandError(f"ID: no {what} {key!r}")
    return obj


def request_row(r: AccessRequest) -> dict:
    return {
        "id": str(r.pk),
        "dataset": r.dataset.slug,
        "requester": r.requester.email,
        "organisation": r.organisation.legal_name,
        "project": r.project,
        "purpose": r.purpose,
        "duration_days": r.duration_days,
        "legal_basis": r.legal_basis,
        "status": r.status,
        "reason": r.reason,
        "created_at": r.created_at,
        "decided_at": r.decided_at,
    }


def _list(o: dict) -> None:
    qs = AccessRequest.objects.select_related("dataset", "requester", "organisation")
    if o.get("status"):
        qs = qs.filter(status=o["status"])
    if o.get("dataset"):
        qs = qs.filter(dataset=dataset_named(o["dataset"], "--dataset"))
    if (o.get("limit") or 0) < 1:
        raise CommandError("--limit: give 1 or more")
    rows = [request_row(r) for r in qs.order_by("-created_at")[: o["limit"]]]
    if o.get("json"):
        write_json(o["stdout"], rows)
        return
    if not rows:
        o["stdout"].write("no requests")
    for r in rows:
        o["stdout"].write(
            f"{r['id']}  {r['status']:<9} {r['dataset']:<30} {r['organisation']:<30} "
            f"{r['duration_days']:>4} d  {r['requester']}  {r['project']}"
        )


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"--expires: give a date as YYYY-MM-DD (got {value!r})") from None


def _approve(o: dict) -> None:
    req = _by_id(AccessRequest, o["id"], "request")
    user = person(o.get("user"), required=False)
    with service_errors(OPTIONS, who=user.email if user else "the system"):
        grant = services.request_approve(
            actor=user,
            request=req,
            conditions=o.get("conditions") or "",
            expires_at=_parse_date(o.get("expires")),
        )
    o["stdout"].write(
        f"{req.pk} approved: grant {grant.pk} for {grant.organisation.legal_name} "
        f"until {grant.expires_at:%Y-%m-%d %H:%M}"
    )


def _refuse(o: dict) -> None:
    req = _by_id(AccessRequest, o["id"], "request")
    user = person(o.get("user"), required=False)
    with service_errors(OPTIONS, who=user.email if user else "the system"):
        services.request_refuse(actor=user, request=req, reason=o["reason"])
    o["stdout"].write(f"{req.pk} refused")


def _grants(o: dict) -> None:
    qs = Grant.objects.select_related("dataset", "organisation").order_by("-created_at")
    if o.get("dataset"):
        qs = qs.filter(dataset=dataset_named(o["dataset"], "--dataset"))
    rows = [
        {
            "id": str(g.pk),
            "dataset": g.dataset.slug,
            "organisation": g.organisation.legal_name,
            "expires_at": g.expires_at,
            "revoked_at": g.revoked_at,
            "conditions": g.conditions,
        }
        for g in qs[:1000]
    ]
    if o.get("json"):
        write_json(o["stdout"], rows)
        return
    if not rows:
        o["stdout"].write("no grants")
    for g in rows:
        state = f"revoked {g['revoked_at']:%Y-%m-%d}" if g["revoked_at"] else "until"
        o["stdout"].write(
            f"{g['id']}  {g['dataset']:<30} {g['organisation']:<30} {state} "
            f"{g['expires_at']:%Y-%m-%d %H:%M}"
        )


def _revoke(o: dict) -> None:
    grant = _by_id(Grant, o["id"], "grant")
    user = person(o.get("user"), required=False)
    with service_errors(OPTIONS, who=user.email if user else "the system"):
        services.grant_revoke(actor=user, grant=grant, reason=o["reason"])
    o["stdout"].write(f"grant {grant.pk} revoked")


def _expire(o: dict) -> None:
    o["stdout"].write(f"{services.grants_expire_due()} grant(s) recorded as expired")


def _log(o: dict) -> None:
    qs = AccessLogEntry.objects.filter(dataset=dataset_named(o["dataset"])).select_related(
        "organisation", "version"
    )
    rows = [
        {
            "at": e.created_at,
            "user": e.user_repr,
            "organisation": e.organisation.legal_name if e.organisation_id else None,
            "grant": str(e.grant_id) if e.grant_id else None,
            "action": e.action,
            "version": e.version.number if e.version_id else None,
            "detail": e.detail,
        }
        for e in qs[: max(1, o["limit"])]
    ]
    if o.get("json"):
        write_json(o["stdout"], rows)
        return
    for e in rows:
        o["stdout"].write(
            f"{e['at']:%Y-%m-%d %H:%M:%S}  {e['action']:<8} {e['user']:<30} "
            f"{e['organisation'] or '-':<30} v{e['version'] or '-'}  {e['detail'][:120]}"
        )


def _query(o: dict) -> None:
    user = person(o["user"])
    with service_errors(OPTIONS, who=user.email):
        result = services.query_run(actor=user, sql=o["sql"], max_rows=o.get("max_rows"))
    if o.get("json"):
        write_json(o["stdout"], result)
        return
    w = o["stdout"].write
    w("\t".join(result["columns"]))
    for row in result["rows"]:
        w("\t".join("" if v is None else str(v) for v in row))
    if result["truncated"]:
        o["stderr"].write(result.get("message") or f"(cut off at {len(result['rows'])} rows)")


__all__ = ["add_arguments", "handle", "request_row"]
