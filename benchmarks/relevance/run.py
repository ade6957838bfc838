"""Relevance of matchmaking on the development set: the hybrid ranker against BM25 alone.

Loads the demo catalogue into a fresh SQLite database in a temporary folder, embeds it, then
ranks every need of benchmarks/relevance/needs.jsonl with

- **hybrid**: `aifactory.catalog.matching.match` as the portal, API and CLI call it (text only);
- **hybrid + sector**: the same with the need's sector, as when an organisation profile is known;
- **BM25**: the same index and the same word analysis, lexical score only (the baseline).

and prints NDCG@10 and recall@10 (judged grade >= 1) per need language, side by side.

    .venv/bin/python benchmarks/relevance/run.py [--needs PATH] [--per-need] [--json]
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEEDS = ROOT / "benchmarks" / "relevance" / "needs.jsonl"
LANGS = ("de", "fr", "en", "lb")
K = 10


def setup_django(data_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        AIFACTORY_ENV="development",
        AIFACTORY_DATA_DIR=data_dir,
        DATABASE_URL=f"sqlite:///{data_dir}/relevance.sqlite3",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aifactory.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load_catalogue() -> tuple[int, float]:
    from aifactory.catalog import services
    from aifactory.catalog.demo_catalogue import DEMO_FILE

    records = json.loads(Path(DEMO_FILE).read_text())
    services.catalog_import(actor=None, records=records, is_demo=True)
    started = time.perf_counter()
    count = services.catalog_index_pending()
    return count, time.perf_counter() - started


def ndcg(ranked: list[str], judgments: dict[str, int], k: int = K) -> float:
    gain = sum(
        (2 ** judgments.get(oid, 0) - 1) / math.log2(i + 2) for i, oid in enumerate(ranked[:k])
    )
    ideal = sorted(judgments.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return gain / best if best else 0.0


def recall(ranked: list[str], judgments: dict[str, int], k: int = K) -> float:
    relevant = {oid for oid, grade in judgments.items() if grade >= 1}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def rank_hybrid(need: dict, with_sector: bool) -> list[str]:
    from aifactory.catalog.matching import match

    result = match(need["text"], sector=need.get("sector", "") if with_sector else "", limit=K)
    return [m.offering.external_id for m in result.matches]


def rank_bm25(need: dict) -> list[str]:
    from aifactory.catalog.index import get_index
    from aifactory.catalog.matching import analyse
    from aifactory.catalog.models import Offering

    hits = get_index().search(analyse(need["text"]), None, lexical_weight=1.0, limit=K)
    hits = [h for h in hits if h.lexical > 0]
    ids = dict(
        Offering.objects.filter(pk__in=[h.doc.pk for h in hits]).values_list("pk", "external_id")
    )
    return [ids[h.doc.pk] for h in hits]


SYSTEMS = {
    "hybrid": lambda need: rank_hybrid(need, with_sector=False),
    "hybrid + sector": lambda need: rank_hybrid(need, with_sector=True),
    "BM25 (baseline)": rank_bm25,
}


def evaluate(needs: list[dict]) -> dict:
    figures: dict = {}
    per_need: list = []
    for system, ranker in SYSTEMS.items():
        rows = {lang: [] for lang in LANGS}
        for need in needs:
            ranked = ranker(need)
            n, r = ndcg(ranked, need["judgments"]), recall(ranked, need["judgments"])
            rows[need["lang"]].append((n, r))
            per_need.append({"system": system, "id": need["id"], "ndcg": n, "recall": r})
        figures[system] = {
            lang: {
                "needs": len(values),
                "ndcg@10": sum(v[0] for v in values) / len(values),
                "recall@10": sum(v[1] for v in values) / len(values),
            }
            for lang, values in rows.items()
            if values
        }
        everything = [v for values in rows.values() for v in values]
        figures[system]["all"] = {
            "needs": len(everything),
            "ndcg@10": sum(v[0] for v in everything) / len(everything),
            "recall@10": sum(v[1] for v in everything) / len(everything),
        }
    return {"figures": figures, "per_need": per_need}


def print_table(figures: dict) -> None:
    columns = [*LANGS, "all"]
    print("| system | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for system, by_lang in figures.items():
        cells = [
            f"{by_lang[c]['ndcg@10']:.3f} / {by_lang[c]['recall@10']:.3f}" if c in by_lang else "–"
            for c in columns
        ]
        print(f"| {system} | " + " | ".join(cells) + " |")
    print("\nCells: NDCG@10 / recall@10, mean over the needs of the language.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--needs", type=Path, default=NEEDS)
    parser.add_argument("--per-need", action="store_true", help="print every need's figures")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    needs = [json.loads(line) for line in args.needs.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as data_dir:
        setup_django(data_dir)
        count, seconds = load_catalogue()
        from aifactory.catalog.embeddings import get_embedder

        started = time.perf_counter()
        out = evaluate(needs)
        elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(out["figures"], indent=2))
        return
    print(
        f"{count} offerings embedded in {seconds:.1f} s with {get_embedder().name}; "
        f"{len(needs)} needs × {len(SYSTEMS)} systems ranked in {elapsed:.1f} s\n"
    )
    print_table(out["figures"])
    if args.per_need:
        print()
        for row in out["per_need"]:
            print(
                f"{row['system']:<16} {row['id']:<8} ndcg {row['ndcg']:.3f} recall {row['recall']:.3f}"
            )


if __name__ == "__main__":
    main()
