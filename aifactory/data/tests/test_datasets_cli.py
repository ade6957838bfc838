"""`aifactory datasets ...`: add files as a new dataset or a new version, list, show, publish and
archive; errors name the option."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from aifactory.data.models import Dataset, DatasetVersion
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import CSV, make_dataset, stored_keys

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("datasets", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def files(tmp_path):
    csv = tmp_path / "energy.csv"
    csv.write_text(CSV, encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"a": 1}\n', encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    return {"csv": str(csv), "rows": str(rows), "empty": str(empty)}


def test_add_a_new_dataset_and_then_a_version(publisher, files):
    org = publisher["org"]
    output = run(
        "add",
        files["csv"],
        files["rows"],
        "--title",
        "Energy use",
        "--org",
        org.legal_name,
        "--access",
        "public",
        "--note",
        "first",
        "--publish",
    )
    assert output.startswith("energy-use: version 1 (published)")
    assert "energy.csv\tcsv" in output
    dataset = Dataset.objects.get()
    assert (dataset.status, dataset.access_rights) == ("published", "public")
    data = json.loads(
        run("add", files["csv"], "--dataset", "energy-use", "--note", "second", "--json")
    )
    assert [v["number"] for v in data["versions"]] == [2, 1]
    assert data["versions"][0]["files"][0]["name"] == "energy.csv"


def test_add_as_a_person_checks_their_rights(publisher, files):
    org = publisher["org"]
    with pytest.raises(CommandError, match="--user"):
        run(
            "add",
            files["csv"],
            "--title",
            "X",
            "--org",
            str(org.pk),
            "--user",
            "outsider@other.example",
        )
    run(
        "add",
        files["csv"],
        "--title",
        "Mine",
        "--org",
        str(org.pk),
        "--user",
        "member@publisher.example",
    )
    assert Dataset.objects.get().slug == "mine"
    with pytest.raises(CommandError, match="--user"):
        run("publish", "mine", "--user", "member@publisher.example")
    assert (
        run("publish", "mine", "--user", "steward@publisher.example").strip() == "mine: published"
    )
    assert run("archive", "mine").strip() == "mine: archived"


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "/nonexistent.csv", "--title", "X", "--org", "Publisher S.A."], "FILE"),
        (["add", "{empty}", "--title", "X", "--org", "Publisher S.A."], "empty.csv is empty"),
        (["add", "{csv}", "--org", "Publisher S.A."], "--title"),
        (["add", "{csv}", "--title", "X"], "--org"),
        (["add", "{csv}", "--title", "X", "--org", "Nobody Ltd"], "--org"),
        (
            ["add", "{csv}", "--title", "X", "--org", "Publisher S.A.", "--slug", "Bad Slug"],
            "--slug",
        ),
        (["add", "{csv}", "--dataset", "missing"], "--dataset"),
        (["show", "missing"], "SLUG"),
    ],
)
def test_errors_name_the_option(publisher, files, args, message):
    args = [a.format(**files) for a in args]
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Dataset.objects.exists() and stored_keys() == []


def test_a_refused_first_version_leaves_no_draft(publisher, files, settings):
    settings.DATA_MAX_FILE_MB = 0
    with pytest.raises(CommandError, match="FILE: energy.csv is larger"):
        run("add", files["csv"], "--title", "X", "--org", "Publisher S.A.")
    assert not Dataset.objects.exists() and not DatasetVersion.objects.exists()


def test_list_and_show(publisher, files):
    make_dataset(publisher["org"], title={"en": "Bus lines"}, publish=True)
    run("add", files["csv"], "--title", "Energy use", "--org", "Publisher S.A.")
    listed = run("list")
    assert "bus-lines\tpublished" in listed and "energy-use\tdraft" in listed
    rows = json.loads(run("list", "--json", "--status", "draft"))
    assert [r["slug"] for r in rows] == ["energy-use"]
    shown = run("show", "energy-use")
    assert "version 1 (ready)" in shown and "energy.csv" in shown
    data = json.loads(run("show", "energy-use", "--json"))
    assert data["versions"][0]["files"][0]["size"] == len(CSV.encode())
