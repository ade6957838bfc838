"""`aifactory match`: the matchmaking of the portal from the command line.

    aifactory match "Wir sind eine Bäckerei ..." [--sector crafts] [--limit 10] [--json]
    aifactory match --queries needs.jsonl --json     # one {"id", "text"} per line in and out

The batch form writes one line per query, ``{"id", "results": [{"id", "type", "title", "score",
"reasons"}]}``, so a relevance set can be scored by any tool. A bad line stops the run with its
line number before anything is ranked.
"""

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from aifactory.catalog.matching import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Profile,
    check_profile,
    clean_text,
    match,
)
from aifactory.core.errors import field_errors

BATCH_FIELDS = ("id", "type", "title", "score", "reasons")


class Command(BaseCommand):
    help = "Offerings for a need, ranked and explained: `match TEXT` or `match --queries FILE`."

    def add_arguments(self, parser):
        parser.add_argument("text", nargs="?", help="the need, in en, de, fr or lb")
        parser.add_argument("--queries", help='a JSON Lines file of {"id", "text"}, or -')
        parser.add_argument("--sector", default="", help="the sector of the organisation")
        parser.add_argument("--kind", default="", help="startup, sme, large, research, public")
        parser.add_argument("--size", default="", help="micro, small, medium, large")
        parser.add_argument("--country", default="", help="two-letter code, e.g. LU")
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="results per need")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, text=None, queries=None, **options):
        if bool(text) == bool(queries):
            raise CommandError("give either a TEXT or --queries FILE")
        if not 1 <= options["limit"] <= MAX_LIMIT:
            raise CommandError(f"--limit: between 1 and {MAX_LIMIT}")
        try:
            check_profile(self._profile(options))
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from None
        if queries:
            self.batch(queries, options)
        else:
            self.single(text, options)

    def _match(self, text, options, where=""):
        try:
            profile = Profile(
                kind=options["kind"], size=options["size"], country=options["country"].upper()
            )
            return match(text, sector=options["sector"], limit=options["limit"], profile=profile)
        except ValidationError as exc:
            raise CommandError(where + _messages(exc)) from None

    @staticmethod
    def _profile(options) -> Profile:
        return Profile(
            kind=options["kind"], size=options["size"], country=options["country"].upper()
        )

    def single(self, text, options):
        result = self._match(text, options)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
            return
        for notice in result.notices:
            self.stdout.write(notice)
        for group, matches in result.grouped():
            self.stdout.write(f"\n{group.label}")
            for m in matches:
                mark = "" if m.eligible else "  [not eligible]"
                self.stdout.write(
                    f"  {m.score:.2f}  {m.offering.external_id}  {m.offering.display_title}{mark}"
                )
                for reason in m.reasons:
                    self.stdout.write(f"          {reason.message}")

    def batch(self, path, options):
        lines = (sys.stdin if path == "-" else _open(path)).read().splitlines()
        needs = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                need = json.loads(line)
            except ValueError as exc:
                raise CommandError(f"line {number}: not valid JSON ({exc})") from None
            if not isinstance(need, dict) or not isinstance(need.get("text"), str):
                raise CommandError(f'line {number}: expected an object with "id" and "text"')
            if "id" not in need:
                raise CommandError(f'line {number}: "id" is missing')
            try:
                clean_text(need["text"])
            except ValidationError as exc:
                raise CommandError(f"line {number}: {_messages(exc)}") from None
            needs.append((number, need))
        for number, need in needs:
            result = self._match(need["text"], options, where=f"line {number}: ")
            results = [{k: m.as_dict()[k] for k in BATCH_FIELDS} for m in result.matches]
            self.stdout.write(
                json.dumps({"id": need["id"], "results": results}, ensure_ascii=False)
            )


def _messages(exc: ValidationError) -> str:
    return "; ".join(f"{f}: {' '.join(m)}" for f, m in field_errors(exc).items())


def _open(path):
    try:
        return Path(path).open(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from None
