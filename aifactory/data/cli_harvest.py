"""`aifactory harvest add|list|run`: harvest sources from the server's shell.

``add`` goes through the harvest services as the system (``actor=None``, audited as ``system``);
``run`` harvests at once in this process (not in the background) and prints the counts, failing
with the source's error when the document could not be read; ``list`` reads every source.
"""

from pathlib import Path

from django.core.management.base import CommandError

from aifactory.core.cli import service_errors, write_json

from . import services
from .models import HarvestSource

OPTIONS = {
    "name": "NAME",
    "url": "--url",
    "file": "--file",
    "publisher": "--publisher",
    "title": "--title",
    "interval_hours": "--interval",
}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)

    add = sub.add_parser("add", help="register a harvest source")
    add.add_argument("name", help="a short name: lower-case letters, digits, - and _")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="https address of a DCAT-AP document")
    where.add_argument("--file", metavar="PATH", help="a DCAT-AP file, kept and read at each run")
    add.add_argument(
        "--publisher",
        required=True,
        metavar="ORG",
        help="the organisation that publishes the harvested datasets (its id or legal name)",
    )
    add.add_argument("--title", default="")
    add.add_argument("--interval", default="24", metavar="HOURS", help="harvest every N hours")
    add.add_argument("--inactive", action="store_true", help="not harvested on schedule")

    listing = sub.add_parser("list", help="the sources with their last run")
    listing.add_argument("--json", action="store_true")

    run = sub.add_parser("run", help="harvest a source now, in this process")
    run.add_argument("name")
    run.add_argument("--json", action="store_true")


def handle(action: str, options: dict) -> None:
    {"add": _add, "list": _list, "run": _run}[action](options)


def source_named(name: str) -> HarvestSource:
    source = HarvestSource.objects.filter(name=(name or "").strip()).first()
    if source is None:
        known = ", ".join(HarvestSource.objects.values_list("name", flat=True)) or "none yet"
        raise CommandError(f"NAME: no harvest source {name!r} (there are: {known})")
    return source


def _add(o: dict) -> None:
    data = {
        "name": o["name"],
        "publisher": o["publisher"],
        "title": o.get("title") or "",
        "interval_hours": o["interval"],
        "is_active": not o.get("inactive"),
    }
    handle = None
    if o.get("file"):
        path = Path(o["file"])
        if not path.is_file():
            raise CommandError(f"--file: no file {path}")
        handle = path.open("rb")
        data["file"] = handle
    else:
        data["url"] = o["url"]
    try:
        with service_errors(OPTIONS):
            source = services.harvest_source_create(actor=None, data=data)
    finally:
        if handle is not None:
            handle.close()
    o["stdout"].write(
        f"added harvest source {source.name}; harvest it with `aifactory harvest run {source.name}`"
    )


def source_row(source: HarvestSource) -> dict:
    return {
        "name": source.name,
        "title": source.title,
        "url": source.url,
        "file": bool(source.file_key),
        "publisher": source.publisher.legal_name,
        "interval_hours": source.interval_hours,
        "active": source.is_active,
        "last_run_at": source.last_run_at,
        "last_status": source.last_status,
        "last_error": source.last_error,
        "last_counts": source.last_counts,
        "datasets": source.datasets.filter(gone_at__isnull=True).count(),
    }


def _list(o: dict) -> None:
    rows = [source_row(s) for s in HarvestSource.objects.select_related("publisher")]
    if o.get("json"):
        write_json(o["stdout"], rows)
        return
    out = o["stdout"]
    if not rows:
        out.write("no harvest sources")
        return
    for r in rows:
        where = r["url"] or "(uploaded file)"
        last = r["last_run_at"].strftime("%Y-%m-%d %H:%M") if r["last_run_at"] else "never"
        state = "" if r["active"] else "  (inactive)"
        out.write(
            f"{r['name']:<20} {where}  → {r['publisher']}  every {r['interval_hours']} h{state}  "
            f"datasets {r['datasets']}  last run {last} {r['last_status']}"
        )
        if r["last_error"]:
            out.write(f"  last error: {r['last_error'].splitlines()[0]}")


def _run(o: dict) -> None:
    source = source_named(o["name"])
    result = services.harvest_run(str(source.pk))
    if o.get("json"):
        write_json(o["stdout"], result)
    else:
        o["stdout"].write(
            f"harvested {source.name}: {result['created']} new, {result['updated']} updated, "
            f"{result['unchanged']} unchanged, {result['gone']} gone, {result['errors']} errors"
        )
    if result["status"] == "failed":
        raise CommandError(f"harvest {source.name}: {result['error']}")
