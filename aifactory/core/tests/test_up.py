"""The quickstart, for real: `aifactory up` on a fresh data folder, as `make run` starts it.

It migrates, loads the demo, runs the web server and the worker until /readyz is green, and stops
all three on Ctrl-C (SIGINT). A second start on the same folder changes nothing.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

READY_TIMEOUT = 60
STOP_TIMEOUT = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def children_of(pid: int) -> set[int]:
    """Every living descendant, from /proc (field 4 of /proc/PID/stat is the parent)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and brackets; the fields after it do not.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        kids = {p for p, pp in parents.items() if pp == parent}
        found |= kids
        todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(data_dir: Path, port: int, log: Path, *args: str, **extra: str) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "TASKS_BACKEND"}
    }
    env.update(
        AIFACTORY_ENV="development",
        AIFACTORY_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'hub.sqlite3'}",
        PYTHONUNBUFFERED="1",
        HOME=str(data_dir),  # gunicorn keeps a control socket there
    )
    env.update(extra)
    return subprocess.Popen(
        [sys.executable, "-m", "aifactory.cli", "up", "--port", str(port), *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=data_dir,
    )


def run_until_ready_then_interrupt(data_dir: Path, name: str, *args: str, **extra: str) -> str:
    """Start `up`, wait for /readyz, check the pages, send SIGINT; return what it printed."""
    port = free_port()
    log = data_dir / f"{name}.log"
    process = start(data_dir, port, log, *args, **extra)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while get(f"{base}/readyz") != 200:
            assert process.poll() is None, f"`up` stopped early:\n{log.read_text()}"
            assert time.monotonic() < deadline, (
                f"not ready in {READY_TIMEOUT} s:\n{log.read_text()}"
            )
            time.sleep(0.2)
        assert get(f"{base}/") == 200
        children = children_of(process.pid)
        assert len(children) >= 2, f"expected the web server and the worker, got {children}"

        process.send_signal(signal.SIGINT)
        process.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in children if alive(pid)]
        assert not left, f"still running after SIGINT: {left}"
        assert get(f"{base}/healthz") == 0, "the web server still answers"
    finally:
        if process.poll() is None:
            for pid in children_of(process.pid):
                os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait()
    return log.read_text()


def count(data_dir: Path, table: str) -> int:
    with sqlite3.connect(data_dir / "hub.sqlite3") as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_quickstart_starts_stops_and_starts_again(tmp_path):
    first = run_until_ready_then_interrupt(tmp_path, "first")
    assert "demo data: 13 people created, 6 organisations created" in first
    assert "demo logins (password for all:" in first
    assert "admin@demo.aifactory.lu" in first
    assert "stopping" in first
    organisations, people = (
        count(tmp_path, "accounts_organisation"),
        count(tmp_path, "accounts_user"),
    )
    assert (organisations, people) == (6, 13)

    second = run_until_ready_then_interrupt(tmp_path, "second")
    assert "demo data: 0 people created, 0 organisations created, 0 memberships created" in second
    assert "warning: demo" not in second
    assert (count(tmp_path, "accounts_organisation"), count(tmp_path, "accounts_user")) == (6, 13)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_production_starts_without_the_demo(tmp_path):
    output = run_until_ready_then_interrupt(
        tmp_path,
        "production",
        AIFACTORY_ENV="production",
        SECRET_KEY="a-production-secret-key-of-more-than-32-characters",
        ALLOWED_HOSTS="127.0.0.1",
        WEB_CONCURRENCY="1",
    )
    assert "demo data not loaded" in output
    assert "demo logins" not in output
    assert count(tmp_path, "accounts_user") == 0
