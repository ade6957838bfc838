"""Run the real `aifactory` command on the test database, for tests that need a second process.

Such tests must be transactional (`django_db(transaction=True)`), or the other process would not
see what the test wrote, nor the test what it wrote.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

CONSOLE_SCRIPT = Path(sys.executable).with_name("aifactory")


def command() -> list[str]:
    """The installed console script; `python -m aifactory.cli` where it is not installed."""
    if CONSOLE_SCRIPT.exists():
        return [str(CONSOLE_SCRIPT)]
    return [sys.executable, "-m", "aifactory.cli"]


def database_url() -> str:
    """DATABASE_URL of the database this test runs on (pytest-django renames it)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:memorydb"):
            raise RuntimeError("an in-memory SQLite database cannot be shared with a process")
        return f"sqlite:///{name}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "localhost"
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"
    raise RuntimeError(f"no DATABASE_URL for {db['ENGINE']}")


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "AIFACTORY_ENV": "test", "DATABASE_URL": database_url()}
    env.pop("DEBUG", None)
    env.update(extra)
    return env


def run(*args: str, stdin: str = "", timeout: float = 60, **extra_env: str):
    return subprocess.run(
        [*command(), *args],
        input=stdin,
        env=environment(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*command(), *args],
        env=environment(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen, timeout: float = 10) -> str:
    """Stop it as a service manager would (SIGTERM) and return what it printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read() if process.stdout else ""


def wait_for(check, timeout: float = 30, every: float = 0.1):
    """Poll until check() returns something true; return it, or None after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    return None
