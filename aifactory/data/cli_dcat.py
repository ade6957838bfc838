"""`aifactory dcat export`: the catalogue as DCAT-AP 3 from the server's shell.

The export holds what an anonymous visitor sees (public, registered and restricted datasets that
are published), so a file made here can be handed to another portal as it is.
"""

from pathlib import Path

from django.core.management.base import CommandError

from . import dcat


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="the catalogue as DCAT-AP 3 (Turtle or JSON-LD)")
    export.add_argument("--format", choices=["ttl", "jsonld"], default="ttl")
    export.add_argument(
        "--output", metavar="FILE", help="write to FILE (default: the standard output)"
    )


def handle(action: str, options: dict) -> None:
    {"export": _export}[action](options)


def _export(o: dict) -> None:
    pieces = dcat.catalog_text(None, o["format"])
    if not o.get("output"):
        for text in pieces:
            o["stdout"].write(text, ending="")
        return
    path = Path(o["output"])
    if not path.parent.is_dir():
        raise CommandError(f"--output: no folder {path.parent}")
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        for text in pieces:
            out.write(text)
    partial.replace(path)  # a reader never sees half a file
    o["stdout"].write(f"wrote {path} ({path.stat().st_size:,} bytes)")
