"""`aifactory access modes | calls | pools`: what the operators published, and what is left.

Plugs into the `access` command (see management/commands/access.py for the contract).
"""

import json

from .models import AccessMode, Call, CallStatus, CapacityPool
from .services.modes import pool_usage


def add_subcommands(subparsers) -> None:
    modes = subparsers.add_parser("modes", help="list the access modes")
    modes.add_argument("--json", action="store_true", help="as JSON")
    calls = subparsers.add_parser("calls", help="list the calls")
    calls.add_argument("--open", action="store_true", dest="open_only", help="only open ones")
    calls.add_argument("--json", action="store_true", help="as JSON")
    pools = subparsers.add_parser("pools", help="list the capacity pools with their usage")
    pools.add_argument("--json", action="store_true", help="as JSON")


def _name(texts: dict) -> str:
    return texts.get("en") or next(iter(texts.values()), "")


def _modes() -> list[dict]:
    return [
        {
            "code": m.code,
            "name": m.name,
            "pool": m.pool.code,
            "limits": m.limits,
            "durations_months": m.durations_months,
            "has_cutoffs": m.has_cutoffs,
            "first_come": m.first_come,
            "reviews": m.reviews,
            "for_kinds": m.for_kinds,
            "for_sizes": m.for_sizes,
            "eligible_countries": m.eligible_countries,
            "decision_days": m.decision_days,
            "is_active": m.is_active,
        }
        for m in AccessMode.objects.select_related("pool").order_by("decision_days", "code")
    ]


def _calls(open_only: bool) -> list[dict]:
    calls = Call.objects.select_related("mode").order_by("-opens_at", "code")
    if open_only:
        calls = calls.filter(status=CallStatus.OPEN)
    return [
        {
            "code": c.code,
            "mode": c.mode.code,
            "title": c.title,
            "status": c.status,
            "opens_at": c.opens_at.isoformat(),
            "closes_at": c.closes_at.isoformat() if c.closes_at else None,
            "cutoffs": c.cutoffs,
        }
        for c in calls
    ]


def _pools() -> list[dict]:
    return [
        {
            "code": p.code,
            "name": p.name,
            "share_percent": float(p.share_percent),
            "period_start": p.period_start.isoformat(),
            "period_end": p.period_end.isoformat(),
            "usage": pool_usage(p),
        }
        for p in CapacityPool.objects.order_by("-period_start", "code")
    ]


def _limits(limits: dict) -> str:
    return ", ".join(f"{k} {v.get('min', 0):,}-{v['max']:,}" for k, v in limits.items()) or "-"


def handle(command: str, action, options: dict) -> bool:
    out = options["stdout"]
    if command == "modes":
        rows = _modes()
        if options["json"]:
            out.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return True
        for m in rows:
            active = "" if m["is_active"] else " (inactive)"
            out.write(
                f"{m['code']:<14} {_name(m['name'])}{active}: {_limits(m['limits'])}; "
                f"{'/'.join(str(d) for d in m['durations_months'])} months; "
                f"reviews {'+'.join(m['reviews']) or 'none'}; "
                f"decision in {m['decision_days']} working days; pool {m['pool']}"
            )
        return True
    if command == "calls":
        rows = _calls(options["open_only"])
        if options["json"]:
            out.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return True
        for c in rows:
            cutoffs = f"; cut-offs {', '.join(c['cutoffs'])}" if c["cutoffs"] else ""
            closes = f"until {c['closes_at'][:10]}" if c["closes_at"] else "continuously"
            out.write(
                f"{c['code']:<20} {c['status']:<7} {c['mode']:<14} {_name(c['title'])} "
                f"(from {c['opens_at'][:10]}, {closes}{cutoffs})"
            )
        return True
    if command == "pools":
        rows = _pools()
        if options["json"]:
            out.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return True
        for p in rows:
            out.write(
                f"{p['code']:<16} {p['name']} ({p['share_percent']:g}%, "
                f"{p['period_start']}..{p['period_end']})"
            )
            for resource, u in p["usage"].items():
                out.write(
                    f"  {resource:<15} capacity {u['capacity']:>12,}  "
                    f"committed {u['committed']:>12,}  left {u['left']:>12,}"
                )
        return True
    return False
