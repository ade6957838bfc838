"""Job templates: typed parameters with errors naming them, values that stay data in the shell,
and a text classifier that really trains when its script runs."""

import csv
import json
import os
import random
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError

from aifactory.compute import job_templates
from aifactory.compute.job_templates import END_OF_PARAMETERS, render, templates
from aifactory.core.errors import field_errors

NASTY = [
    "$(touch PWNED1)",
    "`touch PWNED2`",
    "'; touch PWNED3; '",
    '"; touch PWNED4; "',
    "a b\tc * ? [x] ~ $HOME ${PATH} \\ ! # ;|&<>",
    "ünïcödé ☃",
]


def tc_python() -> str:
    return job_templates.template("text-classifier").params[-1].default


def errors(exc_info) -> dict:
    return field_errors(exc_info.value)


def run_bash(script: str, cwd, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_every_template_describes_itself():
    names = [t.name for t in templates()]
    assert names == ["text-classifier", "batch-inference", "container", "script"]
    for t in templates():
        d = t.as_dict()
        assert d["title"] and d["description"]
        assert all(p["help"] for p in d["params"])
    tc = {p.name: p for p in job_templates.template("text-classifier").params}
    assert tc["python"].default == (
        job_templates.SYSTEM_PYTHON if os.geteuid() == 0 else sys.executable
    )
    assert tc["data"].required and not tc["test_size"].required


def test_unknown_missing_and_bad_values_are_named():
    with pytest.raises(ValidationError) as exc:
        render("nope", {})
    assert "template" in errors(exc)
    with pytest.raises(ValidationError) as exc:
        render(
            "text-classifier",
            {"colour": "red", "test_size": "0.9", "max_features": "many", "seed": 1.5},
        )
    found = errors(exc)
    assert set(found) == {
        "params.colour",
        "params.data",
        "params.test_size",
        "params.max_features",
        "params.seed",
    }
    assert "at most 0.5" in found["params.test_size"][0]
    with pytest.raises(ValidationError) as exc:
        render("container", {"image": "x.sif", "command": "true", "runtime": "docker"})
    assert "apptainer, enroot" in errors(exc)["params.runtime"][0]
    with pytest.raises(ValidationError) as exc:
        render("batch-inference", {"input": "a\nb", "command": "cat"})
    assert set(errors(exc)) == {"params.input"}  # one line; a command may have several
    with pytest.raises(ValidationError) as exc:
        render("script", {"script": "echo \0"})
    assert set(errors(exc)) == {"params.script"}
    with pytest.raises(ValidationError) as exc:
        render("text-classifier", {"data": "d.csv", "seed": True})
    assert set(errors(exc)) == {"params.seed"}


def test_defaults_and_types_are_filled_in():
    assert job_templates.clean("text-classifier", {"data": "d.csv", "seed": "7"}) == {
        "data": "d.csv",
        "text_column": "text",
        "label_column": "label",
        "test_size": 0.2,
        "max_features": 50000,
        "regularisation": 1.0,
        "seed": 7,
        "output": ".",
        "python": tc_python(),
    }


@pytest.mark.parametrize("name", ["text-classifier", "batch-inference", "container", "script"])
def test_every_value_stays_data_in_the_shell(name, tmp_path):
    tpl = job_templates.template(name)
    for nasty in NASTY:
        params = {}
        for p in tpl.params:
            if p.kind in ("str", "text"):
                params[p.name] = nasty
        script = render(name, params)
        header = script.split(END_OF_PARAMETERS)[0]
        # Only the assignments run: every value comes back exactly and nothing ran.
        shown = [f'printf "%s\\0" "${p.name.upper()}"' for p in tpl.params if p.name in params]
        done = run_bash(header + "\n" + "\n".join(shown), tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\0")[:-1] == [nasty] * len(shown)
        assert not list(tmp_path.glob("PWNED*"))
        assert run_bash(f"bash -n <<'EOF'\n{script}\nEOF", tmp_path).returncode == 0


def test_a_nasty_file_name_is_only_a_file_name(tmp_path):
    data = "x$(touch PWNED).csv';touch PWNED2;'`touch PWNED3`"
    done = run_bash(render("text-classifier", {"data": data}), tmp_path)
    assert done.returncode != 0
    assert "No such file" in done.stderr and data in done.stderr
    assert not list(tmp_path.glob("PWNED*"))


def write_reviews(path, rows=240, seed=3):
    good = [
        "great",
        "excellent",
        "wonderful",
        "friendly",
        "fast",
        "delicious",
        "lovely",
        "recommend",
    ]
    bad = ["awful", "terrible", "slow", "rude", "cold", "dirty", "broken", "refund"]
    filler = [
        "the",
        "a",
        "service",
        "food",
        "room",
        "staff",
        "day",
        "we",
        "it",
        "was",
        "and",
        "very",
    ]
    rnd = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        for n in range(rows):
            label = "positive" if n % 2 else "negative"
            words = rnd.sample(good if n % 2 else bad, 2) + rnd.sample(filler, 5)
            rnd.shuffle(words)
            w.writerow([n, " ".join(words) + ", really", label])


def test_text_classifier_really_trains_on_a_csv(tmp_path):
    write_reviews(tmp_path / "reviews, 2026.csv")
    script = render("text-classifier", {"data": "reviews, 2026.csv", "output": "out dir"})
    done = run_bash(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "accuracy " in done.stdout and "held-out" in done.stdout
    metrics = json.loads((tmp_path / "out dir" / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9
    assert (metrics["train_rows"], metrics["test_rows"]) == (192, 48)
    assert metrics["labels"] == ["negative", "positive"]
    # The model loads and predicts with the Python that trained it (joblib files are tied to it).
    predict = (
        "import joblib; m = joblib.load('out dir/model.joblib'); "
        "print(*m.predict(['wonderful and delicious', 'rude and dirty']))"
    )
    done = subprocess.run(
        [tc_python(), "-c", predict], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "positive negative\n", done.stderr


def test_text_classifier_says_what_is_wrong_with_the_data(tmp_path):
    (tmp_path / "d.csv").write_text("body,label\nhello,a\n")
    done = run_bash(render("text-classifier", {"data": "d.csv"}), tmp_path)
    assert done.returncode != 0 and "no column text" in done.stderr
    done = run_bash(
        render("text-classifier", {"data": "d.csv", "python": "/nowhere/python"}), tmp_path
    )
    assert done.returncode == 2 and "set the python parameter" in done.stderr


def test_batch_inference_over_lines_and_over_files(tmp_path):
    (tmp_path / "in.txt").write_text("one\ntwo words\nthree")
    done = run_bash(
        render("batch-inference", {"input": "in.txt", "command": 'tr a-z A-Z; echo "[$ITEM]"'}),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "3 items, 0 failed" in done.stdout
    assert (tmp_path / "outputs" / "000002.out").read_text() == "TWO WORDS\n[two words]\n"
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    (folder / "b.txt").write_text("beta")
    done = run_bash(
        render(
            "batch-inference",
            {"input": "docs", "command": "wc -c; test $(cat) != beta", "output": "res"},
        ),
        tmp_path,
    )
    assert done.returncode == 1
    assert "2 items, 1 failed" in done.stdout and "b.txt" in done.stderr
    assert (tmp_path / "res" / "a.txt.out").read_text().strip() == "5"


def test_container_needs_its_runtime(tmp_path):
    script = render("container", {"image": "docker://alpine", "command": "true"})
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 127 and "apptainer is not installed" in done.stderr
    assert "exec apptainer exec" in script and 'enroot start "${args[@]}"' in script


def test_a_plain_script_runs_as_written(tmp_path):
    done = run_bash(render("script", {"script": "echo hello from $0 > hello.txt\n"}), tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "hello.txt").read_text() == "hello from ./job-script\n"
    python = f"#!{sys.executable}\nprint('python', 6 * 7)"
    done = run_bash(render("script", {"script": python}), tmp_path)
    assert done.stdout == "python 42\n"
