"""`aifactory access projects [--json]` and `aifactory access import-allocation FILE|-`.

Plugs into the `access` command (see management/commands/access.py for the contract). The
command runs on the server as the system: it lists every project and imports allocations
decided elsewhere (the EuroHPC federation platform) from their JSON export.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone

from .models import Project
from .services import projects as services


def add_subcommands(subparsers) -> None:
    projects = subparsers.add_parser("projects", help="list the projects and their allocations")
    projects.add_argument("--json", action="store_true", help="as JSON")
    imp = subparsers.add_parser(
        "import-allocation",
        help="create or update a project from an external allocation (JSON file, or - for stdin)",
    )
    imp.add_argument("file", help="a JSON file with one allocation object, or - to read stdin")


def _projects() -> list[dict]:
    today = timezone.localdate()
    rows = []
    projects = Project.objects.select_related("organisation").prefetch_related(
        "members__user", "allocations__tranches"
    )
    for p in projects.order_by("code"):
        allocations = []
        for a in p.allocations.all():
            current = services.tranche_current(a, today)
            allocations.append(
                {
                    "resources": a.resources,
                    "start": a.start.isoformat(),
                    "end": a.end.isoformat(),
                    "tranche_policy": a.tranche_policy,
                    "cluster": a.cluster,
                    "partition": a.partition,
                    "slurm_account": a.slurm_account,
                    "external_id": a.external_id,
                    "current_tranche": current.index if current else None,
                    "available": services.tranche_available(a, today, {}),
                }
            )
        rows.append(
            {
                "code": p.code,
                "title": p.title,
                "organisation": p.organisation.legal_name,
                "status": p.status,
                "external_source": p.external_source,
                "external_id": p.external_id,
                "members": [{"email": m.user.email, "role": m.role} for m in p.members.all()],
                "allocations": allocations,
            }
        )
    return rows


def _print_projects(out, rows: list[dict]) -> None:
    if not rows:
        out.write("No projects.")
        return
    for row in rows:
        source = (
            f" [{row['external_source']} {row['external_id']}]" if row["external_source"] else ""
        )
        out.write(
            f"{row['code']}  {row['title']}  ({row['organisation']}, {row['status']}){source}"
        )
        for a in row["allocations"]:
            resources = ", ".join(f"{k} {v}" for k, v in a["resources"].items())
            out.write(
                f"    {a['start']}..{a['end']}  {resources}  {a['tranche_policy']}  "
                f"account {a['slurm_account']}  {a['cluster']}/{a['partition']}"
            )


def _read(path: str):
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from None


def handle(command: str, action, options: dict) -> bool:
    out = options["stdout"]
    if command == "projects":
        rows = _projects()
        if options.get("json"):
            out.write(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            _print_projects(out, rows)
        return True
    if command == "import-allocation":
        project, created = services.external_allocation_import(
            actor=None, data=_read(options["file"])
        )
        allocation = project.allocations.filter(external_id=project.external_id).first()
        verb = "Created" if created else "Updated"
        out.write(
            f"{verb} project {project.code} from {project.external_source} "
            f"{project.external_id}: {allocation.start}..{allocation.end}, "
            + ", ".join(f"{k} {v}" for k, v in allocation.resources.items())
            + f", {allocation.tranches.count()} tranche(s), Slurm account {allocation.slurm_account}."
        )
        return True
    return False
