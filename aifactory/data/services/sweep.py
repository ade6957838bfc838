"""The sweeper: what a worker that stopped mid-task (killed, out of memory, restarted) left behind.

A background task that dies takes its clean-up with it: a version stays *fetching*, a file stays
*waiting* for profiling, a harvest stays *running*, and partial files stay on disk. ``data_sweep``
(a periodic task, every ``DATA_SWEEP_SECONDS``) ends such work once it is older than
``DATA_STUCK_MINUTES``: the version fails and keeps nothing, the file's profiling fails (never
re-queued, so a file that kills the worker cannot do it again and again), the harvest fails and
its source says so, and partial files are deleted. Work whose task still waits in the queue, or
runs on a worker whose heartbeat is fresh, is left alone whatever its age.
"""

import logging
import os
import re
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from aifactory.core.models import WorkerHeartbeat
from aifactory.core.services import audit_record

from ..models import (
    DatasetVersion,
    Distribution,
    HarvestRun,
    HarvestSource,
    HarvestStatus,
    ProfileStatus,
    Upload,
    UploadStatus,
    VersionStatus,
)
from ..storage import get_storage
from .versions import _forget

__all__ = ["data_sweep"]

logger = logging.getLogger(__name__)

UNFINISHED_HARVEST = [HarvestStatus.QUEUED, HarvestStatus.RUNNING]
# Temporary entries of DATA_UPLOAD_DIR besides the staged uploads: profiling's working folders
# (services/profiling.py) and local copies of S3 objects (storage_s3.py).
TEMPORARY_PREFIXES = (".profile-", "aifactory-s3-")
# What DiskStorage.put_stream writes before its rename: tempfile.mkstemp(prefix=".part-") adds
# eight characters. A stored object may start with ".part-" too; it never matches this exactly.
PART_FILE = re.compile(r"\.part-[a-z0-9_]{8}")


def data_sweep(now=None) -> dict:
    """End the work a stopped worker left (the periodic task ``data_sweep_due`` calls this; the
    system acts). Returns how many of each kind were swept: versions, profiles (files), harvests
    (runs, and sources whose run never started) and files (deleted)."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.DATA_STUCK_MINUTES)
    counts = {
        "versions": _sweep_versions(cutoff, now),
        "profiles": _sweep_profiles(cutoff, now),
        "harvests": _sweep_harvests(cutoff, now),
        "files": _sweep_files(cutoff, now),
    }
    if any(counts.values()):
        logger.warning("data sweep: %s", counts)
    return counts


def _in_hand(task, now) -> set[str]:
    """The first arguments of ``task``'s runs still waiting in the queue or running on a live
    worker (django-tasks' database backend; with another backend, none)."""
    stale = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    beats = WorkerHeartbeat.objects.filter(seen_at__gte=stale)
    # The worker passes its id, cut to 64 characters, to django-tasks (core worker command).
    alive = {worker_id[:64] for worker_id in beats.values_list("worker_id", flat=True)}
    held = set()
    results = DBTaskResult.objects.filter(
        task_path=task.module_path,
        status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
    ).values_list("status", "worker_ids", "args_kwargs")
    for status, workers, args_kwargs in results:
        if status == TaskResultStatus.READY or (workers and workers[-1] in alive):
            args = (args_kwargs or {}).get("args") or []
            if args:
                held.add(str(args[0]))
    return held


def _running(task, now) -> bool:
    """Whether a live worker is running ``task`` now (queued runs have opened no files yet)."""
    stale = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    alive = {
        worker_id[:64]
        for worker_id in WorkerHeartbeat.objects.filter(seen_at__gte=stale).values_list(
            "worker_id", flat=True
        )
    }
    running = DBTaskResult.objects.filter(
        task_path=task.module_path, status=TaskResultStatus.RUNNING
    ).values_list("worker_ids", flat=True)
    return any(workers and workers[-1] in alive for workers in running)


# --- 1. versions still fetching -----------------------------------------------------------------


def _sweep_versions(cutoff, now) -> int:
    from .. import tasks

    held = _in_hand(tasks.version_fetch, now)
    stuck = DatasetVersion.objects.filter(status=VersionStatus.FETCHING, created_at__lt=cutoff)
    error = _(
        "The files were not fetched: the worker stopped before it finished (it may have been "
        "restarted or run out of memory). Nothing of this version was kept; add it again."
    )
    storage = get_storage()
    swept = 0
    for version in stuck.select_related("dataset"):
        if str(version.pk) in held:
            continue
        with transaction.atomic():
            locked = (
                DatasetVersion.objects.select_for_update()
                .filter(pk=version.pk, status=VersionStatus.FETCHING)
                .first()
            )
            if locked is None:  # it finished meanwhile
                continue
            # What the fetch had stored (recorded per reference), as version_fetch forgets it.
            keys = [r["key"] for r in locked.references if r.get("key")]
            keys += list(locked.distributions.values_list("storage_key", flat=True))
            locked.distributions.all().delete()
            locked.status, locked.error = VersionStatus.FAILED, error
            locked.save(update_fields=["status", "error", "updated_at"])
            audit_record(
                actor=None,
                action="dataset.version_fetch_failed",
                obj=locked,
                organisation_id=version.dataset.publisher_id,
                changes={"error": error, "swept": True},
            )
        _forget(storage, keys)
        swept += 1
    return swept


# --- 2. files still waiting for profiling -------------------------------------------------------


def _sweep_profiles(cutoff, now) -> int:
    """A file's profiling is queued when it is stored: its ``created_at`` says since when it
    waits (for a version by reference that is when the fetch finished, not when it was asked)."""
    from .. import tasks
    from .quality import version_check_quality

    held = _in_hand(tasks.version_profile, now)
    stuck = Distribution.objects.filter(
        profile_status=ProfileStatus.PENDING,
        version__status=VersionStatus.READY,
        created_at__lt=cutoff,
    ).select_related("version__dataset")
    by_version: dict = {}
    for dist in stuck:
        if str(dist.version_id) not in held:
            by_version.setdefault(dist.version_id, []).append(dist)
    error = _(
        "Profiling did not finish: the worker stopped while reading the files, perhaps out of "
        "memory. It is not tried again by itself; the file is kept as it was stored."
    )
    swept = 0
    for dists in by_version.values():
        version = dists[0].version
        with transaction.atomic():
            done = Distribution.objects.filter(
                pk__in=[d.pk for d in dists], profile_status=ProfileStatus.PENDING
            ).update(
                profile_status=ProfileStatus.FAILED,
                profile_error=error,
                profiled_at=now,
                updated_at=now,
            )
            if not done:
                continue
            audit_record(
                actor=None,
                action="dataset.profile_failed",
                obj=version,
                organisation_id=version.dataset.publisher_id,
                changes={"files": [d.name for d in dists], "error": error, "swept": True},
            )
        swept += done
        # As after profiling: the checks run on what was profiled before the worker stopped.
        try:
            with transaction.atomic():
                version_check_quality(version)
        except Exception:
            logger.exception("quality checks of %s after the sweep failed", version.pk)
    return swept


# --- 3. harvests still running ------------------------------------------------------------------


def _sweep_harvests(cutoff, now) -> int:
    from .. import tasks

    held = _in_hand(tasks.harvest_source, now)
    error = _(
        "The harvest did not finish: the worker stopped (it may have been restarted or run out of "
        "memory). The source is harvested again at its next interval."
    )
    swept = 0
    runs = HarvestRun.objects.filter(status__in=UNFINISHED_HARVEST, created_at__lt=cutoff)
    for run in runs.select_related("source"):
        if str(run.source_id) in held:
            continue
        with transaction.atomic():
            locked = (
                HarvestRun.objects.select_for_update()
                .filter(pk=run.pk, status__in=UNFINISHED_HARVEST)
                .first()
            )
            if locked is None:
                continue
            locked.status, locked.finished_at = HarvestStatus.FAILED, now
            locked.errors = [*locked.errors, {"identifier": "", "error": error}]
            locked.save(update_fields=["status", "finished_at", "errors", "updated_at"])
            counts = {
                "created": locked.created,
                "updated": locked.updated,
                "unchanged": locked.unchanged,
                "gone": locked.gone,
                "errors": len(locked.errors),
            }
            # The source's last status is its newest run's: an older stuck run changes nothing.
            newer = HarvestRun.objects.filter(
                source_id=run.source_id, created_at__gt=locked.created_at
            ).exists()
            if not newer:
                HarvestSource.objects.filter(pk=run.source_id).update(
                    last_status=HarvestStatus.FAILED,
                    last_error=error,
                    last_counts=counts,
                    updated_at=now,
                )
            _audit_harvest(run.source, {"run": str(locked.pk), **counts}, error)
        swept += 1
    # Sources claimed for a harvest whose run never started (the task was lost with its worker).
    lost = (
        HarvestSource.objects.filter(last_status__in=UNFINISHED_HARVEST, last_run_at__lt=cutoff)
        .exclude(runs__status__in=UNFINISHED_HARVEST)
        .distinct()
    )
    for source in lost:
        if str(source.pk) in held:
            continue
        with transaction.atomic():
            if not HarvestSource.objects.filter(
                pk=source.pk, last_status__in=UNFINISHED_HARVEST, last_run_at__lt=cutoff
            ).update(last_status=HarvestStatus.FAILED, last_error=error, updated_at=now):
                continue
            _audit_harvest(source, {"run": None}, error)
        swept += 1
    return swept


def _audit_harvest(source: HarvestSource, result: dict, error: str) -> None:
    """Recorded as a failed harvest is (services/harvest/)."""
    audit_record(
        actor=None,
        action="harvest_source.harvest",
        obj=source,
        organisation_id=source.publisher_id,
        changes={**result, "status": str(HarvestStatus.FAILED), "error": error, "swept": True},
    )


# --- 4. partial files ---------------------------------------------------------------------------


def _sweep_files(cutoff, now) -> int:
    """Delete what an interrupted write left: ``.part-*`` files of the disk storage, staged
    uploads no open or complete upload refers to, profiling's working folders and local copies
    of S3 objects, each only once untouched since ``cutoff``. Stored objects, the files of live
    uploads and anything else are never touched."""
    limit = cutoff.timestamp()
    deleted: list[str] = []
    if settings.DATA_STORAGE == "disk":
        root = Path(settings.DATA_FILES_DIR)
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                if PART_FILE.fullmatch(name) and _older(path, limit) and _delete(path):
                    deleted.append(str(path.relative_to(root)))
    staging = Path(settings.DATA_UPLOAD_DIR)
    entries = sorted(staging.iterdir()) if staging.is_dir() else []
    # Staged uploads are named by the upload's id (services/versions.py, upload_path).
    staged = {_uuid(p.name): p for p in entries if _uuid(p.name) and p.is_file()}
    live = {
        str(pk)
        for pk in Upload.objects.filter(
            pk__in=list(staged), status__in=[UploadStatus.OPEN, UploadStatus.COMPLETE]
        ).values_list("pk", flat=True)
    }
    left = [p for upload_id, p in staged.items() if upload_id not in live]
    # Working folders and S3 copies carry no owner: none is touched while a live worker fetches
    # or profiles (a long profile reads its copy for hours); old ones are left by dead workers.
    from .. import tasks

    if not (_running(tasks.version_profile, now) or _running(tasks.version_fetch, now)):
        left += [p for p in entries if p.name.startswith(TEMPORARY_PREFIXES)]
    for path in left:
        if _older(path, limit) and _delete(path):
            deleted.append(f"uploads/{path.name}")
    if deleted:
        audit_record(
            actor=None,
            action="data.sweep_files",
            changes={"deleted": deleted[:100], "count": len(deleted)},
        )
    return len(deleted)


def _uuid(name: str) -> str | None:
    try:
        return str(uuid.UUID(name))
    except ValueError:
        return None


def _older(path: Path, limit: float) -> bool:
    """Whether nothing in ``path`` (a file, or a folder and all it holds) changed since ``limit``."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_mtime < limit
        if path.lstat().st_mtime >= limit:
            return False
        for folder, dirs, names in os.walk(path):
            for name in dirs + names:
                if (Path(folder) / name).lstat().st_mtime >= limit:
                    return False
        return True
    except FileNotFoundError:
        return False


def _delete(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError:
        logger.exception("the sweep could not delete %s", path)
        return False
    return True
