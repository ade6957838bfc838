"""The datasets a job reads: resolved and checked at submission, logged for their publishers,
and handed to the job as environment variables.

A job names datasets as ``slug`` (the newest ready version) or ``slug@N``. The submitter must be
allowed to read each one (``dataset.read``: public, registered, a live grant, or the publisher's
own); the check and the access-log entry happen when the job is submitted, so a grant that
expires later does not stop a running job, as with a download.
"""

import json
import re
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from aifactory.core.permissions import allowed
from aifactory.data import services as data_services
from aifactory.data.models import Dataset
from aifactory.data.storage import get_storage

__all__ = [
    "job_datasets_inputs",
    "job_datasets_public",
    "job_datasets_record",
    "job_datasets_resolve",
]

REF = re.compile(r"^(?P<slug>[a-z0-9][a-z0-9_-]{0,99})(?:@(?P<version>[1-9][0-9]{0,8}))?$")
MAX_DATASETS = 20


def job_datasets_resolve(person, refs) -> list[dict]:
    """The datasets as the job will read them, or a ValidationError on ``datasets`` that names
    the reference (never telling whether a dataset the person may not see exists)."""
    if not refs:
        return []
    if isinstance(refs, str) or not isinstance(refs, list | tuple):
        raise ValidationError({"datasets": _('Give a list of datasets, like ["slug", "slug@2"].')})
    if len(refs) > MAX_DATASETS:
        raise ValidationError(
            {"datasets": _("At most %(limit)d datasets per job.") % {"limit": MAX_DATASETS}}
        )
    resolved, seen = [], set()
    for ref in refs:
        match = REF.match(ref.strip().lower()) if isinstance(ref, str) else None
        if match is None:
            raise ValidationError(
                {
                    "datasets": _("“%(ref)s” is not a dataset name (slug or slug@version).")
                    % {"ref": ref}
                }
            )
        slug = match["slug"]
        dataset = Dataset.objects.filter(slug=slug).select_related("publisher").first()
        if dataset is None or not allowed(person, "dataset.view", dataset):
            raise ValidationError({"datasets": _("There is no dataset %(ref)s.") % {"ref": slug}})
        if not allowed(person, "dataset.read", dataset):
            raise ValidationError(
                {
                    "datasets": _(
                        "You may not read the dataset %(ref)s; request access on its page first."
                    )
                    % {"ref": slug}
                }
            )
        if slug in seen:
            raise ValidationError({"datasets": _("%(ref)s is named twice.") % {"ref": slug}})
        seen.add(slug)
        if match["version"]:
            version = dataset.versions.ready().filter(number=int(match["version"])).first()
        else:
            version = dataset.newest_ready_version()
        if version is None:
            raise ValidationError(
                {"datasets": _("The dataset %(ref)s has no such version ready.") % {"ref": ref}}
            )
        resolved.append(
            {
                "slug": slug,
                "dataset_id": str(dataset.pk),
                "version": version.number,
                "files": [
                    {
                        "name": d.name,
                        "key": d.storage_key,
                        "sha256": d.sha256,
                        "size": d.size,
                    }
                    for d in version.distributions.all()
                ],
            }
        )
    return resolved


def job_datasets_public(datasets: list[dict]) -> list[dict]:
    """The datasets of a job as the API and the CLI show them: per file its name, SHA-256 and
    size, never the storage key (where the hub keeps the bytes is no business of the reader)."""
    return [
        {
            "slug": item["slug"],
            "version": item["version"],
            "files": [
                {"name": f["name"], "sha256": f.get("sha256", ""), "size": f.get("size")}
                for f in item.get("files", [])
            ],
        }
        for item in datasets or []
    ]


def job_datasets_record(person, job) -> None:
    """One access-log entry per dataset, in the submission's transaction."""
    for item in job.datasets:
        dataset = Dataset.objects.get(pk=item["dataset_id"])
        data_services.dataset_use_record(
            actor=person,
            dataset=dataset,
            detail=f"job {job.reference} ({job.project.code}), version {item['version']}",
        )


def _env_name(slug: str) -> str:
    return "AIFACTORY_DATASET_" + re.sub(r"[^A-Z0-9]", "_", slug.upper())


def job_datasets_inputs(job) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    """The files to copy into the job's folder, and its environment: ``AIFACTORY_DATASETS``, a
    JSON map slug → {version, files: {name: where the job reads it}}, and for a dataset of one
    file ``AIFACTORY_DATASET_<SLUG>``. Files on disk are copied into ``datasets/<slug>/`` of the
    job's folder; objects in S3 are given as URLs that expire with the job's time limit."""
    if not job.datasets:
        return (), {}
    storage = get_storage()
    seconds = job.time_limit_minutes * 60 + 24 * 3600  # the time limit plus a day in the queue
    inputs, manifest, env = [], {}, {}
    for item in job.datasets:
        files = {}
        for f in item["files"]:
            url = storage.download_url(f["key"], seconds)
            if url:
                files[f["name"]] = url
                continue
            relative = f"datasets/{item['slug']}/{f['name']}"
            inputs.append((relative, storage.disk_path(f["key"])))
            files[f["name"]] = str(PurePosixPath(job.workdir) / relative)
        manifest[item["slug"]] = {"version": item["version"], "files": files}
        if len(files) == 1:
            env[_env_name(item["slug"])] = next(iter(files.values()))
    env["AIFACTORY_DATASETS"] = json.dumps(manifest, separators=(",", ":"))
    return tuple(inputs), env
