"""`aifactory catalog`: real processes on the test database."""

import json

import pytest

from aifactory.catalog.models import Offering
from aifactory.core.models import AuditEvent
from aifactory.core.tests import processes

from .conftest import record

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_list_and_export(tmp_path):
    source = tmp_path / "offerings.json"
    source.write_text(
        json.dumps([record(), record(id="course-ki", type="course", title="KI für Bäcker")]),
        encoding="utf-8",
    )
    result = processes.run("catalog", "import", str(source), "--demo")
    assert result.returncode == 0, result.stderr
    assert "2 created, 0 updated, 0 unchanged" in result.stdout
    assert Offering.objects.filter(is_demo=True, status="published").count() == 2
    assert AuditEvent.objects.get(action="catalog.import").actor_repr == "system"

    again = processes.run("catalog", "import", str(source), "--demo")
    assert "0 created, 0 updated, 2 unchanged" in again.stdout

    listing = processes.run("catalog", "list", "--type", "course")
    assert listing.stdout.split() == [
        "course-ki",
        "course",
        "published",
        "KI",
        "für",
        "Bäcker",
        "demo",
    ]

    exported = tmp_path / "export.json"
    assert processes.run("catalog", "export", str(exported)).returncode == 0
    on_stdout = processes.run("catalog", "export").stdout
    assert json.loads(exported.read_text(encoding="utf-8")) == json.loads(on_stdout)
    assert [r["id"] for r in json.loads(on_stdout)] == ["course-ki", "sol-bakery-forecast"]


def test_a_bad_file_prints_one_line_per_error_and_writes_nothing(tmp_path):
    source = tmp_path / "bad.json"
    records = [record(), record(id="sol-x", sectors=["foo"]), record(id="t", title="x" * 20_000)]
    source.write_text(json.dumps(records), encoding="utf-8")
    result = processes.run("catalog", "import", str(source))
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert "record 1 (sol-x): sectors: Unknown sector: “foo”." in lines
    assert "record 2 (t): title: At most 200 characters (20000 given)." in lines
    assert f"{source}: 2 error(s); nothing was imported" in result.stderr
    assert "Traceback" not in result.stderr
    assert not Offering.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"id": "a",', "not valid JSON: Expecting"),
        (b"\xff\xfe\x00", "cannot read it"),
        ('{"id": "a"}', "file: Give a JSON array of offerings."),
    ],
)
def test_malformed_files_are_refused_clearly(tmp_path, content, message):
    source = tmp_path / "broken.json"
    if isinstance(content, bytes):
        source.write_bytes(content)
    else:
        source.write_text(content, encoding="utf-8")
    result = processes.run("catalog", "import", str(source))
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not Offering.objects.exists()


def test_a_missing_file_is_named(tmp_path):
    result = processes.run("catalog", "import", str(tmp_path / "nowhere.json"))
    assert result.returncode != 0 and "nowhere.json: cannot read it" in result.stderr
