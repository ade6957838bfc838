"""`aifactory datasets add|list|show|publish|archive`: datasets from the server's shell.

``add FILE... --title T --org ORG`` creates a dataset and its first version from files on this
machine (streamed, never read whole into memory); with ``--dataset SLUG`` it adds a version to an
existing dataset. Commands act as the system (``actor=None``) unless ``--user EMAIL`` names the
person whose rights the services check and whom the audit log names. Errors name the option.
"""

import contextlib
import uuid
from pathlib import Path

from django.core.management.base import CommandError
from django.db.models import Q

from aifactory.core.cli import person, service_errors, write_json

from . import services
from .models import AccessRights, Dataset, DatasetStatus
from .storage import CHUNK

OPTIONS = {
    "title": "--title",
    "slug": "--slug",
    "access_rights": "--access",
    "note": "--note",
    "files": "FILE",
    "organisation": "--org",
}


def organisation_named(value: str):
    from aifactory.accounts.models import Organisation

    value = (value or "").strip()
    lookup = Q(legal_name__iexact=value)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(value))
    found = list(Organisation.objects.filter(lookup)[:2])
    if len(found) != 1:
        problem = "no organisation" if not found else "several organisations"
        raise CommandError(f"--org: {problem} named {value!r} (give its id)")
    return found[0]


def dataset_named(slug: str, name: str = "SLUG") -> Dataset:
    key = (slug or "").strip()
    lookup = Q(slug=key)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(key))
    dataset = Dataset.objects.select_related("publisher").filter(lookup).first()
    if dataset is None:
        raise CommandError(f"{name}: no dataset {slug!r}")
    return dataset


def _chunks(path: Path):
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            yield chunk


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)

    add = sub.add_parser("add", help="a new dataset with its first version, or a new version")
    add.add_argument("files", nargs="+", metavar="FILE", help="files on this machine")
    add.add_argument("--dataset", metavar="SLUG", help="add a version to this dataset instead")
    add.add_argument("--title", metavar="T", help="the title (English) of a new dataset")
    add.add_argument("--org", metavar="ORG", help="the publisher: its id or legal name")
    add.add_argument("--slug", default="", metavar="S", help="default: made from the title")
    add.add_argument(
        "--access", default=AccessRights.INTERNAL, choices=AccessRights.values, dest="access"
    )
    add.add_argument("--note", default="", metavar="N", help="what the version holds or changed")
    add.add_argument("--publish", action="store_true", help="publish the new dataset")
    add.add_argument("--user", metavar="EMAIL", help="act as this person (default: the system)")
    add.add_argument("--json", action="store_true")

    listing = sub.add_parser("list", help="datasets, newest first")
    listing.add_argument("--org", metavar="ORG")
    listing.add_argument("--status", choices=DatasetStatus.values)
    listing.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="a dataset with its versions and files")
    show.add_argument("slug", metavar="SLUG")
    show.add_argument("--json", action="store_true")

    for name in ("publish", "archive"):
        action = sub.add_parser(name, help=f"{name} a dataset")
        action.add_argument("slug", metavar="SLUG")
        action.add_argument("--user", metavar="EMAIL", help="act as this person")


def dataset_dict(dataset: Dataset, *, versions: bool = False) -> dict:
    data = {
        "id": str(dataset.pk),
        "slug": dataset.slug,
        "identifier": dataset.identifier,
        "title": dataset.title,
        "publisher": dataset.publisher.legal_name,
        "status": dataset.status,
        "access_rights": dataset.access_rights,
        "themes": dataset.themes,
        "metadata_score": dataset.metadata_score,
        "created_at": dataset.created_at,
    }
    if versions:
        data["versions"] = [
            {
                "number": v.number,
                "status": v.status,
                "note": v.note,
                "error": v.error,
                "quality_score": v.quality_score,
                "created_at": v.created_at,
                "files": [
                    {
                        "name": d.name,
                        "format": d.format,
                        "size": d.size,
                        "sha256": d.sha256,
                        "rows": d.row_count,
                        "columns": d.schema,
                        "warnings": d.warnings,
                    }
                    for d in v.distributions.all()
                ],
            }
            for v in dataset.versions.prefetch_related("distributions").order_by("-number")
        ]
    return data


def handle(action: str, options: dict) -> None:
    out = options["stdout"]
    if action == "add":
        _add(options, out)
    elif action == "list":
        qs = Dataset.objects.select_related("publisher").order_by("-created_at")
        if options.get("org"):
            qs = qs.filter(publisher=organisation_named(options["org"]))
        if options.get("status"):
            qs = qs.filter(status=options["status"])
        rows = [dataset_dict(d) for d in qs]
        if options["json"]:
            write_json(out, rows)
            return
        for row in rows:
            title = next(iter(row["title"].values()), "")
            out.write(
                f"{row['slug']}\t{row['status']}\t{row['access_rights']}\t"
                f"{row['publisher']}\t{title}"
            )
    elif action == "show":
        data = dataset_dict(dataset_named(options["slug"]), versions=True)
        if options["json"]:
            write_json(out, data)
            return
        out.write(f"{data['slug']} ({data['status']}, {data['access_rights']}) {data['title']}")
        out.write(f"publisher: {data['publisher']}; identifier: {data['identifier']}")
        for v in data["versions"]:
            out.write(f"version {v['number']} ({v['status']}) {v['note']}")
            for f in v["files"]:
                out.write(f"  {f['name']}\t{f['format']}\t{f['size']} bytes\tsha256 {f['sha256']}")
    elif action in ("publish", "archive"):
        dataset = dataset_named(options["slug"])
        service = services.dataset_publish if action == "publish" else services.dataset_archive
        with service_errors(OPTIONS):
            dataset = service(actor=person(options.get("user"), required=False), dataset=dataset)
        out.write(f"{dataset.slug}: {dataset.status}")


def _add(options: dict, out) -> None:
    paths = [Path(p) for p in options["files"]]
    for path in paths:
        if not path.is_file():
            raise CommandError(f"FILE: no file {str(path)!r}")
        if path.stat().st_size == 0:
            raise CommandError(f"FILE: {path.name} is empty")
    actor = person(options.get("user"), required=False)
    files = [(path.name, _chunks(path)) for path in paths]
    if options.get("dataset"):
        if options.get("title") or options.get("org"):
            raise CommandError("--dataset adds a version: leave out --title and --org")
        dataset = dataset_named(options["dataset"], "--dataset")
        with service_errors(OPTIONS):
            version = services.version_create(
                actor=actor, dataset=dataset, files=files, note=options.get("note", "")
            )
    else:
        if not options.get("title"):
            raise CommandError("--title: give the new dataset's title (or --dataset SLUG)")
        if not options.get("org"):
            raise CommandError("--org: give the publisher (or --dataset SLUG)")
        organisation = organisation_named(options["org"])
        data = {"title": {"en": options["title"]}, "access_rights": options["access"]}
        if options.get("slug"):
            data["slug"] = options["slug"]
        with service_errors(OPTIONS):
            dataset = services.dataset_create(actor=actor, organisation=organisation, data=data)
            try:
                version = services.version_create(
                    actor=actor, dataset=dataset, files=files, note=options.get("note", "")
                )
            except Exception:
                # No empty draft is left behind when its first files are refused.
                Dataset.objects.filter(pk=dataset.pk, versions__isnull=True).delete()
                raise
    if options.get("publish"):
        with service_errors(OPTIONS):
            dataset = services.dataset_publish(actor=actor, dataset=dataset)
    dataset.refresh_from_db()
    if options.get("json"):
        write_json(out, dataset_dict(dataset, versions=True))
        return
    out.write(f"{dataset.slug}: version {version.number} ({dataset.status})")
    for dist in version.distributions.all():
        out.write(f"  {dist.name}\t{dist.format}\t{dist.size} bytes\tsha256 {dist.sha256}")
