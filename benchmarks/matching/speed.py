"""Speed of matchmaking with a large catalogue: index build, memory, and latency of a match.

For each size (default 10,000 and 100,000 offerings) it fills a fresh SQLite database (or the
PostgreSQL database given with --database-url, which it empties first) with synthetic offerings
made by recombining the demo catalogue's texts, through the real import and embedding services,
then in this process:

- builds the search index from the database (time, and the process's memory before and after);
- runs every need of benchmarks/relevance/needs.jsonl through `matching.match` (the hybrid ranker,
  as the portal, API and CLI call it) and through BM25 alone over the same index, several rounds,
  and prints p50/p95/max latency; the first match after the build is reported on its own.

    .venv/bin/python benchmarks/matching/speed.py [--sizes 10000,100000] [--rounds 3]
        [--keep DIR] [--database-url URL]

With --keep DIR the filled databases stay in DIR and are reused by the next run (filling 100,000
takes minutes: the embedding of every offering is real).
"""

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEEDS = ROOT / "benchmarks" / "relevance" / "needs.jsonl"
DEMO = ROOT / "aifactory" / "catalog" / "demo" / "offerings.json"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_django(database_url: str, data_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        AIFACTORY_ENV="development", AIFACTORY_DATA_DIR=data_dir, DATABASE_URL=database_url
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aifactory.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def synthetic(count: int, seed: int = 7) -> list[dict]:
    """Offerings that read like the demo ones: a title and sentences from different listings."""
    rng = random.Random(seed)
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    records = []
    for i in range(count):
        base, other = demo[i % len(demo)], rng.choice(demo)
        lang = next(iter(base["title"])) if isinstance(base["title"], dict) else "en"
        title = base["title"][lang] if isinstance(base["title"], dict) else base["title"]
        text_a = base["description"]
        text_b = other["description"]
        text_a = (
            text_a.get(lang) or next(iter(text_a.values())) if isinstance(text_a, dict) else text_a
        )
        text_b = next(iter(text_b.values())) if isinstance(text_b, dict) else text_b
        sentences = [s for s in (text_a + " " + text_b).split(". ") if s]
        rng.shuffle(sentences)
        records.append(
            {
                **{
                    k: base[k] for k in ("type", "sectors", "languages", "stage", "provider", "url")
                },
                "id": f"bench-{i:06d}",
                "title": {lang: f"{title} ({i})"},
                "description": {lang: ". ".join(sentences[:6])},
                "tags": rng.sample(base["tags"] + other["tags"], k=min(4, len(base["tags"]))),
                **{k: base[k] for k in ("for_kinds", "for_sizes", "deployment") if k in base},
            }
        )
    return records


def fill(count: int) -> dict:
    from aifactory.catalog import services
    from aifactory.catalog.models import Offering

    have = Offering.objects.filter(external_id__startswith="bench-").count()
    figures = {"imported_s": 0.0, "embedded_s": 0.0}
    if have != count:
        Offering.objects.all().delete()
        records = synthetic(count)
        started = time.perf_counter()
        for start in range(0, count, 2000):
            services.catalog_import(actor=None, records=records[start : start + 2000])
        figures["imported_s"] = time.perf_counter() - started
    started = time.perf_counter()
    embedded = services.catalog_index_pending()
    figures["embedded_s"] = time.perf_counter() - started if embedded else 0.0
    figures["embedded"] = embedded
    return figures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(count: int, rounds: int) -> dict:
    from aifactory.catalog.index import get_index, reset_index
    from aifactory.catalog.matching import analyse, match

    needs = [json.loads(line)["text"] for line in NEEDS.read_text().splitlines() if line.strip()]
    from aifactory.catalog.embeddings import get_embedder

    get_embedder().embed_queries(["warm up the encoder"])  # "excluding the first load"
    reset_index()
    before = rss_mb()
    started = time.perf_counter()
    index = get_index()
    build_s = time.perf_counter() - started
    after = rss_mb()
    started = time.perf_counter()
    match(needs[0])
    first_ms = (time.perf_counter() - started) * 1000
    hybrid, lexical = [], []
    for _ in range(rounds):
        for text in needs:
            started = time.perf_counter()
            match(text)
            hybrid.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            get_index().search(analyse(text), None, lexical_weight=1.0, limit=10)
            lexical.append((time.perf_counter() - started) * 1000)
    return {
        "offerings": index.size(),
        "build_s": build_s,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "first_ms": first_ms,
        "hybrid": hybrid,
        "bm25": lexical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", help="keep (and reuse) the filled databases in this folder")
    parser.add_argument("--database-url", help="a PostgreSQL database to use (it is emptied)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) > 1:  # one process per size: the memory figures must not mix
        for size in sizes:
            cmd = [sys.executable, __file__, "--sizes", str(size), "--rounds", str(args.rounds)]
            if args.keep:
                cmd += ["--keep", args.keep]
            if args.database_url:
                cmd += ["--database-url", args.database_url]
            import subprocess

            subprocess.run(cmd, check=True)
        return
    size = sizes[0]
    folder = args.keep or tempfile.mkdtemp()
    Path(folder).mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{folder}/speed-{size}.sqlite3"
    setup_django(url, folder)
    from django.db import connection

    from aifactory.catalog.embeddings import get_embedder

    filled = fill(size)
    result = measure(size, args.rounds)
    cpus = os.cpu_count()
    print(
        f"## {result['offerings']:,} offerings — {connection.vendor}, {get_embedder().name}, "
        f"{platform.machine()}, {cpus} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    if filled["imported_s"]:
        print(f"import through the service: {filled['imported_s']:.0f} s")
    if filled["embedded"]:
        print(f"embedding of {filled['embedded']:,} offerings: {filled['embedded_s']:.0f} s")
    print(f"index build from the database: {result['build_s']:.2f} s")
    print(
        f"process memory: {result['rss_before_mb']:.0f} MB before the build, "
        f"{result['rss_after_mb']:.0f} MB after (+{result['rss_after_mb'] - result['rss_before_mb']:.0f} MB)"
    )
    print(f"first match after the build: {result['first_ms']:.0f} ms")
    print("\n| ranker | matches | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for name, key in (("hybrid (match)", "hybrid"), ("BM25 alone (index only)", "bm25")):
        values = result[key]
        print(
            f"| {name} | {len(values)} | {percentile(values, 50):.1f} | "
            f"{percentile(values, 95):.1f} | {max(values):.1f} |"
        )
    print()


if __name__ == "__main__":
    main()
