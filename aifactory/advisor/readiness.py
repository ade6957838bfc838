"""The readiness questionnaire, how it is scored, and the content of the action plan.

The questionnaire lives in ``readiness_questionnaire_v<N>.json`` next to this file, with its own
translations in en, de, fr and lb (it is content, not interface text, so it stays out of the .po
files and can be reviewed in one place). Each assessment stores the version it was answered in; a
change that alters what is asked or how it counts gets a new file and a new version, and old
assessments keep being read with the version they were filled in.

Scoring, in plain words:

- every option of a question stands for a maturity level from 1 to 5;
- a dimension's level is the mean of its questions' levels, rounded down: a level counts as
  reached only when the answers reach it on average;
- the overall level is the mean of the six dimensions' means (each dimension weighs the same,
  whatever its number of questions), rounded down;
- an assessment can be completed only when every question is answered.

Everything here is pure: no database, so the rules can be tested and reused by the services, the
pages, the API and the CLI alike.
"""

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from aifactory.core.language import TEXT_LANGUAGES
from aifactory.core.taxonomy import JourneyStage, Sector

LANGUAGES = TEXT_LANGUAGES
LEVELS = (1, 2, 3, 4, 5)
CURRENT_VERSION = 1
HERE = Path(__file__).parent
# Bands of the action plan: what helps at levels 1–2 differs from what helps from level 3 on.
START, GROW = "start", "grow"
# How many dimensions the plan works on, and how many offerings it recommends for each.
WEAKEST, WEAKEST_MAX = 2, 3
OFFERINGS_PER_DIMENSION = 3


def questionnaire_file(version: int) -> Path:
    return HERE / f"readiness_questionnaire_v{version}.json"


def tr(texts: dict[str, str], language: str | None = None) -> str:
    """The text in the language asked for (or the active one), else in English."""
    language = normalise_language(language or translation.get_language())
    return texts.get(language) or texts.get("en") or ""


def normalise_language(language: str | None) -> str:
    """One of the four questionnaire languages: ``de-lu`` → ``de``; anything else → ``en``."""
    code = (language or "").lower().split("-")[0].split("_")[0]
    return code if code in LANGUAGES else "en"


@dataclass(frozen=True)
class Option:
    value: str
    level: int
    text: dict[str, str]


@dataclass(frozen=True)
class Question:
    id: str
    number: int  # 1..N across the questionnaire, as shown to people
    dimension: str
    text: dict[str, str]
    options: tuple[Option, ...]

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)

    def label(self, language: str | None = None) -> str:
        """“7. Where are your customer data?” — how errors and exports name the question."""
        return f"{self.number}. {tr(self.text, language)}"


@dataclass(frozen=True)
class Step:
    id: str
    text: dict[str, str]


@dataclass(frozen=True)
class Dimension:
    key: str
    name: dict[str, str]
    about: dict[str, str]
    questions: tuple[Question, ...]
    steps: dict[str, tuple[Step, ...]]  # band -> steps
    queries: dict[str, dict[str, str]]  # band -> {language: text}, for the catalogue
    stages: dict[str, tuple[str, ...]]  # band -> journey stages the recommendations come from


@dataclass(frozen=True)
class Questionnaire:
    version: int
    dimensions: tuple[Dimension, ...]
    levels: dict[int, dict[str, dict[str, str]]]  # level -> {"name": {...}, "about": {...}}

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for d in self.dimensions for q in d.questions)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def dimension(self, key: str) -> Dimension:
        return next(d for d in self.dimensions if d.key == key)

    def step(self, step_id: str) -> Step | None:
        for d in self.dimensions:
            for steps in d.steps.values():
                for s in steps:
                    if s.id == step_id:
                        return s
        return None

    def level_name(self, level: int | None, language: str | None = None) -> str:
        if level not in self.levels:
            return ""
        return tr(self.levels[level]["name"], language)

    def level_about(self, level: int | None, language: str | None = None) -> str:
        if level not in self.levels:
            return ""
        return tr(self.levels[level]["about"], language)


def _parse(raw: dict[str, Any]) -> Questionnaire:
    number = 0
    dimensions = []
    for d in raw["dimensions"]:
        questions = []
        for q in d["questions"]:
            number += 1
            options = tuple(Option(o["value"], int(o["level"]), o["text"]) for o in q["options"])
            questions.append(Question(q["id"], number, d["key"], q["text"], options))
        dimensions.append(
            Dimension(
                key=d["key"],
                name=d["name"],
                about=d["about"],
                questions=tuple(questions),
                steps={
                    band: tuple(Step(s["id"], s["text"]) for s in steps)
                    for band, steps in d["steps"].items()
                },
                queries=d["queries"],
                stages={band: tuple(stages) for band, stages in d["stages"].items()},
            )
        )
    levels = {int(k): v for k, v in raw["levels"].items()}
    return Questionnaire(version=int(raw["version"]), dimensions=tuple(dimensions), levels=levels)


def problems(q: Questionnaire) -> list[str]:
    """Everything wrong with a questionnaire: a missing translation, a level outside 1–5, a
    repeated id... An empty list means it is fit to be asked."""
    found: list[str] = []

    def texts(where: str, value: dict[str, str]) -> None:
        for lang in LANGUAGES:
            if not (value or {}).get(lang, "").strip():
                found.append(f"{where}: no text in {lang}")

    if set(q.levels) != set(LEVELS):
        found.append(f"levels: expected {list(LEVELS)}, found {sorted(q.levels)}")
    for level, content in q.levels.items():
        texts(f"level {level} name", content.get("name", {}))
        texts(f"level {level} about", content.get("about", {}))
    ids = [question.id for question in q.questions]
    found += [
        f"question {i}: the id is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    step_ids = [s.id for d in q.dimensions for steps in d.steps.values() for s in steps]
    found += [
        f"step {i}: the id is used twice"
        for i in sorted({i for i in step_ids if step_ids.count(i) > 1})
    ]
    for d in q.dimensions:
        texts(f"dimension {d.key} name", d.name)
        texts(f"dimension {d.key} about", d.about)
        if not d.questions:
            found.append(f"dimension {d.key}: no questions")
        for band in (START, GROW):
            if not d.steps.get(band):
                found.append(f"dimension {d.key}: no steps for {band}")
            for s in d.steps.get(band, ()):
                texts(f"step {s.id}", s.text)
            texts(f"dimension {d.key} query {band}", d.queries.get(band, {}))
            unknown = set(d.stages.get(band, ())) - set(JourneyStage.values)
            if unknown:
                found.append(f"dimension {d.key} stages {band}: unknown {sorted(unknown)}")
        for question in d.questions:
            texts(f"question {question.id}", question.text)
            values = [o.value for o in question.options]
            if len(set(values)) != len(values):
                found.append(f"question {question.id}: an option value is used twice")
            if len(values) < 2:
                found.append(f"question {question.id}: fewer than two options")
            for o in question.options:
                texts(f"question {question.id} option {o.value}", o.text)
                if o.level not in LEVELS:
                    found.append(f"question {question.id} option {o.value}: level {o.level}")
            if {1, 5} - {o.level for o in question.options}:
                found.append(f"question {question.id}: the options do not span levels 1 to 5")
    return found


@cache
def questionnaire(version: int = CURRENT_VERSION) -> Questionnaire:
    """The questionnaire of that version, read once per process and checked on the way in."""
    path = questionnaire_file(version)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"readiness questionnaire version {version}: {path} is missing"
        ) from None
    q = _parse(raw)
    if q.version != version:
        raise ImproperlyConfigured(f"{path} says it is version {q.version}, not {version}")
    wrong = problems(q)
    if wrong:
        raise ImproperlyConfigured(f"{path}: " + "; ".join(wrong))
    return q


def known_version(version: int) -> bool:
    return questionnaire_file(version).exists()


# --- answers -------------------------------------------------------------------------------


def clean_answers(q: Questionnaire, answers: Any) -> dict[str, str | None]:
    """Check a set of answers {question id: option value}; None (or "") clears an answer.

    Every mistake is reported at once, under the id of the question it concerns and naming it,
    so a person (or an API client) sees all of them together.
    """
    if not isinstance(answers, dict):
        raise ValidationError(
            {"answers": [_("Send the answers as an object from question id to option value.")]}
        )
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str | None] = {}
    for key, value in answers.items():
        question = q.question(str(key))
        if question is None:
            errors[str(key)[:100]] = [
                _("There is no question “%(id)s” in version %(version)s of the questionnaire.")
                % {"id": str(key)[:100], "version": q.version}
            ]
            continue
        if value is None or value == "":
            cleaned[question.id] = None
            continue
        if not isinstance(value, str) or question.option(value) is None:
            errors[question.id] = [
                _(
                    "Question %(number)s (“%(question)s”): “%(value)s” is not one of its "
                    "answers. Choose one of: %(values)s."
                )
                % {
                    "number": question.number,
                    "question": tr(question.text),
                    "value": str(value)[:100],
                    "values": ", ".join(o.value for o in question.options),
                }
            ]
            continue
        cleaned[question.id] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def missing_questions(q: Questionnaire, answers: dict[str, str]) -> list[Question]:
    return [question for question in q.questions if not answers.get(question.id)]


def require_complete(q: Questionnaire, answers: dict[str, str]) -> None:
    """Refuse to score an incomplete questionnaire, naming every question still open."""
    missing = missing_questions(q, answers)
    if missing:
        raise ValidationError(
            {
                question.id: [
                    _("Question %(number)s (“%(question)s”) is not answered yet.")
                    % {"number": question.number, "question": tr(question.text)}
                ]
                for question in missing
            }
        )


def progress(q: Questionnaire, answers: dict[str, str]) -> tuple[int, int]:
    """(answered, total)."""
    total = len(q.questions)
    return total - len(missing_questions(q, answers)), total


# --- scoring -------------------------------------------------------------------------------


def _mean(values: list[int]) -> Fraction:
    return Fraction(sum(values), len(values))


def score(q: Questionnaire, answers: dict[str, str]) -> dict[str, Any]:
    """The levels of a complete set of answers, as stored in ``Assessment.result``.

    Exact fractions, then rounded down, so 3.999… never becomes a 4 by floating-point accident.
    """
    require_complete(q, answers)
    dimensions = []
    means = []
    for d in q.dimensions:
        levels = [question.option(answers[question.id]).level for question in d.questions]
        mean = _mean(levels)
        means.append(mean)
        dimensions.append({"key": d.key, "level": math.floor(mean), "score": round(float(mean), 2)})
    overall = sum(means, Fraction(0)) / len(means)
    return {
        "version": q.version,
        "method": "mean-rounded-down",
        "dimensions": dimensions,
        "overall": {"level": math.floor(overall), "score": round(float(overall), 2)},
    }


def weakest(dimensions: list[dict[str, Any]]) -> list[str]:
    """The dimensions the plan works on: the two with the lowest mean, and a third when it is at
    the same level as the second (so a tie is not broken by the order of the questionnaire)."""
    ranked = sorted(enumerate(dimensions), key=lambda pair: (pair[1]["score"], pair[0]))
    chosen = [d for _i, d in ranked[:WEAKEST]]
    if len(ranked) > WEAKEST and ranked[WEAKEST][1]["level"] == chosen[-1]["level"]:
        chosen.append(ranked[WEAKEST][1])
    return [d["key"] for d in chosen[:WEAKEST_MAX]]


def band(level: int) -> str:
    return START if level <= 2 else GROW


def query(dimension: Dimension, level: int, language: str) -> str:
    """What the catalogue is asked for a dimension at this level, in the assessment's language."""
    return tr(dimension.queries[band(level)], language)


def facets(dimension: Dimension, level: int, sectors: list[str] | None) -> dict[str, list[str]]:
    """Journey stages that help at this level; offerings of the organisation's sectors or for
    everyone (a course on AI in health care does not help a bakery)."""
    chosen = {"stage": list(dimension.stages[band(level)])}
    if sectors:
        chosen["sector"] = [*sectors, "general"]
    return chosen


# --- presentation --------------------------------------------------------------------------


def present_questionnaire(q: Questionnaire, language: str) -> dict[str, Any]:
    """The questionnaire in one language, as the API and the CLI give it out."""
    language = normalise_language(language)
    return {
        "version": q.version,
        "language": language,
        "levels": [
            {
                "level": level,
                "name": q.level_name(level, language),
                "about": q.level_about(level, language),
            }
            for level in LEVELS
        ],
        "dimensions": [
            {
                "key": d.key,
                "name": tr(d.name, language),
                "about": tr(d.about, language),
                "questions": [
                    {
                        "id": question.id,
                        "number": question.number,
                        "text": tr(question.text, language),
                        "options": [
                            {"value": o.value, "level": o.level, "text": tr(o.text, language)}
                            for o in question.options
                        ],
                    }
                    for question in d.questions
                ],
            }
            for d in q.dimensions
        ],
    }


def present_answers(q: Questionnaire, answers: dict[str, str], language: str) -> list[dict]:
    """Each dimension with its questions and the answer given (None where there is none yet)."""
    rows = []
    for d in q.dimensions:
        items = []
        for question in d.questions:
            option = question.option(answers.get(question.id) or "")
            items.append(
                {
                    "id": question.id,
                    "number": question.number,
                    "question": tr(question.text, language),
                    "answer": tr(option.text, language) if option else None,
                    "value": option.value if option else None,
                    "level": option.level if option else None,
                }
            )
        rows.append({"key": d.key, "name": tr(d.name, language), "questions": items})
    return rows


def offering_title(entry: dict[str, Any], language: str) -> str:
    titles = entry.get("title") or {}
    if isinstance(titles, str):
        return titles
    return titles.get(language) or next((titles[k] for k in LANGUAGES if titles.get(k)), "")


def _offering_reasons(entry: dict[str, Any], language: str) -> list[str]:
    """Why an offering was recommended, worded in the reader's language."""
    reasons = []
    with translation.override(language):
        if entry.get("sector"):
            label = dict(Sector.choices).get(entry["sector"], entry["sector"])
            reasons.append(_("Made for your sector: %(sector)s.") % {"sector": label})
        if entry.get("eligible"):
            reasons.append(_("Your organisation meets its conditions."))
    return reasons


def present_result(
    q: Questionnaire, result: dict[str, Any], language: str
) -> dict[str, Any] | None:
    """A stored result with its texts in one language: what pages, the API and the CLI show.

    The numbers and the recommended offerings come from ``result`` as they were when the
    assessment was completed; only the wording is looked up.
    """
    if not result:
        return None
    language = normalise_language(language)
    dimensions = []
    for row in result["dimensions"]:
        d = q.dimension(row["key"])
        dimensions.append(
            {
                **row,
                "name": tr(d.name, language),
                "about": tr(d.about, language),
                "level_name": q.level_name(row["level"], language),
            }
        )
    names = {row["key"]: row["name"] for row in dimensions}
    plan = []
    for item in result.get("plan", []):
        steps = [q.step(step_id) for step_id in item.get("steps", [])]
        plan.append(
            {
                "dimension": item["dimension"],
                "name": names.get(item["dimension"], item["dimension"]),
                "level": item["level"],
                "level_name": q.level_name(item["level"], language),
                "steps": [tr(s.text, language) for s in steps if s is not None],
                "offerings": [
                    {
                        **o,
                        "title": offering_title(o, language),
                        "reasons": _offering_reasons(o, language),
                    }
                    for o in item.get("offerings", [])
                ],
            }
        )
    overall = result["overall"]
    return {
        "version": result.get("version", q.version),
        "method": result.get("method", ""),
        "overall": {
            **overall,
            "name": q.level_name(overall["level"], language),
            "about": q.level_about(overall["level"], language),
        },
        "dimensions": dimensions,
        "plan": plan,
        "computed_at": result.get("computed_at"),
    }
