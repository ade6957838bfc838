"""Versions through the services: files streamed in, numbering, digests, format detection, and bad
input (empty files, path traversal, repeated names, the size limit, a zip bomb) that leaves
nothing behind, in the database nor in the storage. The same on S3 (moto's server)."""

import hashlib
import io
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tasks_db.models import DBTaskResult

from aifactory.data import formats, services
from aifactory.data.models import DatasetVersion, Distribution
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import (
    CSV,
    add_csv_version,
    add_version,
    make_dataset,
    stored_keys,
)

pytestmark = pytest.mark.django_db


def xlsx_bytes() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "name"])
    sheet.append([1, "Esch"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def zip_bomb_xlsx() -> bytes:
    """A workbook whose one sheet unpacks to 256 MB of zeros (about 250 kB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            zeros = b"\0" * (1024 * 1024)
            for _ in range(256):
                sheet.write(zeros)
    return out.getvalue()


def test_version_holds_its_files_with_digests_and_is_numbered(publisher, data_storage):
    dataset = make_dataset(publisher["org"])
    version = add_csv_version(dataset, actor=publisher["member"], note="first")
    assert (version.number, version.status, version.note) == (1, "ready", "first")
    (dist,) = version.distributions.all()
    body = CSV.encode()
    assert (dist.name, dist.format, dist.media_type) == ("data.csv", "csv", "text/csv")
    assert (dist.size, dist.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert dist.profile_status == "pending"
    with data_storage.open(dist.storage_key) as stored:
        assert stored.read() == body
    second = add_version(
        dataset, [("a.tsv", b"x\ty\n1\t2\n"), ("b.parquet", b"PAR1....PAR1")], note="second"
    )
    assert second.number == 2
    assert sorted(second.distributions.values_list("name", "format")) == [
        ("a.tsv", "tsv"),
        ("b.parquet", "parquet"),
    ]
    assert version.created_by == publisher["member"]
    assert stored_keys() == sorted(Distribution.objects.values_list("storage_key", flat=True))


def test_profiling_is_enqueued_after_the_commit(publisher, django_capture_on_commit_callbacks):
    dataset = make_dataset(publisher["org"])
    with django_capture_on_commit_callbacks(execute=True):
        version = add_csv_version(dataset)
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("version_profile")
    assert task.args_kwargs["args"] == [str(version.pk)]


def test_a_bad_file_among_good_ones_leaves_nothing(publisher, data_storage):
    dataset = make_dataset(publisher["org"])
    with pytest.raises(ValidationError) as caught:
        add_version(dataset, [("good.csv", CSV.encode()), ("empty.csv", b"")])
    assert "empty.csv is empty" in caught.value.message_dict["files"][0]
    assert not DatasetVersion.objects.exists()
    assert stored_keys() == []


def test_an_error_midway_through_a_stream_leaves_nothing(publisher, data_storage):
    dataset = make_dataset(publisher["org"])

    def broken():
        yield b"id,x\n" * 1000
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        add_version(dataset, [("good.csv", CSV.encode()), ("broken.csv", broken())])
    assert not DatasetVersion.objects.exists() and stored_keys() == []
    # The next version is still number 1.
    assert add_csv_version(dataset).number == 1


def test_size_limit_names_the_file(publisher, data_storage, settings):
    settings.DATA_MAX_FILE_MB = 1
    dataset = make_dataset(publisher["org"])
    with pytest.raises(ValidationError) as caught:
        add_version(dataset, [("huge.csv", iter([b"a,b\n" * 100_000] * 3))])
    assert "huge.csv" in caught.value.message_dict["files"][0]
    assert "1 MB" in caught.value.message_dict["files"][0]
    assert stored_keys() == [] and not DatasetVersion.objects.exists()


@pytest.mark.parametrize(
    "given, kept",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/abs/path/data.csv", "data.csv"),
        ("ev\x00il\r\n.csv", "evil.csv"),
        (".hidden.csv", "hidden.csv"),
        ("r\u00e9sum\u00e9 2024.csv", "r\u00e9sum\u00e9 2024.csv"),
    ],
)
def test_file_names_are_made_safe(publisher, data_storage, given, kept):
    dataset = make_dataset(publisher["org"])
    version = add_version(dataset, [(given, CSV.encode())])
    dist = version.distributions.get()
    assert dist.name == kept
    assert dist.storage_key.startswith("versions/") and ".." not in dist.storage_key
    assert data_storage.exists(dist.storage_key)


@pytest.mark.parametrize("name", ["..", "../", "\x00\x01", "   ", "a/.."])
def test_names_with_nothing_left_are_refused(publisher, data_storage, name):
    dataset = make_dataset(publisher["org"])
    with pytest.raises(ValidationError) as caught:
        add_version(dataset, [(name, CSV.encode())])
    assert "files" in caught.value.message_dict
    assert stored_keys() == []


def test_repeated_names_are_refused_with_the_name(publisher, data_storage):
    dataset = make_dataset(publisher["org"])
    with pytest.raises(ValidationError) as caught:
        add_version(dataset, [("a/data.csv", CSV.encode()), ("b/DATA.csv", CSV.encode())])
    assert "DATA.csv" in caught.value.message_dict["files"][0]
    assert stored_keys() == []


def test_no_files_is_refused(publisher):
    dataset = make_dataset(publisher["org"])
    with pytest.raises(ValidationError):
        services.version_create(actor=None, dataset=dataset)


def test_outsider_cannot_add_a_version(publisher, data_storage):
    dataset = make_dataset(publisher["org"], publish=True)
    with pytest.raises(PermissionDenied):
        add_csv_version(dataset, actor=publisher["outsider"])
    assert stored_keys() == []


@pytest.mark.parametrize(
    "name, head, expected",
    [
        ("data.csv", b"a,b\n1,2\n", "csv"),
        ("data.tsv", b"a\tb\n", "tsv"),
        ("x.bin", b"PAR1\x15\x04", "parquet"),
        ("data.parquet", b"not parquet", "other"),
        ("rows.jsonl", b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        ("doc.json", b'[{"a": 1}]', "json"),
        ("noext", b'[{"a": 1}]', "json"),
        ("noext2", b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        ("book.xlsx", b"PK\x03\x04rest", "xlsx"),
        ("book.xlsx", b"a,b\n", "other"),
        ("data.csv", b"PK\x03\x04zip in disguise", "other"),
        ("data.csv", b"\x1f\x8b\x08gzip", "other"),
        ("archive.zip", b"PK\x03\x04", "other"),
        ("bom.csv", b"\xef\xbb\xbfa;b\n", "csv"),
        ("utf16.csv", b"\xff\xfea\x00,\x00b\x00", "csv"),
        ("binary.csv", bytes(range(256)), "other"),
    ],
)
def test_detect(name, head, expected):
    assert formats.detect(name, head)[0] == expected


def test_excel_is_detected_and_checked(publisher, data_storage):
    dataset = make_dataset(publisher["org"])
    version = add_version(dataset, [("book.xlsx", xlsx_bytes())])
    dist = version.distributions.get()
    assert (dist.format, dist.warnings, dist.profile_status) == ("xlsx", [], "pending")


def test_a_zip_that_is_no_workbook_is_stored_as_other(publisher, data_storage):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    dataset = make_dataset(publisher["org"])
    dist = add_version(dataset, [("fake.xlsx", out.getvalue())]).distributions.get()
    assert dist.format == "other" and dist.warnings[0]["code"] == "not_xlsx"
    assert dist.profile_status == ""


def test_zip_bomb_workbook_is_stored_flagged_and_not_profiled(
    publisher, data_storage, zip_bomb_xlsx
):
    dataset = make_dataset(publisher["org"])
    version = add_version(dataset, [("bomb.xlsx", zip_bomb_xlsx)])
    dist = version.distributions.get()
    assert dist.format == "xlsx"
    assert dist.size == len(zip_bomb_xlsx) < 2 * 1024 * 1024
    assert [w["code"] for w in dist.warnings] == ["zip_bomb"]
    assert dist.profile_status == ""


def test_zip_archive_is_stored_as_other_and_not_unpacked(publisher, data_storage, zip_bomb_xlsx):
    dataset = make_dataset(publisher["org"])
    dist = add_version(dataset, [("bomb.zip", zip_bomb_xlsx)]).distributions.get()
    assert (dist.format, dist.media_type, dist.profile_status) == ("other", "application/zip", "")
    assert dist.size == len(zip_bomb_xlsx)


def test_version_create_on_s3(publisher, s3_storage):
    dataset = make_dataset(publisher["org"])
    version = add_version(dataset, [("data.csv", CSV.encode()), ("b.jsonl", b'{"a":1}\n')])
    assert version.distributions.count() == 2
    for dist in version.distributions.all():
        with s3_storage.open(dist.storage_key) as body:
            assert hashlib.sha256(body.read()).hexdigest() == dist.sha256
    with pytest.raises(ValidationError):
        add_version(dataset, [("c.csv", CSV.encode()), ("d.csv", b"")])
    assert sorted(s3_storage.keys()) == sorted(
        Distribution.objects.values_list("storage_key", flat=True)
    )
    assert version.number == 1 and DatasetVersion.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_versions_get_distinct_numbers(publisher, data_storage):
    import threading

    from django.db import connection

    dataset = make_dataset(publisher["org"])
    errors, barrier = [], threading.Barrier(4)

    def add(n):
        try:
            barrier.wait()
            add_version(dataset, [(f"part{n}.csv", CSV.encode())])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(dataset.versions.values_list("number", flat=True)) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "given, limit_bytes",
    [("\u00e9" * 300 + ".csv", 200), ("\u00e9" * 300, 200), ("a" + "\u20ac" * 100 + ".csv", 200)],
)
def test_long_names_are_cut_by_bytes_keeping_the_extension(
    publisher, data_storage, given, limit_bytes
):
    dataset = make_dataset(publisher["org"])
    name = add_version(dataset, [(given, CSV.encode())]).distributions.get().name
    assert len(name.encode()) <= limit_bytes and given.startswith(name.rsplit(".csv", 1)[0])
    assert name.endswith(".csv") == given.endswith(".csv")
    assert services.safe_name("\u00e9" * 200) == "\u00e9" * 100


def _formats(dataset):
    dataset.refresh_from_db()
    return next(r for r in dataset.metadata_reasons if r["field"] == "formats")


def test_the_metadata_score_counts_a_new_versions_formats(publisher, data_storage):
    dataset = make_dataset(publisher["org"])
    before = dataset.metadata_score
    assert _formats(dataset)["points"] == 0  # no data yet
    add_version(dataset, [("report.pdf", b"%PDF-1.4 not data")])
    assert _formats(dataset)["points"] == 0  # not machine-readable
    assert dataset.metadata_score == before
    add_csv_version(dataset)
    assert _formats(dataset)["points"] == 6
    assert dataset.metadata_score == before + 6


def test_the_metadata_score_counts_a_fetched_versions_formats(publisher, data_storage, monkeypatch):
    from aifactory.data import fetch
    from aifactory.data.models import VersionStatus

    dataset = make_dataset(publisher["org"])
    before = dataset.metadata_score
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        status=VersionStatus.FETCHING,
        references=[{"url": "https://data.example.org/use.csv", "name": "use.csv"}],
    )
    monkeypatch.setattr(fetch, "fetch_chunks", lambda url, **kw: iter([CSV.encode()]))
    assert services.version_fetch(str(version.pk)) == VersionStatus.READY
    assert _formats(dataset)["points"] == 6
    assert dataset.metadata_score == before + 6
