"""`aifactory cases`: the support cases from the shell, for the factory's staff.

Without ``--as`` the command acts as the system (operators with server access see every case and
its internal notes, like `aifactory catalog`); ``--as EMAIL`` reads as that person would, through
the same permission rules as the portal, and is needed for ``--mine``.
"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404
from django.utils import timezone, translation

from aifactory.accounts.models import User
from aifactory.advisor import selectors
from aifactory.advisor.models import Case, CaseStatus
from aifactory.advisor.notifications import describe
from aifactory.core.errors import field_errors
from aifactory.core.taxonomy import JourneyStage, Sector


class _System:
    """The command line's own reader: sees every case, like an administrator."""

    is_authenticated = True
    is_active = True
    is_superuser = True
    staff_role = "administrator"
    pk = None
    _org_roles: dict = {}


class Command(BaseCommand):
    help = (
        "Support cases: `cases list [--mine] [--overdue] [--unassigned] [--status S] "
        "[--stage S] [--sector S] [--as EMAIL] [--json]`, `cases show REF [--as EMAIL] [--json]`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="list cases, newest first")
        listing.add_argument("--status", choices=[selectors.OPEN, *CaseStatus.values])
        listing.add_argument("--stage", choices=JourneyStage.values)
        listing.add_argument("--sector", choices=Sector.values)
        listing.add_argument("--overdue", action="store_true", help="first answer late")
        listing.add_argument("--mine", action="store_true", help="assigned to --as")
        listing.add_argument("--unassigned", action="store_true")
        listing.add_argument("--as", dest="as_email", metavar="EMAIL", help="read as this person")
        listing.add_argument("--json", action="store_true", help="one JSON array")
        show = sub.add_parser("show", help="one case with its timeline")
        show.add_argument("reference", help="C-2026-00042, or the case's id")
        show.add_argument("--as", dest="as_email", metavar="EMAIL", help="read as this person")
        show.add_argument("--json", action="store_true")

    def handle(self, *args, action: str, as_email: str | None = None, **options):
        reader = self._reader(as_email)
        with translation.override("en"):
            try:
                if action == "list":
                    self.list_cases(reader, **options)
                else:
                    self.show_case(reader, options["reference"], as_json=options["json"])
            except ValidationError as exc:
                raise CommandError(
                    "; ".join(f"{f}: {' '.join(m)}" for f, m in field_errors(exc).items())
                ) from None

    def _reader(self, email: str | None):
        if not email:
            return _System()
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"as: no active person with the address {email}")
        return user

    def list_cases(self, reader, *, mine, overdue, unassigned, status, stage, sector, **options):
        if mine and isinstance(reader, _System):
            raise CommandError("mine: say whose cases with --as EMAIL")
        cases = selectors.cases_list(
            reader,
            status=status or "",
            stage=stage or "",
            sector=sector or "",
            overdue=overdue,
            mine=mine,
            unassigned=unassigned,
        )
        now = timezone.now()
        rows = [_summary(c, now) for c in cases]
        if options["json"]:
            self.stdout.write(json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
            return
        for row in rows:
            flags = " OVERDUE" if row["overdue"] else ""
            self.stdout.write(
                f"{row['reference']:14} {row['status']:21} {row['stage']:9} "
                f"{(row['assigned_to'] or '-'):28} {row['organisation'][:30]:30} "
                f"{row['subject'][:60]}{flags}".rstrip()
            )

    def show_case(self, reader, reference: str, *, as_json: bool):
        try:
            case = selectors.case_get(reader, reference)
        except Http404:
            raise CommandError(f"reference: no case {reference} (or not yours to see)") from None
        entries = list(selectors.case_entries(reader, case))
        data = _summary(case, timezone.now()) | {
            "need": case.need,
            "first_response_at": case.first_response_at,
            "close_reason": case.close_reason,
            "offerings": list(case.offerings.values_list("external_id", flat=True)),
            "matchmaking": [
                {"id": r["external_id"], "title": r["title"], "score": r["score"]}
                for r in (case.matchmaking or {}).get("results", [])
            ],
            "entries": [
                {
                    "at": e.created_at,
                    "kind": e.kind,
                    "visibility": e.visibility,
                    "author": e.author.email if e.author else None,
                    "text": e.body or describe(e),
                }
                for e in entries
            ],
        }
        if as_json:
            self.stdout.write(json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
            return
        w = self.stdout.write
        w(f"{case.reference}: {case.subject}")
        w(f"organisation: {data['organisation']}")
        w(f"status:       {case.status}" + (f" ({case.close_reason})" if case.close_reason else ""))
        w(f"stage:        {case.stage}   sector: {case.sector or '-'}")
        w(f"advisor:      {data['assigned_to'] or '-'}")
        due = timezone.localtime(case.first_response_due).strftime("%Y-%m-%d %H:%M")
        w(f"first answer due {due}" + ("  OVERDUE" if data["overdue"] else ""))
        w("")
        w(case.need)
        w("")
        for e in data["entries"]:
            at = timezone.localtime(e["at"]).strftime("%Y-%m-%d %H:%M")
            mark = " [internal]" if e["visibility"] == "internal" else ""
            w(f"{at} {e['kind']:7} {e['author'] or 'system'}{mark}: {e['text']}")
        if data["offerings"]:
            w("")
            w("recommended: " + ", ".join(data["offerings"]))


def _summary(case: Case, now) -> dict:
    return {
        "id": str(case.pk),
        "reference": case.reference,
        "subject": case.subject,
        "organisation": case.organisation.legal_name,
        "status": case.status,
        "stage": case.stage,
        "sector": case.sector,
        "assigned_to": case.assigned_to.email if case.assigned_to else None,
        "opened_by": case.opened_by.email if case.opened_by else None,
        "created_at": case.created_at,
        "first_response_due": case.first_response_due,
        "overdue": selectors.is_overdue(case, now),
    }
