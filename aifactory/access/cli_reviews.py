"""`aifactory access reviews|assign|decide|ranking`: reviews and decisions, from the server.

- ``reviews [--application REF] [--json]``: every review of one application, or every open peer
  review (the operators' view: names, scores and conflicts);
- ``assign REF --reviewer EMAIL``: assign a peer reviewer (conflicts are refused as in the portal);
- ``decide REF --outcome O [--granted gpu_hours=15000 ...] [--reason T] [--cluster C]
  [--partition P] [--json]``: decide, opening the project on acceptance;
- ``ranking CALL [--cutoff YYYY-MM-DD] [--json]``: a cut-off's applications by peer score.

Plugs into the `access` command (see management/commands/access.py for the contract); it acts
as the system (``actor=None``).
"""

import contextlib
import json
import uuid
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db.models import Q

from .models import Application, Call, Outcome, Project, Review, ReviewKind, ReviewStatus
from .reviews_selectors import CLOSED, ranking, review_total
from .services import decisions as decision_services
from .services import reviews as services

OUTCOMES = [o.value for o in Outcome if o.value]


def add_subcommands(subparsers) -> None:
    reviews = subparsers.add_parser(
        "reviews", help="the reviews of an application, or every open peer review"
    )
    reviews.add_argument("--application", default="", help="an application's reference or id")
    reviews.add_argument("--json", action="store_true", help="as JSON")
    assign = subparsers.add_parser("assign", help="assign a peer reviewer to an application")
    assign.add_argument("reference", help="the application's reference or id")
    assign.add_argument("--reviewer", required=True, help="the reviewer's e-mail address")
    decide = subparsers.add_parser("decide", help="decide an application")
    decide.add_argument("reference", help="the application's reference or id")
    decide.add_argument("--outcome", required=True, choices=OUTCOMES)
    decide.add_argument(
        "--granted",
        action="append",
        default=[],
        metavar="RESOURCE=AMOUNT",
        help="what accepted_reduced grants, once per resource (e.g. gpu_hours=15000)",
    )
    decide.add_argument("--reason", default="", help="needed unless accepted")
    decide.add_argument("--cluster", default=None, help="the allocation's cluster")
    decide.add_argument("--partition", default=None, help="the allocation's partition")
    decide.add_argument("--json", action="store_true", help="as JSON")
    ranking = subparsers.add_parser("ranking", help="a cut-off's applications by peer score")
    ranking.add_argument("call", help="the call's code")
    ranking.add_argument(
        "--cutoff", default="", help="YYYY-MM-DD (default: the latest with applications)"
    )
    ranking.add_argument("--json", action="store_true", help="as JSON")


def _application(key: str) -> Application:
    lookup = Q(reference=key)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(key))
    application = Application.objects.select_related("call__mode").filter(lookup).first()
    if application is None:
        raise CommandError(f"application: no application “{key}”")
    return application


def _review_row(review: Review) -> dict:
    return {
        "id": str(review.pk),
        "application": review.application.reference,
        "kind": review.kind,
        "status": review.status,
        "reviewer": review.reviewer.email,
        "conflict_declared": review.conflict_declared,
        "conflict_note": review.conflict_note,
        "scores": review.scores,
        "total": review_total(review) if review.kind == ReviewKind.PEER else None,
        "assessment": review.assessment,
        "recommendation": review.recommendation,
        "comments": review.comments,
        "submitted_at": review.submitted_at.isoformat() if review.submitted_at else None,
    }


def _reviews(options) -> None:
    qs = Review.objects.select_related("application", "reviewer").order_by("created_at")
    if options.get("application"):
        qs = qs.filter(application=_application(options["application"]))
    else:
        qs = qs.filter(kind=ReviewKind.PEER, status=ReviewStatus.ASSIGNED).exclude(
            application__status__in=CLOSED
        )
    rows = [_review_row(r) for r in qs]
    out = options["stdout"]
    if options.get("json"):
        out.write(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        out.write("no reviews")
        return
    for r in rows:
        conflict = {None: "undeclared", True: "conflict", False: "no conflict"}
        detail = f"total {r['total']}" if r["total"] is not None else r["recommendation"] or "-"
        declared = conflict[r["conflict_declared"]] if r["kind"] == ReviewKind.PEER else ""
        out.write(
            f"{r['id']}  {r['application']}  {r['kind']:<9}  {r['status']:<9}  "
            f"{r['reviewer']}  {declared or '-'}  {detail}"
        )


def _assign(options) -> None:
    application = _application(options["reference"])
    reviewer = services.reviewer_by_email(options["reviewer"])
    review = services.peer_reviewer_assign(actor=None, application=application, reviewer=reviewer)
    options["stdout"].write(
        f"Assigned {reviewer.email} to {application.reference} (review {review.pk})."
    )


def _granted(values: list[str]) -> dict | None:
    """``gpu_hours=15000`` per resource; amounts the service cannot read are its to name."""
    if not values:
        return None
    granted: dict = {}
    for value in values:
        key, sep, amount = value.partition("=")
        key, amount = key.strip(), amount.strip()
        if not sep or not key or not amount:
            raise CommandError(f"--granted: give RESOURCE=AMOUNT, e.g. gpu_hours=15000 (“{value}”)")
        if key in granted:
            raise CommandError(f"--granted: {key} is given twice")
        try:
            number = Decimal(amount)
            granted[key] = int(number) if number == number.to_integral_value() else float(number)
        except (InvalidOperation, ValueError):
            granted[key] = amount
    return granted


def _decide(options) -> None:
    application = _application(options["reference"])
    decision = decision_services.application_decide(
        actor=None,
        application=application,
        outcome=options["outcome"],
        granted=_granted(options.get("granted") or []),
        reason=options.get("reason") or "",
        cluster=options.get("cluster"),
        partition=options.get("partition"),
    )
    project = Project.objects.filter(application=application).first()
    allocation = project.allocations.order_by("start").first() if project else None
    row = {
        "application": application.reference,
        "outcome": decision.outcome,
        "granted": decision.granted,
        "reason": decision.reason,
        "project": project.code if project else None,
        "allocation": str(allocation.pk) if allocation else None,
        "start": allocation.start.isoformat() if allocation else None,
        "end": allocation.end.isoformat() if allocation else None,
    }
    out = options["stdout"]
    if options.get("json"):
        out.write(json.dumps(row, indent=2, ensure_ascii=False))
        return
    text = f"Decided {row['application']}: {row['outcome']}"
    if row["granted"]:
        text += "; granted " + ", ".join(f"{k} {v}" for k, v in row["granted"].items())
    if project:
        text += f"; project {row['project']} ({row['start']}..{row['end']})"
    out.write(text + ".")


def _ranking(options) -> None:
    call = Call.objects.select_related("mode__pool").filter(code=options["call"]).first()
    if call is None:
        raise CommandError(f"call: no call “{options['call']}”")
    try:
        ranked = ranking(call, options.get("cutoff") or "")
    except ValidationError as exc:
        raise CommandError(f"--cutoff: {' '.join(exc.messages)}") from None
    cutoff, left = ranked["cutoff"], ranked["gpu_hours_left"]
    rows = [
        {
            "rank": row["rank"],
            "application": row["app"].reference,
            "title": row["app"].title,
            "organisation": row["app"].organisation.legal_name,
            "status": row["app"].status,
            "score": row["score"],
            "gpu_hours": row["gpu_hours"],
            "running_gpu_hours": row["running_gpu_hours"],
            "fits": row["fits"],
        }
        for row in ranked["rows"]
    ]
    result = {
        "call": call.code,
        "cutoff": cutoff.isoformat() if cutoff else None,
        "cutoffs": [d.isoformat() for d in ranked["cutoffs"]],
        "gpu_hours_left": left,
        "rows": rows,
    }
    out = options["stdout"]
    if options.get("json"):
        out.write(json.dumps(result, indent=2, ensure_ascii=False))
        return
    out.write(
        f"{call.code}, cut-off {result['cutoff'] or 'none'}: {len(rows)} application(s), "
        f"{left if left is not None else '-'} GPU hours left in the pool"
    )
    for r in rows:
        total = f"{r['score']['total']:.2f}" if r["score"] else "  - "
        fits = "fits" if r["fits"] else "OVER"
        out.write(
            f"{r['rank']:>3}  {r['application']}  {total}  {r['gpu_hours']:>10}  "
            f"{r['running_gpu_hours']:>12}  {fits}  {r['status']:<17}  {r['title']}"
        )


COMMANDS = {"reviews": _reviews, "assign": _assign, "decide": _decide, "ranking": _ranking}


def handle(command: str, action, options) -> bool:
    run = COMMANDS.get(command)
    if run is None:
        return False
    run(options)
    return True
