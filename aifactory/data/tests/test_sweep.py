"""The sweeper: work a killed worker left behind — a version still fetching, files still waiting
for profiling, a harvest still running, partial files — is ended once older than
DATA_STUCK_MINUTES and left alone while recent, queued or held by a live worker; a second sweep
changes nothing. The stuck states are made by the real services, with the worker "killed"
midway (an exception no clean-up catches)."""

import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from aifactory.core import periodic
from aifactory.core.models import AuditEvent, WorkerHeartbeat
from aifactory.data import fetch, services, tasks
from aifactory.data.models import (
    DatasetVersion,
    Distribution,
    HarvestRun,
    HarvestSource,
)
from aifactory.data.services import harvest as harvest_module
from aifactory.data.services import versions as versions_module
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import CSV, add_csv_version, make_dataset, stored_keys

pytestmark = pytest.mark.django_db

NOTHING = {"versions": 0, "profiles": 0, "harvests": 0, "files": 0}
TURTLE = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://src.example/ds/a> a dcat:Dataset ; dct:identifier "A" ; dct:title "Alpha"@en .
"""


class Killed(BaseException):
    """The worker's death: not an Exception, so only ``except BaseException`` sees it."""


def hours_ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


def age(path, hours: float) -> None:
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))


def killed_fetch(monkeypatch, dataset, urls):
    """A version by reference whose fetch stored the first file, then the worker died: no
    clean-up ran (``_forget`` is what a dying process never gets to)."""
    version = services.version_add_references(actor=None, dataset=dataset, urls=urls)

    def chunks(url, **kwargs):
        if url.endswith("first.csv"):
            yield CSV.encode()
        else:
            raise Killed

    monkeypatch.setattr(fetch, "fetch_chunks", chunks)
    monkeypatch.setattr(versions_module, "_forget", lambda storage, keys: None)
    with pytest.raises(Killed):
        services.version_fetch(str(version.pk))
    monkeypatch.undo()
    version.refresh_from_db()
    return version


@pytest.fixture
def stuck(settings):
    settings.DATA_STUCK_MINUTES = 120


# --- 1. versions still fetching ------------------------------------------------------------------


def test_an_old_fetching_version_fails_and_keeps_no_file(stuck, monkeypatch, publisher):
    dataset = make_dataset(publisher["org"])
    urls = ["https://data.example.org/first.csv", "https://data.example.org/second.csv"]
    old = killed_fetch(monkeypatch, dataset, urls)
    assert old.status == "fetching"
    # what the dead fetch had stored is in the storage, referenced by nothing
    assert len(stored_keys()) == 1 and not Distribution.objects.exists()
    DatasetVersion.objects.filter(pk=old.pk).update(created_at=hours_ago(3))
    recent = services.version_add_references(
        actor=None, dataset=dataset, urls=["https://data.example.org/third.csv"]
    )

    assert services.data_sweep() == {**NOTHING, "versions": 1}
    old.refresh_from_db()
    assert old.status == "failed" and "worker stopped" in old.error
    assert old.distributions.count() == 0
    assert stored_keys() == []
    event = AuditEvent.objects.get(action="dataset.version_fetch_failed", object_id=str(old.pk))
    assert event.actor is None and event.changes["swept"] is True
    assert event.organisation_id == publisher["org"].pk
    recent.refresh_from_db()
    assert recent.status == "fetching" and recent.error == ""

    assert services.data_sweep() == NOTHING
    # the recent one goes too once it is old
    assert services.data_sweep(now=timezone.now() + timedelta(hours=3))["versions"] == 1


def test_a_fetch_still_queued_or_on_a_live_worker_is_left_alone(
    stuck, publisher, django_capture_on_commit_callbacks
):
    dataset = make_dataset(publisher["org"])
    with django_capture_on_commit_callbacks(execute=True):
        version = services.version_add_references(
            actor=None, dataset=dataset, urls=["https://data.example.org/a.csv"]
        )
    DatasetVersion.objects.filter(pk=version.pk).update(created_at=hours_ago(5))
    queued = DBTaskResult.objects.get(task_path__endswith="version_fetch")
    assert services.data_sweep()["versions"] == 0  # waiting in the queue

    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="host-1-abcdef", started_at=now, seen_at=now)
    DBTaskResult.objects.filter(pk=queued.pk).update(status="RUNNING", worker_ids=["host-1-abcdef"])
    assert services.data_sweep()["versions"] == 0  # a live worker holds it

    WorkerHeartbeat.objects.filter(pk="host-1-abcdef").update(seen_at=hours_ago(1))
    assert services.data_sweep()["versions"] == 1  # its worker is gone
    version.refresh_from_db()
    assert version.status == "failed"


def test_a_fetch_that_finishes_after_the_sweep_keeps_nothing(stuck, monkeypatch, publisher):
    """A worker taken for dead that was only slow: its late result is dropped, its files too."""
    dataset = make_dataset(publisher["org"])
    version = services.version_add_references(
        actor=None, dataset=dataset, urls=["https://data.example.org/a.csv"]
    )
    DatasetVersion.objects.filter(pk=version.pk).update(created_at=hours_ago(3))
    assert services.data_sweep()["versions"] == 1
    monkeypatch.setattr(fetch, "fetch_chunks", lambda url, **kwargs: iter([CSV.encode()]))
    assert services.version_fetch(str(version.pk)) == "failed"
    assert stored_keys() == [] and not Distribution.objects.exists()


# --- 2. files still waiting for profiling ------------------------------------------------------


def test_old_pending_profiling_fails_and_is_not_queued_again(
    stuck, publisher, django_capture_on_commit_callbacks
):
    dataset = make_dataset(publisher["org"])
    old = add_csv_version(dataset)  # its profiling task never ran: the worker died
    recent = add_csv_version(dataset)
    Distribution.objects.filter(version=old).update(created_at=hours_ago(3))

    with django_capture_on_commit_callbacks() as queued:
        assert services.data_sweep() == {**NOTHING, "profiles": 1}
    assert queued == []  # nothing re-queued: a file that kills the worker cannot loop
    dist = old.distributions.get()
    assert dist.profile_status == "failed" and dist.profiled_at is not None
    assert "Profiling did not finish" in dist.profile_error
    assert "out of memory" in dist.profile_error
    old.refresh_from_db()
    assert old.status == "ready" and old.quality_checked_at is not None
    event = AuditEvent.objects.get(action="dataset.profile_failed")
    assert event.actor is None and event.changes["files"] == ["data.csv"]
    assert recent.distributions.get().profile_status == "pending"
    # the file stays readable as stored
    assert stored_keys() == sorted(Distribution.objects.values_list("storage_key", flat=True))

    assert services.data_sweep() == NOTHING


def test_profiling_still_queued_is_left_alone(stuck, publisher, django_capture_on_commit_callbacks):
    dataset = make_dataset(publisher["org"])
    with django_capture_on_commit_callbacks(execute=True):
        version = add_csv_version(dataset)
    Distribution.objects.filter(version=version).update(created_at=hours_ago(3))
    assert services.data_sweep()["profiles"] == 0
    assert version.distributions.get().profile_status == "pending"


# --- 3. harvests still running -----------------------------------------------------------------


def file_source(operator, org, name):
    return services.harvest_source_create(
        actor=operator,
        data={"name": name, "publisher": org, "file": SimpleUploadedFile("catalog.ttl", TURTLE)},
    )


def killed_harvest(monkeypatch, source) -> HarvestRun:
    def dies(source):
        raise Killed

    monkeypatch.setattr(harvest_module.runs, "_read", dies)  # where harvest_run looks it up
    with pytest.raises(Killed):
        services.harvest_run(str(source.pk))
    monkeypatch.undo()
    return HarvestRun.objects.filter(source=source).latest("created_at")


def test_an_old_running_harvest_fails_and_its_source_says_so(
    stuck, monkeypatch, publisher, operator
):
    old_source = file_source(operator, publisher["org"], "old")
    recent_source = file_source(operator, publisher["org"], "recent")
    old = killed_harvest(monkeypatch, old_source)
    recent = killed_harvest(monkeypatch, recent_source)
    HarvestRun.objects.filter(pk=old.pk).update(created_at=hours_ago(3))
    HarvestSource.objects.filter(pk=old_source.pk).update(last_run_at=hours_ago(3))
    assert old.status == "running"

    assert services.data_sweep() == {**NOTHING, "harvests": 1}
    old.refresh_from_db()
    assert old.status == "failed" and old.finished_at is not None
    assert "harvest did not finish" in old.errors[-1]["error"]
    old_source.refresh_from_db()
    assert old_source.last_status == "failed"
    assert "harvest did not finish" in old_source.last_error
    assert old_source.last_counts["errors"] == 1
    event = AuditEvent.objects.get(action="harvest_source.harvest", object_id=str(old_source.pk))
    assert event.actor is None and event.changes["status"] == "failed"
    recent.refresh_from_db()
    recent_source.refresh_from_db()
    assert recent.status == "running" and recent_source.last_status == "running"

    assert services.data_sweep() == NOTHING
    # the source is harvested again at its interval, and that run goes as usual
    assert services.harvest_run(str(old_source.pk))["status"] == "done"


def test_an_old_stuck_run_behind_a_newer_one_leaves_the_source_alone(
    stuck, monkeypatch, publisher, operator
):
    source = file_source(operator, publisher["org"], "twice")
    old = killed_harvest(monkeypatch, source)
    HarvestRun.objects.filter(pk=old.pk).update(created_at=hours_ago(3))
    assert services.harvest_run(str(source.pk))["status"] == "done"
    assert services.data_sweep()["harvests"] == 1
    old.refresh_from_db()
    source.refresh_from_db()
    assert old.status == "failed"
    assert source.last_status == "done" and source.last_error == ""


def test_a_source_queued_by_a_lost_task_fails(stuck, publisher, operator):
    source = file_source(operator, publisher["org"], "lost")
    assert services.harvest_due() == [str(source.pk)]  # claimed; its task is never run
    source.refresh_from_db()
    assert source.last_status == "queued"
    assert services.data_sweep()["harvests"] == 0  # recent
    HarvestSource.objects.filter(pk=source.pk).update(last_run_at=hours_ago(3))
    assert services.data_sweep()["harvests"] == 1
    source.refresh_from_db()
    assert source.last_status == "failed" and "harvest did not finish" in source.last_error
    assert services.data_sweep() == NOTHING


# --- 4. partial files --------------------------------------------------------------------------


def test_old_partial_files_go_and_live_files_stay(stuck, settings, publisher):
    dataset = make_dataset(publisher["org"])
    version = add_csv_version(dataset)
    root, staging = settings.DATA_FILES_DIR, settings.DATA_UPLOAD_DIR
    stored = root / version.distributions.get().storage_key
    part_old = root / "versions" / str(uuid.uuid4()) / ".part-abc123xy"
    part_recent = root / "versions" / str(uuid.uuid4()) / ".part-def456uv"
    # A stored object whose name merely starts like a partial file (not made by mkstemp).
    lookalike = root / "harvest" / str(uuid.uuid4()) / ".part-catalog.ttl"
    for path in (part_old, part_recent, lookalike):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half a file")

    member = publisher["member"]
    # an open upload (live), and a used one whose staged file the dead process did not delete
    open_upload = services.upload_start(actor=member, dataset=dataset, name="a.csv", size=100)
    used = services.upload_start(actor=member, dataset=dataset, name="b.csv", size=len(CSV))
    services.upload_append(actor=member, upload=used, offset=0, chunks=[CSV.encode()])
    services.version_create(actor=member, dataset=dataset, uploads=[used])
    used_file = versions_module.upload_path(used)
    open_file = versions_module.upload_path(open_upload)
    assert used_file.exists() and open_file.exists()
    orphan = staging / str(uuid.uuid4())
    orphan.write_bytes(b"staged bytes of an upload that is gone")
    recent_orphan = staging / str(uuid.uuid4())
    recent_orphan.write_bytes(b"staged just now")
    workdir = staging / ".profile-x1y2"
    (workdir / "spill").mkdir(parents=True)
    (workdir / "data.parquet").write_bytes(b"PAR1")
    s3_copy = staging / "aifactory-s3-abc.csv"
    s3_copy.write_bytes(b"a local copy")
    unknown = staging / "notes.txt"
    unknown.write_text("not ours")
    for path in (
        stored,
        lookalike,
        part_old,
        used_file,
        open_file,
        orphan,
        workdir / "spill",
        workdir / "data.parquet",
        workdir,
        s3_copy,
        unknown,
    ):
        age(path, 3)

    assert services.data_sweep() == {**NOTHING, "files": 5}
    assert not part_old.exists() and part_recent.exists()
    assert not used_file.exists() and not orphan.exists()
    assert not workdir.exists() and not s3_copy.exists()
    assert open_file.exists() and recent_orphan.exists() and unknown.exists()
    assert stored.exists() and lookalike.exists()
    assert sorted(stored_keys()) == sorted(
        Distribution.objects.values_list("storage_key", flat=True)
    )
    event = AuditEvent.objects.get(action="data.sweep_files")
    assert event.actor is None and event.changes["count"] == 5

    assert services.data_sweep() == NOTHING


def test_working_folders_stay_while_a_live_worker_profiles(stuck, settings, data_storage):
    """A long profile reads its working folder and its S3 copy for hours without writing them."""
    workdir = settings.DATA_UPLOAD_DIR / ".profile-long"
    workdir.mkdir(parents=True)
    s3_copy = settings.DATA_UPLOAD_DIR / "aifactory-s3-long.csv"
    s3_copy.write_bytes(b"read, not written")
    for path in (workdir, s3_copy):
        age(path, 3)
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="host-2-abcdef", started_at=now, seen_at=now)
    result = tasks.version_profile.enqueue(str(uuid.uuid4()))
    DBTaskResult.objects.filter(pk=result.id).update(status="RUNNING", worker_ids=["host-2-abcdef"])
    assert services.data_sweep()["files"] == 0
    assert workdir.exists() and s3_copy.exists()

    WorkerHeartbeat.objects.filter(pk="host-2-abcdef").update(seen_at=hours_ago(1))
    assert services.data_sweep()["files"] == 2  # its worker is gone
    assert not workdir.exists() and not s3_copy.exists()


def test_a_harvest_file_is_never_stored_under_a_hidden_name(publisher, operator, data_storage):
    upload = SimpleUploadedFile(".part-catalog.ttl", TURTLE)
    source = services.harvest_source_create(
        actor=operator, data={"name": "hidden", "publisher": publisher["org"], "file": upload}
    )
    assert not source.file_key.rsplit("/", 1)[-1].startswith(".")


def test_a_working_folder_in_use_is_not_taken(stuck, settings, data_storage):
    workdir = settings.DATA_UPLOAD_DIR / ".profile-busy"
    workdir.mkdir(parents=True)
    (workdir / "data.parquet").write_bytes(b"being written")
    age(workdir, 3)  # the folder is old, what it holds was written just now
    assert services.data_sweep()["files"] == 0
    assert workdir.exists()


# --- the periodic task ------------------------------------------------------------------------


def test_the_sweep_is_a_periodic_task(settings, data_storage):
    entry = {p.name: p for p in periodic.registered()}["data.sweep"]
    assert entry.task is tasks.data_sweep_due
    assert entry.seconds == settings.DATA_SWEEP_SECONDS == 900
    assert settings.DATA_STUCK_MINUTES == 120
    assert tasks.data_sweep_due.call() == NOTHING
