"""What the compute benchmarks share: Django on a throw-away database, a project with a live
allocation made through the services, the machine's description, and small helpers.

Each benchmark runs with ``AIFACTORY_ENV=test`` and a temporary data folder; the database is a
fresh SQLite file in that folder, or the PostgreSQL database given with ``--database-url`` (or
``DATABASE_URL``), which is dropped and recreated, so its name must contain "bench".
"""

import os
import platform
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-Horse-battery-9"


class BenchError(Exception):
    """A step of the set-up or a measurement failed; the message says which."""


def recreate_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise BenchError(
            f"--database-url: the database {name!r} is dropped and recreated, so its name must "
            "contain 'bench'"
        )
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise BenchError(f"--database-url: cannot recreate {name!r}: {exc}") from None


def setup_django(data_dir: str, database_url: str | None, *, fresh: bool = True) -> str:
    """Settings for tests, the database migrated (a PostgreSQL one recreated first when
    ``fresh``); returns the database vendor."""
    sys.path.insert(0, str(ROOT))
    url = database_url or f"sqlite:///{data_dir}/bench.sqlite3"
    if fresh and url.startswith(("postgres://", "postgresql://")):
        recreate_postgres(url)
    os.environ.update(
        AIFACTORY_ENV="test",
        AIFACTORY_DATA_DIR=data_dir,
        DATABASE_URL=url,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aifactory.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    return connection.vendor


def make_world(
    cluster_name: str,
    backend: str,
    config: dict,
    *,
    partition: str = "main",
    username: str = "bench_pi",
    resources: dict | None = None,
) -> dict:
    """A cluster with one partition, and a project with a live allocation on it whose PI has a
    username there; everything through the services, as an operator would do it."""
    from django.utils import timezone

    from aifactory.access.models import MemberRole
    from aifactory.access.services import projects as project_services
    from aifactory.accounts import services as accounts
    from aifactory.compute import services

    operator = accounts.user_create(
        email="operator@bench.example", password=PASSWORD, staff_role="operator",
        email_verified=True,
    )  # fmt: skip
    pi = accounts.user_create(email="pi@bench.example", password=PASSWORD, email_verified=True)
    for person in (operator, pi):
        accounts.terms_accept(user=person)
    org = accounts.organisation_create(
        actor=pi,
        data={
            "legal_name": "Bench Lab S.A.",
            "country": "LU",
            "kind": "sme",
            "sectors": ["crafts"],
            "staff_headcount": 5,
            "annual_turnover_eur": 500_000,
            "vat_number": "LU15027442",
        },
    )
    cluster = services.cluster_create(
        actor=None,
        name=cluster_name,
        backend=backend,
        title="Benchmark cluster",
        config=config,
        rates={"gpu_hour": 1, "cpu_hour": "0.1"},
    )
    services.partition_set(
        actor=None, cluster=cluster, name=partition, gpus_per_node=2, gpu_type="fake",
        cpus_per_node=2, mem_gb_per_node=16, max_time_minutes=600, is_default=True,
    )  # fmt: skip
    today = timezone.localdate()
    project = project_services.project_create(
        actor=operator,
        organisation=org,
        title="Benchmark project",
        members=[(pi, MemberRole.PI)],
        allocation={
            "resources": resources or {"gpu_hours": 100_000, "cpu_core_hours": 1_000_000},
            "start": today - timedelta(days=30),
            "end": today + timedelta(days=300),
            "tranche_policy": "none",
            "cluster": cluster.name,
            "partition": partition,
        },
    )
    account = services.cluster_account_set(actor=None, cluster=cluster, user=pi, username=username)
    return {
        "operator": operator,
        "pi": pi,
        "org": org,
        "cluster": cluster,
        "project": project,
        "allocation": project.allocations.get(),
        "account": account,
    }


def machine(vendor: str) -> str:
    from django.db import connection

    db = vendor
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0]}"
    elif vendor == "sqlite":
        import sqlite3

        db = f"SQLite {sqlite3.sqlite_version}"
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"machine: {os.cpu_count()} CPUs, {uname}\n"
        f"Python {platform.python_version()}, {db}, load average before: {load}"
    )


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS of this process (VmHWM); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Stopwatch:
    """Wall and CPU time of this process over a block."""

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        return False


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in cells:
        lines.append(
            "| "
            + " | ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )
    return "\n".join(lines)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ticks(pid: int | str, children: bool) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # utime, stime (and cutime, cstime: children already waited for) are fields 14-17.
    values = [int(v) for v in fields[11:15]]
    return sum(values if children else values[:2])


class Busy:
    """How the machine's CPUs were shared over a block: this benchmark's processes (this one,
    its finished children, and ``pids``) against everything else. Other work on the machine
    disturbs the figures; the share says by how much."""

    def __init__(self, pids=(), *, apart: dict[str, list[int]] | None = None):
        self.pids = list(pids)
        # Processes reported on their own (e.g. Slurm's daemons), neither ours nor "other".
        self.apart = apart or {}

    @staticmethod
    def _machine() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values[:8]), idle

    def add_database_backend(self) -> None:
        """Count this process's PostgreSQL backend as the benchmark's own work."""
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pids.append(cursor.fetchone()[0])

    def _own(self) -> int:
        return _ticks("self", True) + sum(_ticks(pid, False) for pid in self.pids)

    def __enter__(self):
        self.total0, self.idle0 = self._machine()
        self.own0 = self._own()
        self.apart0 = {k: sum(_ticks(p, False) for p in v) for k, v in self.apart.items()}
        return self

    def __exit__(self, *exc):
        total, idle = self._machine()
        elapsed = max(1, total - self.total0)
        busy = elapsed - (idle - self.idle0)
        own = self._own() - self.own0
        apart = {
            k: sum(_ticks(p, False) for p in v) - self.apart0[k] for k, v in self.apart.items()
        }
        self.own_pct = 100 * own / elapsed
        self.apart_pct = {k: 100 * v / elapsed for k, v in apart.items()}
        self.other_pct = max(0.0, 100 * (busy - own - sum(apart.values())) / elapsed)
        return False

    def line(self) -> str:
        return (
            f"CPU use during the measurements (share of all {os.cpu_count()} CPUs): this "
            f"benchmark {self.own_pct:.0f}%, "
            + "".join(f"{k} {v:.0f}%, " for k, v in self.apart_pct.items())
            + f"other work {self.other_pct:.0f}%"
            + (" -- WARNING: other work disturbed the figures" if self.other_pct > 10 else "")
        )


def pids_named(*names: str) -> list[int]:
    """The running processes with one of these command names."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found
