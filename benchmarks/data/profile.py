"""Profiling of a large CSV and of the same data as Parquet: wall time and peak memory (issue 6).

What is real: the path ``version_profile`` takes for each file (``services.profiling.profile_file``:
``readers.to_parquet`` — encoding sniffed on a sample, DuckDB's CSV sniffer, a streaming COPY to
Parquet — then ``profile_parquet``: one aggregate scan, a scan for the counts of the most frequent
values, patterns over a 100,000-row sample), with DuckDB limited by the settings
(DATA_DUCKDB_MEMORY, default 512MB; DATA_DUCKDB_THREADS, default 2). What is left out: the
database writes and the storage copy of the Parquet file (a file copy).

Data: ``--rows`` rows (default 10 million, about 1 GB of CSV) made by DuckDB's COPY: an id, a name
from 1,000, an e-mail (5 % empty), a date, an amount (10 % empty), a category of 12, a boolean, a
free text (20 % empty) and a UUID-like reference. The same data is written as Parquet.

Side by side, on the first ``--slice`` rows (default 1 million) as CSV: ydata-profiling in minimal
mode (pandas.read_csv + ProfileReport(minimal=True).to_json()) against our path on the same file;
the ratio of wall times is printed. ydata-profiling comes with ``pip install -e '.[bench]'``;
without it that part is skipped and said.

Each measurement runs in its own process, so its peak memory (ru_maxrss of that child, from
os.wait4) is its own. Printed per measurement: wall time of the work, CPU time of the whole child
(start-up included) and peak RSS; the ydata ratio is given in wall time and in CPU time of the
work alone (user + system of all threads), which a busy shared machine disturbs less.

    .venv/bin/python benchmarks/data/profile.py [--rows 10000000] [--slice 1000000]
        [--gb 5] [--memory 512MB] [--threads 2] [--keep DIR] [--no-ydata]

``--gb N`` makes the CSV about N GB instead of ``--rows`` (e.g. ``--gb 5`` for the 5 GB case).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BYTES_PER_ROW = 107  # measured on the generated CSV


def _django(data_dir: str, memory: str, threads: int) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        AIFACTORY_ENV="test",
        AIFACTORY_DATA_DIR=data_dir,
        DATA_DUCKDB_MEMORY=memory,
        DATA_DUCKDB_THREADS=str(threads),
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aifactory.settings")
    import django

    django.setup()


def generate(folder: Path, rows: int, memory: str, threads: int) -> tuple[Path, Path]:
    import duckdb

    csv_path, parquet_path = folder / "data.csv", folder / "data.parquet"
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET temp_directory = '{folder / 'spill'}'")
    query = f"""
        SELECT
            i AS id,
            'name_' || (hash(i) % 1000) AS name,
            CASE WHEN i % 20 = 0 THEN NULL ELSE 'user' || i || '@example.lu' END AS email,
            DATE '2015-01-01' + CAST(hash(i * 7) % 3650 AS INTEGER) AS day,
            CASE WHEN i % 10 = 0 THEN NULL ELSE round((hash(i * 13) % 1000000) / 100.0, 2) END
                AS amount,
            'cat_' || (i % 12) AS category,
            (i % 3 = 0) AS flag,
            CASE WHEN i % 5 = 0 THEN NULL ELSE 'note ' || (hash(i * 17) % 100000) END AS note,
            lpad(to_hex(i), 8, '0') || '-0000-4000-8000-000000000000' AS ref
        FROM range({rows}) t(i)
    """
    con.execute(f"COPY ({query}) TO '{csv_path}' (HEADER, DELIMITER ',')")
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{parquet_path}' "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    con.close()
    return csv_path, parquet_path


def head(source: Path, target: Path, rows: int) -> Path:
    """The header and the first ``rows`` lines (the generated CSV has no quoted newlines)."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        for n, line in enumerate(src):
            if n > rows:
                break
            dst.write(line)
    return target


# --- one measurement in a child process -------------------------------------------------------


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_ours(path: str, fmt: str, work: str, memory: str, threads: int) -> dict:
    _django(work, memory, threads)
    from aifactory.data.services.profiling import profile_file

    cpu = _cpu()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=work) as folder:
        converted, profile = profile_file(Path(path), fmt, Path(folder))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "work_cpu": _cpu() - cpu,
        "rows": converted.row_count,
        "columns": len(profile["columns"]),
        "warnings": converted.warnings,
    }


def measure_ydata(path: str) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    import pandas as pd
    from ydata_profiling import ProfileReport

    cpu = _cpu()
    started = time.perf_counter()
    frame = pd.read_csv(path)
    report = ProfileReport(frame, minimal=True, progress_bar=False)
    report.to_json()
    return {
        "seconds": time.perf_counter() - started,
        "work_cpu": _cpu() - cpu,
        "rows": len(frame),
    }


def run_child(args: list[str]) -> dict:
    """Run this script in measuring mode; its result and its own peak RSS."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"measurement {args[:2]} failed:\n{err.decode(errors='replace')[-3000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    result["cpu"] = usage.ru_utime + usage.ru_stime  # the whole child, start-up included
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--gb", type=float, default=0, help="make the CSV about this many GB")
    parser.add_argument("--slice", type=int, default=1_000_000)
    parser.add_argument("--memory", default="512MB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", help="generate into (and keep) this folder")
    parser.add_argument("--no-ydata", action="store_true")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        kind, *rest = args.measure
        if kind == "ydata":
            result = measure_ydata(rest[0])
        else:
            result = measure_ours(rest[0], kind, rest[1], args.memory, args.threads)
        print(json.dumps(result, default=str))
        return

    rows = int(args.gb * 1e9 / BYTES_PER_ROW) if args.gb else args.rows
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-profile-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        print(f"cores {os.cpu_count()} · DuckDB memory {args.memory}, threads {args.threads}")
        started = time.perf_counter()
        csv_path, parquet_path = folder / "data.csv", folder / "data.parquet"
        if not (csv_path.exists() and parquet_path.exists()):
            csv_path, parquet_path = generate(folder, rows, args.memory, args.threads)
        print(
            f"data: {rows:,} rows; CSV {csv_path.stat().st_size / 1e9:.2f} GB, Parquet "
            f"{parquet_path.stat().st_size / 1e9:.2f} GB (made in {time.perf_counter() - started:.0f} s)"
        )
        common = ["--memory", args.memory, "--threads", str(args.threads)]
        work = folder / "work"
        work.mkdir(exist_ok=True)
        for fmt, path in (("csv", csv_path), ("parquet", parquet_path)):
            r = run_child([*common, "--measure", fmt, str(path), str(work)])
            print(
                f"ours  {fmt:8} {r['rows']:>12,} rows  {r['seconds']:7.1f} s  "
                f"cpu {r['cpu']:7.1f} s  peak {r['peak_mb']:7.0f} MB"
            )
        if args.slice:
            piece = head(csv_path, folder / "slice.csv", args.slice)
            ours = run_child([*common, "--measure", "csv", str(piece), str(work)])
            print(
                f"ours  slice    {ours['rows']:>12,} rows  {ours['seconds']:7.1f} s  "
                f"cpu {ours['cpu']:7.1f} s  peak {ours['peak_mb']:7.0f} MB"
            )
            if args.no_ydata:
                print("ydata-profiling: skipped (--no-ydata)")
            else:
                try:
                    import importlib.util

                    if importlib.util.find_spec("ydata_profiling") is None:
                        raise ImportError
                except ImportError:
                    print("ydata-profiling: not installed (pip install -e '.[bench]'); skipped")
                else:
                    y = run_child(["--measure", "ydata", str(piece)])
                    print(
                        f"ydata slice    {y['rows']:>12,} rows  {y['seconds']:7.1f} s  "
                        f"cpu {y['cpu']:7.1f} s  peak {y['peak_mb']:7.0f} MB  (minimal mode)"
                    )
                    print(
                        f"ratio: ours is {y['seconds'] / ours['seconds']:.1f}x faster in wall "
                        f"time, {y['work_cpu'] / ours['work_cpu']:.1f}x in CPU time of the work "
                        f"({y['cpu'] / ours['cpu']:.1f}x with the start-ups), "
                        f"{y['peak_mb'] / ours['peak_mb']:.1f}x less peak memory"
                    )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
