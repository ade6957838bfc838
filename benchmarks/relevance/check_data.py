"""Check the demo catalogue and the relevance development set against the rules of issue 3.

The relevance figures are only as good as these two files, so the rules that make them a fair
test (enough needs per language, half of them answered only in another language, judged ids
that exist) are checked here rather than trusted. Standard library only, so it runs before the
project is installed.

    python benchmarks/relevance/check_data.py [--offerings PATH] [--needs PATH]

Prints every problem with its place, then a summary; exits 1 if there was any problem.
"""

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
OFFERINGS = ROOT / "aifactory" / "catalog" / "demo" / "offerings.json"
NEEDS = ROOT / "benchmarks" / "relevance" / "needs.jsonl"

LANGS = ("en", "de", "fr", "lb")
TYPES = ("solution", "service", "provider", "course", "funding", "dataset", "model")
SECTORS = (
    "finance",
    "cybersecurity",
    "space",
    "sustainability",
    "manufacturing",
    "crafts",
    "construction",
    "health",
    "public-sector",
    "retail",
    "logistics",
    "agriculture",
    "energy",
    "tourism",
    "education",
    "media",
    "legal",
    "research",
    "general",
)
STAGES = ("discover", "assess", "upskill", "connect", "fund", "build", "scale")
DEPLOYMENTS = ("eu-saas", "on-premises", "sovereign-cloud", "supercomputer")
RISKS = ("minimal", "limited", "high", "unacceptable", "not-applicable")
KINDS = ("startup", "sme", "large", "research", "public")
SIZES = ("micro", "small", "medium", "large")

REQUIRED = ("id", "type", "title", "description", "sectors", "tags", "languages", "stage")
REQUIRED += ("provider", "url")
OPTIONAL = ("price", "deployment", "ai_act_risk", "for_kinds", "for_sizes")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ALLOWED_HOSTS = ("example.lu", ".example.lu", ".invalid")

MIN_OFFERINGS = 160
MIN_PER_TYPE = 5
FOCUS_SECTORS = ("finance", "cybersecurity", "space", "sustainability")
MIN_FOCUS = 12
COVERED_SECTORS = ("crafts", "health", "public-sector", "logistics", "agriculture", "retail")
COVERED_SECTORS += ("tourism",)
MIN_COVERED = 5
MIN_SINGLE_LANGUAGE_SHARE = 0.5  # "many offerings in only one language"
MIN_PER_TEXT_LANGUAGE = 10
MIN_LB_ONLY = 5
WORDS = (40, 120)
TITLE_MAX = 200

NEED_KEYS = ("id", "lang", "text", "judgments")
NEED_OPTIONAL = ("sector",)
NEED_ID = re.compile(r"^(en|de|fr|lb)-\d{2,3}$")
MIN_NEEDS_PER_LANG = 16
MIN_JUDGED = 3
SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)")


class Report:
    def __init__(self):
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")


def text_languages(value) -> set[str] | None:
    """Languages a title or description is written in; None for a plain string (unknown)."""
    return set(value) if isinstance(value, dict) else None


def check_text(report, where, name, value, *, words=None, max_chars=None):
    if isinstance(value, str):
        texts = {"": value}
    elif isinstance(value, dict) and value:
        texts = value
        unknown = sorted(k for k in value if k not in LANGS)
        if unknown:
            report.error(where, f"{name}: unknown language {unknown}; use {list(LANGS)}")
    else:
        report.error(where, f"{name}: give a text or an object from language code to text")
        return
    for lang, text in texts.items():
        label = f"{name}.{lang}" if lang else name
        if not isinstance(text, str) or not text.strip():
            report.error(where, f"{label}: empty or not a text")
            continue
        if max_chars and len(text) > max_chars:
            report.error(where, f"{label}: {len(text)} characters, at most {max_chars}")
        if words:
            count = len(text.split())
            if not words[0] <= count <= words[1]:
                report.error(where, f"{label}: {count} words, want {words[0]}–{words[1]}")


def check_choices(report, where, name, value, allowed, *, required=True):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        report.error(where, f"{name}: give a list of texts")
        return
    if required and not value:
        report.error(where, f"{name}: give at least one value")
    if len(set(value)) != len(value):
        report.error(where, f"{name}: repeated values")
    unknown = [v for v in value if allowed is not None and v not in allowed]
    if unknown:
        report.error(where, f"{name}: unknown {unknown}; choose from {list(allowed)}")


def check_offering(report, index, record, seen):
    if not isinstance(record, dict):
        report.error(f"offerings[{index}]", "not an object")
        return
    where = f"offerings[{index}] ({record.get('id', '?')})"
    for key in REQUIRED:
        if key not in record:
            report.error(where, f"{key}: missing")
    for key in record:
        if key not in REQUIRED + OPTIONAL:
            report.error(where, f"{key}: unknown key")
    rid = record.get("id")
    if not isinstance(rid, str) or not ID_PATTERN.match(rid) or len(rid) > 100:
        report.error(where, "id: use lowercase letters, digits and single dashes, at most 100")
    elif rid in seen:
        report.error(where, f"id: repeats offerings[{seen[rid]}]")
    else:
        seen[rid] = index
    if record.get("type") not in TYPES:
        report.error(where, f"type: {record.get('type')!r} is not one of {list(TYPES)}")
    if "title" in record:
        check_text(report, where, "title", record["title"], max_chars=TITLE_MAX)
    if "description" in record:
        check_text(report, where, "description", record["description"], words=WORDS)
    title_langs = text_languages(record.get("title"))
    desc_langs = text_languages(record.get("description"))
    if title_langs is not None and desc_langs is not None and title_langs != desc_langs:
        report.error(where, "title and description are not in the same languages")
    if "sectors" in record:
        check_choices(report, where, "sectors", record["sectors"], SECTORS)
    tags = record.get("tags")
    if "tags" in record:
        check_choices(report, where, "tags", tags, None)
        if isinstance(tags, list) and any(not str(t).strip() or len(str(t)) > 40 for t in tags):
            report.error(where, "tags: each tag 1–40 characters")
    if "languages" in record:
        check_choices(report, where, "languages", record["languages"], LANGS)
    stage = record.get("stage")
    if isinstance(stage, str):
        if stage not in STAGES:
            report.error(where, f"stage: {stage!r} is not one of {list(STAGES)}")
    elif "stage" in record:
        check_choices(report, where, "stage", stage, STAGES)
    provider = record.get("provider")
    if "provider" in record and (not isinstance(provider, str) or not provider.strip()):
        report.error(where, "provider: give a name")
    url = record.get("url")
    if "url" in record:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = (parts.hostname or "") if parts else ""
        if not parts or parts.scheme != "https" or not host.endswith(ALLOWED_HOSTS):
            report.error(where, f"url: {url!r} must be https on an example.lu or .invalid host")
    if "price" in record:
        price = record["price"]
        if not isinstance(price, str) or not price.strip() or len(price) > 60:
            report.error(where, "price: a short text, 1–60 characters")
    if "deployment" in record:
        check_choices(report, where, "deployment", record["deployment"], DEPLOYMENTS)
    if "ai_act_risk" in record and record["ai_act_risk"] not in RISKS:
        report.error(where, f"ai_act_risk: {record['ai_act_risk']!r} not one of {list(RISKS)}")
    if "for_kinds" in record:
        check_choices(report, where, "for_kinds", record["for_kinds"], KINDS)
    if "for_sizes" in record:
        check_choices(report, where, "for_sizes", record["for_sizes"], SIZES)
    if record.get("type") == "funding":
        for key in ("for_kinds", "for_sizes"):
            if key not in record:
                report.error(where, f"{key}: funding must state its eligibility")


def as_list(value):
    return [value] if isinstance(value, str) else list(value or [])


def check_offerings(report, offerings) -> dict[str, dict]:
    if not isinstance(offerings, list):
        report.error("offerings", "the file must hold a JSON array")
        return {}
    seen: dict[str, int] = {}
    for index, record in enumerate(offerings):
        check_offering(report, index, record, seen)
    records = [r for r in offerings if isinstance(r, dict)]
    if len(records) < MIN_OFFERINGS:
        report.error("offerings", f"{len(records)} offerings, want at least {MIN_OFFERINGS}")
    types = Counter(r.get("type") for r in records)
    for kind in TYPES:
        if types[kind] < MIN_PER_TYPE:
            report.error("offerings", f"{types[kind]} of type {kind}, want {MIN_PER_TYPE}")
    sectors = Counter(s for r in records for s in as_list(r.get("sectors")))
    for sector in FOCUS_SECTORS:
        if sectors[sector] < MIN_FOCUS:
            report.error("offerings", f"focus sector {sector}: {sectors[sector]}, want {MIN_FOCUS}")
    for sector in COVERED_SECTORS:
        if sectors[sector] < MIN_COVERED:
            report.error("offerings", f"sector {sector}: {sectors[sector]}, want {MIN_COVERED}")
    langs = [text_languages(r.get("description")) or set() for r in records]
    single = sum(1 for s in langs if len(s) == 1)
    if records and single / len(records) < MIN_SINGLE_LANGUAGE_SHARE:
        report.error("offerings", f"only {single} described in one language, want half or more")
    for lang in LANGS:
        count = sum(1 for s in langs if lang in s)
        if count < MIN_PER_TEXT_LANGUAGE:
            report.error("offerings", f"{count} described in {lang}, want {MIN_PER_TEXT_LANGUAGE}")
    lb_only = sum(1 for s in langs if s == {"lb"})
    if lb_only < MIN_LB_ONLY:
        report.error("offerings", f"{lb_only} described only in lb, want {MIN_LB_ONLY}")
    return {r["id"]: r for r in records if isinstance(r.get("id"), str)}


def offering_languages(record) -> set[str] | None:
    title, description = (text_languages(record.get(k)) for k in ("title", "description"))
    if title is None or description is None:
        return None
    return title | description


def is_cross_language(need, by_id) -> bool:
    """True when every grade-3 answer is written only in languages other than the need's."""
    best = [oid for oid, grade in need["judgments"].items() if grade == 3 and oid in by_id]
    if not best:
        return False
    for oid in best:
        langs = offering_languages(by_id[oid])
        if langs is None or need["lang"] in langs:
            return False
    return True


def check_need(report, where, need, by_id, seen) -> bool:
    if not isinstance(need, dict):
        report.error(where, "not an object")
        return False
    for key in NEED_KEYS:
        if key not in need:
            report.error(where, f"{key}: missing")
    for key in need:
        if key not in NEED_KEYS + NEED_OPTIONAL:
            report.error(where, f"{key}: unknown key")
    nid, lang = need.get("id"), need.get("lang")
    if lang not in LANGS:
        report.error(where, f"lang: {lang!r} is not one of {list(LANGS)}")
    if not isinstance(nid, str) or not NEED_ID.match(nid):
        report.error(where, "id: write it as <lang>-<number>, e.g. de-01")
    elif nid.split("-")[0] != lang:
        report.error(where, f"id: {nid} does not start with its language {lang}")
    elif nid in seen:
        report.error(where, f"id: repeats line {seen[nid]}")
    else:
        seen[nid] = where
    text = need.get("text")
    if not isinstance(text, str) or not text.strip():
        report.error(where, "text: empty or not a text")
    else:
        sentences = len([s for s in SENTENCE_END.split(text) if re.search(r"\w", s)])
        if not 1 <= sentences <= 4:
            report.error(where, f"text: {sentences} sentences, want 1–4")
    if "sector" in need and need["sector"] not in SECTORS:
        report.error(where, f"sector: {need['sector']!r} is not in the taxonomy")
    judgments = need.get("judgments")
    if not isinstance(judgments, dict):
        report.error(where, "judgments: give an object from offering id to grade")
        return False
    for oid, grade in judgments.items():
        if oid not in by_id:
            report.error(where, f"judgments: unknown offering {oid!r}")
        if type(grade) is not int or grade not in (1, 2, 3):
            report.error(where, f"judgments.{oid}: grade {grade!r}, want 1, 2 or 3")
    if not any(g == 3 for g in judgments.values()):
        report.error(where, "judgments: no grade-3 answer")
    if len(judgments) < MIN_JUDGED:
        report.error(where, f"judgments: {len(judgments)} judged, want at least {MIN_JUDGED}")
    return lang in LANGS and all(type(g) is int for g in judgments.values())


def check_needs(report, lines, by_id):
    needs, seen = [], {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"needs.jsonl:{number}"
        try:
            need = json.loads(line)
        except json.JSONDecodeError as exc:
            report.error(where, f"not JSON ({exc.msg})")
            continue
        if check_need(report, where, need, by_id, seen):
            needs.append(need)
    per_lang = Counter(n["lang"] for n in needs)
    for lang in LANGS:
        if per_lang[lang] < MIN_NEEDS_PER_LANG:
            report.error("needs", f"{per_lang[lang]} in {lang}, want {MIN_NEEDS_PER_LANG}")
    cross = [n for n in needs if is_cross_language(n, by_id)]
    if needs and len(cross) * 2 < len(needs):
        report.error("needs", f"{len(cross)} of {len(needs)} answered in another language only")
    return needs, cross


def table(title: str, counts: Counter, order=None) -> str:
    keys = order or sorted(counts, key=lambda k: (-counts[k], k))
    cells = ", ".join(f"{k} {counts[k]}" for k in keys if counts[k])
    return f"  {title}: {cells}"


def summary(by_id, needs, cross) -> str:
    records = list(by_id.values())
    langs = [text_languages(r.get("description")) or set() for r in records]
    lines = [f"offerings: {len(records)}"]
    lines.append(table("by type", Counter(r.get("type") for r in records), TYPES))
    lines.append(table("by sector", Counter(s for r in records for s in as_list(r.get("sectors")))))
    lines.append(table("by stage", Counter(s for r in records for s in as_list(r.get("stage")))))
    described = Counter(lang for s in langs for lang in s)
    lines.append(table("described in", described, LANGS))
    only = Counter(next(iter(s)) for s in langs if len(s) == 1)
    lines.append(table("described only in", only, LANGS))
    lines.append(f"  in several languages: {sum(1 for s in langs if len(s) > 1)}")
    lines.append(f"needs: {len(needs)}")
    lines.append(table("by language", Counter(n["lang"] for n in needs), LANGS))
    lines.append(
        table("answered only in another language", Counter(n["lang"] for n in cross), LANGS)
    )
    lines.append(f"  cross-language total: {len(cross)} of {len(needs)}")
    grades = Counter(g for n in needs for g in n["judgments"].values())
    lines.append(table("judgments by grade", grades, (3, 2, 1)))
    judged = {oid for n in needs for oid in n["judgments"]}
    lines.append(f"  offerings judged at least once: {len(judged & set(by_id))} of {len(by_id)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offerings", type=Path, default=OFFERINGS)
    parser.add_argument("--needs", type=Path, default=NEEDS)
    args = parser.parse_args(argv)
    report = Report()
    try:
        offerings = json.loads(args.offerings.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"{args.offerings}: cannot read: {exc}")
        return 1
    by_id = check_offerings(report, offerings)
    try:
        lines = args.needs.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"{args.needs}: cannot read: {exc}")
        return 1
    needs, cross = check_needs(report, lines, by_id)
    for message in report.errors:
        print(message)
    print(summary(by_id, needs, cross))
    print(f"{len(report.errors)} problem(s)" if report.errors else "all checks passed")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
