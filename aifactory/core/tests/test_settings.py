"""Production mode refuses to start with settings that are only safe on a laptop.

Each case starts a fresh Python with a clean environment, as the server would start.
"""

import os
import subprocess
import sys

import pytest

GOOD_KEY = "f3Kq9-vT7xLm2pZr8sWn4bYc6dHj1gAe5uRo0iEk"  # 40 characters, not the default


def start(tmp_path, **variables):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "aifactory.settings",
        "AIFACTORY_DATA_DIR": str(tmp_path / "data"),
        **{k: v for k, v in variables.items() if v is not None},
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
    )


PRODUCTION = {
    "AIFACTORY_ENV": "production",
    "SECRET_KEY": GOOD_KEY,
    "ALLOWED_HOSTS": "hub.example.lu",
}


def test_production_starts_with_proper_settings(tmp_path):
    result = start(tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "['hub.example.lu']", "True", "True"]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "insecure-embedded-default-change-me"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short-secret"}, "SECRET_KEY"),
        ({"DEBUG": "1"}, "DEBUG"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, change, complaint):
    result = start(tmp_path, **{**PRODUCTION, **change})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Refusing to start in production" in result.stderr
    assert complaint in result.stderr.splitlines()[-1]


def test_production_names_every_problem_at_once(tmp_path):
    result = start(tmp_path, AIFACTORY_ENV="production", DEBUG="on")
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "SECRET_KEY" in last and "DEBUG" in last and "ALLOWED_HOSTS" in last


def test_development_starts_with_the_defaults(tmp_path):
    result = start(tmp_path, AIFACTORY_ENV="development")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"


def test_an_unknown_environment_is_refused(tmp_path):
    result = start(tmp_path, AIFACTORY_ENV="staging")
    assert result.returncode != 0
    assert "AIFACTORY_ENV" in result.stderr
