"""`aifactory access applications [--status S] [--json]` and `aifactory access overdue [--json]`:
the operators' view of the applications and of the service-time targets, from the server.

Plugs into the `access` command (see management/commands/access.py for the contract).
"""

import json

from django.utils import timezone

from .applications_selectors import CLOCK_OPEN, application_clock
from .models import Application, ApplicationStatus


def add_subcommands(subparsers) -> None:
    apps = subparsers.add_parser("applications", help="list the compute applications")
    apps.add_argument(
        "--status", default="", choices=["", *ApplicationStatus.values], help="only this status"
    )
    apps.add_argument("--json", action="store_true", help="as JSON")
    overdue = subparsers.add_parser(
        "overdue", help="open applications near or past their decision target (working days)"
    )
    overdue.add_argument("--json", action="store_true", help="as JSON")


def _row(application: Application, now) -> dict:
    clock = application_clock(application, now)
    return {
        "reference": application.reference,
        "title": application.title,
        "organisation": application.organisation.legal_name,
        "mode": application.call.mode.code,
        "status": application.status,
        "submitted_at": application.submitted_at.isoformat() if application.submitted_at else None,
        "clock": {
            "state": clock.state,
            "elapsed_days": clock.elapsed_days,
            "target_days": clock.target_days,
            "paused_days": clock.paused_days,
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
        },
    }


def _rows(*, status: str = "", overdue: bool = False) -> list[dict]:
    now = timezone.now()
    qs = Application.objects.select_related("call__mode", "organisation").prefetch_related("events")
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(status__in=CLOCK_OPEN)
    rows = [_row(a, now) for a in qs.order_by("created_at")]
    if overdue:
        rows = [r for r in rows if r["clock"]["state"] in ("near", "overdue")]
        rows.sort(key=lambda r: r["clock"]["target_days"] - r["clock"]["elapsed_days"])
    return rows


def _print(rows: list[dict], options) -> None:
    out = options["stdout"]
    if options.get("json"):
        out.write(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        out.write("no applications")
        return
    for r in rows:
        c = r["clock"]
        clock = (
            f"{c['state']} {c['elapsed_days']:.1f}/{c['target_days']} wd due {c['due_at']}"
            if c["due_at"]
            else "-"
        )
        out.write(f"{r['reference']}  {r['status']:<18}  {r['mode']:<12}  {clock}  {r['title']}")


def handle(command: str, action, options) -> bool:
    if command == "applications":
        _print(_rows(status=options.get("status", "")), options)
        return True
    if command == "overdue":
        _print(_rows(overdue=True), options)
        return True
    return False
