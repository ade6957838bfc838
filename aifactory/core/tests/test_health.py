"""/healthz says the process answers; /readyz says it can do its work: database, migrations, worker."""

import os
import socket
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from aifactory.core.models import WorkerHeartbeat
from aifactory.core.services import worker_heartbeat

from . import processes


def test_healthz_answers_json_without_the_database(client):
    # No django_db mark: pytest-django fails the test if the view touches the database.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "ok"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_503_without_a_worker(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"] == {"ok": True, "pending": []}
    assert body["checks"]["worker"] == {"ok": False, "last_seen": None}


@pytest.mark.django_db
def test_readyz_is_200_after_a_heartbeat_and_503_when_it_is_stale(client, settings):
    beat = {"worker_id": "w1", "hostname": socket.gethostname(), "pid": os.getpid()}
    worker_heartbeat(**beat, started_at=timezone.now())
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["worker"]["ok"] is True

    WorkerHeartbeat.objects.update(
        seen_at=timezone.now() - timedelta(seconds=settings.WORKER_STALE_SECONDS + 1)
    )
    assert client.get("/readyz").status_code == 503

    # The next beat of the same worker updates its row rather than adding one.
    worker_heartbeat(**beat, started_at=timezone.now())
    assert WorkerHeartbeat.objects.count() == 1
    assert client.get("/readyz").status_code == 200


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def database_down(django_db_blocker):
    """Point the connection at a database that is not there, then put it back."""
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent/secret-folder/hub.sqlite3"
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
        try:
            yield connection.settings_dict
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def test_readyz_keeps_the_database_error_in_the_log(client, database_down, caplog):
    """Anyone may call /readyz; the error text may name hosts, ports or paths."""
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {"ok": False, "error": "unreachable"}
    shown = response.content.decode()
    assert "secret-folder" not in shown
    if database_down["PORT"]:
        assert f"port {database_down['PORT']}" not in shown
    logged = [r for r in caplog.records if r.name == "aifactory.core.views"]
    assert logged and logged[0].exc_info is not None


@pytest.mark.django_db
def test_health_endpoints_only_answer_get(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_readyz_turns_ready_when_a_real_worker_runs(client):
    assert client.get("/readyz").status_code == 503
    worker = processes.start("worker", "--interval", "0.2")
    try:
        ready = processes.wait_for(lambda: client.get("/readyz").status_code == 200, timeout=30)
        beat = WorkerHeartbeat.objects.get()
        assert ready, processes.stop(worker)
        assert beat.pid == worker.pid
        assert worker.poll() is None
    finally:
        output = processes.stop(worker)
    assert worker.returncode == 0, output
    assert "started" in output
