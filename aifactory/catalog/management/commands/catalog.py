"""`aifactory catalog`: import, export and list the catalogue, for operators with server access.

The command acts as the system (``actor=None`` in the services), like `aifactory users`.
An import returns only when what it imported is searchable: it computes the missing embeddings
itself instead of leaving them to the worker, so `aifactory match` right after it is complete.
"""

import json
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError

from aifactory.catalog import selectors, services
from aifactory.catalog.formats import ImportRejected
from aifactory.catalog.models import Offering, OfferingStatus, OfferingType
from aifactory.core.errors import ServiceError, field_errors


class Command(BaseCommand):
    help = (
        "The catalogue: `catalog import FILE [--demo]`, `catalog export [FILE]`, "
        "`catalog list [--status STATUS] [--type TYPE]`, `catalog reindex [--all]`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser(
            "import", help="create or update offerings from a JSON array (all or nothing)"
        )
        load.add_argument("file", help="a JSON file, or - for standard input")
        load.add_argument("--demo", action="store_true", help="mark them as demo data")
        dump = sub.add_parser("export", help="write every published offering as JSON")
        dump.add_argument("file", nargs="?", default="-", help="where to write (default: stdout)")
        listing = sub.add_parser("list", help="list offerings")
        listing.add_argument("--status", choices=OfferingStatus.values)
        listing.add_argument("--type", choices=OfferingType.values)
        reindex = sub.add_parser(
            "reindex", help="compute the missing or stale embeddings of published offerings"
        )
        reindex.add_argument(
            "--all", action="store_true", dest="everything", help="recompute every one"
        )

    def handle(self, *args, action: str, **options):
        try:
            if action == "import":
                self.load(options["file"], demo=options["demo"])
            elif action == "export":
                self.dump(options["file"])
            elif action == "reindex":
                count = services.catalog_index_pending(everything=options["everything"])
                self.stdout.write(f"embedded {count} offering(s)")
            else:
                self.list_offerings(status=options["status"], type=options["type"])
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{f}: {' '.join(m)}" for f, m in field_errors(exc).items())
            ) from None
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None

    def load(self, name: str, *, demo: bool):
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{name}: cannot read it: {exc}") from None
        try:
            records = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"{name}: not valid JSON: {exc}") from None
        try:
            result = services.catalog_import(actor=None, records=records, is_demo=demo)
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{name}: {len(exc.errors)} error(s); nothing was imported"
            ) from None
        self.stdout.write(
            f"imported {name}: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.unchanged)} unchanged"
        )
        imported = Offering.objects.filter(
            external_id__in=result.created + result.updated + result.unchanged
        )
        count = services.catalog_index_pending(offering_ids=imported.values_list("pk", flat=True))
        self.stdout.write(f"embedded {count} offering(s) for search")

    def dump(self, name: str):
        text = json.dumps(selectors.catalog_export(), ensure_ascii=False, indent=2) + "\n"
        if name == "-":
            self.stdout.write(text, ending="")
        else:
            Path(name).write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {name}")

    def list_offerings(self, *, status: str | None, type: str | None):
        offerings = Offering.objects.all()
        if status:
            offerings = offerings.filter(status=status)
        if type:
            offerings = offerings.filter(type=type)
        for o in offerings:
            flags = " demo" if o.is_demo else ""
            self.stdout.write(
                f"{o.external_id:30} {o.type:9} {o.status:10} {o.display_title}{flags}".rstrip()
            )
