"""Job templates: common AI work as parameterised batch scripts.

A template is a bash script body plus typed parameters with defaults and help. :func:`render`
checks the values and writes them as shell-quoted variable assignments at the top of the script
(``DATA='my file.csv'``); the body only ever uses them in double quotes (``"$DATA"``), so a value
is data and never code, whatever characters it holds. The parameters that *are* code (the
command of ``batch-inference`` and ``container``, the script of ``script``) are the person's own
program, run as their own cluster account like any script they submit.

Scripts run in the job's working folder (the local backend's folder, Slurm's ``--chdir``) and
write their results there. ``text-classifier`` needs a Python with scikit-learn where the job
runs: its ``python`` parameter defaults to the portal's own interpreter, which is right for the
``local`` backend (or to /usr/bin/python3 when the portal runs as root, see ``_python``); on a
Slurm cluster pass the cluster's (a module's or a virtualenv's python).
"""

import os
import shlex
import sys
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# Placed between the parameters and the body of every rendered script.
END_OF_PARAMETERS = "# --- end of parameters ---"


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "str" (one line), "text" (several lines), "int", "float", "choice"
    help: str
    default: object = None  # None: required
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def required(self) -> bool:
        return self.default is None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "help": str(self.help),
            "default": self.default,
            "required": self.required,
            "choices": list(self.choices),
            "minimum": self.minimum,
            "maximum": self.maximum,
        }


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    body: str
    params: tuple[Param, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "title": str(self.title),
            "description": str(self.description),
            "params": [p.as_dict() for p in self.params],
        }


TEXT_CLASSIFIER = r"""
if ! "$PYTHON" -c "import sklearn, joblib" 2>/dev/null; then
    echo "text-classifier: $PYTHON cannot import scikit-learn; set the python parameter" >&2
    exit 2
fi
"$PYTHON" - "$DATA" "$TEXT_COLUMN" "$LABEL_COLUMN" "$TEST_SIZE" "$MAX_FEATURES" \
    "$REGULARISATION" "$SEED" "$OUTPUT" <<'PYTHON_EOF'
import csv
import json
import sys
import time
from pathlib import Path

import joblib
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

data, text_col, label_col, test_size, max_features, c, seed, output = sys.argv[1:9]
test_size, max_features, c, seed = float(test_size), int(max_features), float(c), int(seed)
csv.field_size_limit(sys.maxsize)
with open(data, newline="", encoding="utf-8-sig") as f:
    reader = csv.DictReader(f)
    missing = sorted({text_col, label_col} - set(reader.fieldnames or []))
    if missing:
        sys.exit(f"{data}: no column {', '.join(missing)} (it has: {', '.join(reader.fieldnames or [])})")
    rows = [(r[text_col] or "", r[label_col].strip()) for r in reader if (r[label_col] or "").strip()]
labels = [label for _, label in rows]
classes = sorted(set(labels))
if len(rows) < 4 or len(classes) < 2:
    sys.exit(f"{data}: needs at least 4 labelled rows and 2 labels (has {len(rows)} and {len(classes)})")
texts = [text for text, _ in rows]
try:  # keep each label's share in the held-out split where there are enough rows
    split = train_test_split(texts, labels, test_size=test_size, random_state=seed, stratify=labels)
except ValueError:
    split = train_test_split(texts, labels, test_size=test_size, random_state=seed)
x_train, x_test, y_train, y_test = split
model = make_pipeline(
    TfidfVectorizer(max_features=max_features, ngram_range=(1, 2), sublinear_tf=True),
    LogisticRegression(C=c, max_iter=1000),
)
started = time.monotonic()
model.fit(x_train, y_train)
seconds = time.monotonic() - started
predicted = model.predict(x_test)
accuracy = accuracy_score(y_test, predicted)
macro_f1 = f1_score(y_test, predicted, average="macro")
out = Path(output)
out.mkdir(parents=True, exist_ok=True)
joblib.dump(model, out / "model.joblib")
metrics = {
    "accuracy": round(accuracy, 4),
    "macro_f1": round(macro_f1, 4),
    "train_rows": len(y_train),
    "test_rows": len(y_test),
    "labels": classes,
    "train_seconds": round(seconds, 3),
    "model": "tf-idf (1-2 grams) + logistic regression",
}
(out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
print(f"accuracy {accuracy:.4f} on {len(y_test)} held-out rows (macro F1 {macro_f1:.4f}); "
      f"trained on {len(y_train)} rows in {seconds:.1f}s")
print(f"wrote {out / 'model.joblib'} and {out / 'metrics.json'}")
PYTHON_EOF
"""

BATCH_INFERENCE = r"""
mkdir -p -- "$OUTPUT"
items=0
failed=0
run_one() {  # $1: the item (a line or a file), $2: where its output goes; input on stdin
    if ITEM="$1" bash -c "$COMMAND" > "$2"; then :; else
        echo "batch-inference: item $items failed: $1" >&2
        failed=$((failed + 1))
    fi
}
if [ -d "$INPUT" ]; then
    for file in "$INPUT"/*; do
        [ -f "$file" ] || continue
        items=$((items + 1))
        run_one "$file" "$OUTPUT/$(basename -- "$file").out" < "$file"
    done
elif [ -f "$INPUT" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        items=$((items + 1))
        run_one "$line" "$OUTPUT/$(printf '%06d' "$items").out" <<< "$line"
    done < "$INPUT"
else
    echo "batch-inference: no such file or folder: $INPUT" >&2
    exit 2
fi
echo "batch-inference: $items items, $failed failed, outputs in $OUTPUT"
[ "$failed" -eq 0 ]
"""

CONTAINER = r"""
use_gpu=no
if [ "$GPU" = yes ] || { [ "$GPU" = auto ] && command -v nvidia-smi >/dev/null 2>&1; }; then
    use_gpu=yes
fi
case "$RUNTIME" in
apptainer)
    if ! command -v apptainer >/dev/null 2>&1; then
        echo "container: apptainer is not installed where the job runs" >&2
        exit 127
    fi
    args=()
    [ "$use_gpu" = yes ] && args+=(--nv)
    [ -n "$BIND" ] && args+=(--bind "$BIND")
    exec apptainer exec "${args[@]}" "$IMAGE" bash -c "$COMMAND"
    ;;
enroot)
    if ! command -v enroot >/dev/null 2>&1; then
        echo "container: enroot is not installed where the job runs" >&2
        exit 127
    fi
    args=()
    [ -n "$BIND" ] && args+=(--mount "$BIND")
    exec enroot start "${args[@]}" "$IMAGE" bash -c "$COMMAND"
    ;;
esac
"""

SCRIPT = r"""
printf '%s\n' "$SCRIPT" > job-script
chmod u+x job-script
case "$SCRIPT" in
'#!'*) exec ./job-script ;;
*) exec bash ./job-script ;;
esac
"""


SYSTEM_PYTHON = "/usr/bin/python3"


def _python() -> str:
    """The portal's own Python, which has scikit-learn; but when the portal runs as root, local
    jobs run as another user (``run_as``) who cannot read its environment, so the system's
    (Debian: ``apt install python3-sklearn``)."""
    if os.geteuid() == 0:
        return SYSTEM_PYTHON
    return sys.executable


TEMPLATES = (
    Template(
        name="text-classifier",
        title=_("Fine-tune a text classifier"),
        description=_(
            "Trains a text classifier on a CSV file with a text and a label column (TF-IDF and "
            "logistic regression with scikit-learn, on the CPU), prints the accuracy on a "
            "held-out part, and writes model.joblib and metrics.json into the job's folder."
        ),
        body=TEXT_CLASSIFIER,
        params=(
            Param("data", "str", _("The CSV file (a path where the job runs).")),
            Param("text_column", "str", _("The column with the text."), default="text"),
            Param("label_column", "str", _("The column with the label."), default="label"),
            Param(
                "test_size",
                "float",
                _("The share of rows held out to measure the accuracy."),
                default=0.2,
                minimum=0.05,
                maximum=0.5,
            ),
            Param(
                "max_features",
                "int",
                _("The largest vocabulary (words and word pairs)."),
                default=50000,
                minimum=100,
                maximum=5_000_000,
            ),
            Param(
                "regularisation",
                "float",
                _("Inverse regularisation strength (C): smaller values fit less closely."),
                default=1.0,
                minimum=0.0001,
                maximum=10000,
            ),
            Param("seed", "int", _("Random seed of the split."), default=42, minimum=0),
            Param("output", "str", _("The folder for the model and metrics."), default="."),
            Param(
                "python",
                "str",
                _(
                    "The Python with scikit-learn where the job runs (on a cluster: its module "
                    "or virtual environment)."
                ),
                default=_python(),
            ),
        ),
    ),
    Template(
        name="batch-inference",
        title=_("Batch inference over a file"),
        description=_(
            "Runs a command once for each line of a file, or for each file of a folder, with "
            "the item on standard input and in $ITEM, and writes each output to its own file."
        ),
        body=BATCH_INFERENCE,
        params=(
            Param("input", "str", _("A file (one item per line) or a folder (one item per file).")),
            Param(
                "command",
                "text",
                _("The command to run for each item (reads the item on standard input)."),
            ),
            Param("output", "str", _("The folder for the outputs."), default="outputs"),
        ),
    ),
    Template(
        name="container",
        title=_("Run a container image"),
        description=_(
            "Runs a command in a container image with Apptainer or enroot on the cluster, with "
            "the GPUs when the job has them."
        ),
        body=CONTAINER,
        params=(
            Param(
                "image",
                "str",
                _(
                    "The image: a .sif file or docker://… for Apptainer, a name or .sqsh for enroot."
                ),
            ),
            Param("command", "text", _("The command to run in the container.")),
            Param(
                "runtime",
                "choice",
                _("The container runtime."),
                default="apptainer",
                choices=("apptainer", "enroot"),
            ),
            Param(
                "bind",
                "str",
                _("Folders to bind into the container (Apptainer --bind, enroot --mount)."),
                default="",
            ),
            Param(
                "gpu",
                "choice",
                _("Give the container the GPUs (auto: when the node has them)."),
                default="auto",
                choices=("auto", "yes", "no"),
            ),
        ),
    ),
    Template(
        name="script",
        title=_("A plain script"),
        description=_("Runs your own script as it is (with bash unless it starts with #!)."),
        body=SCRIPT,
        params=(Param("script", "text", _("The script.")),),
    ),
)

_BY_NAME = {t.name: t for t in TEMPLATES}


def templates() -> list[Template]:
    return list(TEMPLATES)


def template(name: str) -> Template:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValidationError(
            {
                "template": gettext("No such template: %(name)s (there are: %(names)s).")
                % {"name": name, "names": ", ".join(_BY_NAME)}
            }
        ) from None


def _number(param: Param, value):
    if isinstance(value, bool):
        raise ValueError
    if param.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            return int(value)
        return int(str(value).strip())
    number = float(str(value).strip())
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError
    return number


def _clean_one(param: Param, value) -> object:
    """The value as its kind, or ValueError with the message to show."""
    if param.kind in ("int", "float"):
        try:
            number = _number(param, value)
        except (TypeError, ValueError):
            raise ValueError(
                gettext("Enter a whole number.")
                if param.kind == "int"
                else gettext("Enter a number.")
            ) from None
        if param.minimum is not None and number < param.minimum:
            raise ValueError(gettext("Must be at least %(limit)s.") % {"limit": param.minimum})
        if param.maximum is not None and number > param.maximum:
            raise ValueError(gettext("Must be at most %(limit)s.") % {"limit": param.maximum})
        return number
    if not isinstance(value, str):
        raise ValueError(gettext("Enter a text."))
    if "\0" in value:
        raise ValueError(gettext("Must not contain NUL characters."))
    if param.kind == "choice" and value not in param.choices:
        raise ValueError(
            gettext("Choose one of: %(choices)s.") % {"choices": ", ".join(param.choices)}
        )
    if param.kind == "str" and ("\n" in value or "\r" in value):
        raise ValueError(gettext("Must be one line."))
    return value


def clean(name: str, params: dict) -> dict:
    """The template's parameters with defaults filled in and types checked; a ValidationError
    names each bad one as ``params.<name>`` (and ``template`` for an unknown template)."""
    tpl = template(name)
    params = dict(params or {})
    known = {p.name: p for p in tpl.params}
    errors: dict[str, str] = {}
    for key in params:
        if key not in known:
            errors[f"params.{key}"] = gettext(
                "Unknown parameter (this template has: %(names)s)."
            ) % {"names": ", ".join(known)}
    cleaned = {}
    for param in tpl.params:
        value = params.get(param.name)
        if value is None or (value == "" and (param.required or param.kind not in ("str", "text"))):
            if param.required:
                errors[f"params.{param.name}"] = gettext("This parameter is required.")
                continue
            value = param.default
        try:
            cleaned[param.name] = _clean_one(param, value)
        except ValueError as exc:
            errors[f"params.{param.name}"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return cleaned


def render(name: str, params: dict) -> str:
    """The job script of template ``name`` with ``params`` (checked by :func:`clean`)."""
    tpl = template(name)
    values = clean(name, params)
    lines = ["#!/bin/bash", f"# AI Factory Hub job template: {tpl.name}", "set -euo pipefail"]
    lines += [f"{p.name.upper()}={shlex.quote(str(values[p.name]))}" for p in tpl.params]
    lines.append(END_OF_PARAMETERS)
    return "\n".join(lines) + "\n" + tpl.body.lstrip("\n")
