"""`aifactory access projects` and `aifactory access import-allocation`."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from aifactory.access.models import Project

from .projects_helpers import *  # noqa: F403 - the fixtures
from .projects_helpers import external


def run(*args) -> str:
    out = io.StringIO()
    call_command("access", *args, stdout=out)
    return out.getvalue()


def test_projects_list_text_and_json(team, project):
    text = run("projects")
    assert project.code in text and "gpu_hours 1200" in text
    rows = json.loads(run("projects", "--json"))
    assert rows[0]["code"] == project.code
    assert rows[0]["allocations"][0]["slurm_account"] == project.allocations.get().slurm_account
    assert {m["role"] for m in rows[0]["members"]} == {"pi", "manager", "member"}


def test_no_projects(db):
    assert "No projects." in run("projects")


def test_import_allocation_from_a_file_then_stdin(team, tmp_path, monkeypatch):
    path = tmp_path / "allocation.json"
    path.write_text(json.dumps(external()), encoding="utf-8")
    text = run("import-allocation", str(path))
    assert text.startswith("Created project") and "eurohpc EHPC-AI-2026-001" in text
    monkeypatch.setattr(
        "sys.stdin", io.StringIO(json.dumps(external(resources={"gpu_hours": 9000})))
    )
    text = run("import-allocation", "-")
    assert text.startswith("Updated project") and "gpu_hours 9000" in text
    assert Project.objects.count() == 1


def test_import_allocation_errors_by_field(team, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(external(pi="ghost@nowhere.example", start="never")), encoding="utf-8"
    )
    with pytest.raises(CommandError) as exc:
        run("import-allocation", str(path))
    assert "pi:" in str(exc.value) and "start:" in str(exc.value)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        run("import-allocation", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        run("import-allocation", str(tmp_path / "missing.json"))
    assert not Project.objects.exists()
