"""The stored multilingual embeddings: the real model (small, offline), loaded once per process."""

import json

import numpy as np
import pytest
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured
from django_tasks_db.models import DBTaskResult

from aifactory.catalog import services
from aifactory.catalog.embeddings import MAX_CHARS, get_embedder, passage_text
from aifactory.catalog.models import Offering, OfferingEmbedding
from aifactory.catalog.tasks import offering_embed
from aifactory.core.models import AuditEvent
from aifactory.core.tests import processes

from .conftest import draft_data, record


def cosine(a, b) -> float:
    return float(np.dot(a, b))


def test_vectors_are_stored_with_their_dimension_and_normalised(db):
    services.catalog_import(
        actor=None,
        records=[
            record(),
            record(id="course-ki", title={"de": "KI für Bäcker", "fr": "IA pour boulangers"}),
        ],
    )
    assert services.catalog_index_pending() == 2
    for row in OfferingEmbedding.objects.all():
        vector = row.array()
        assert row.model == "use-multilingual-v3"
        assert row.dim == 512 == vector.shape[0]
        assert vector.dtype == np.float32
        assert abs(np.linalg.norm(vector) - 1) < 1e-3
        assert row.content_hash == row.offering.content_hash
    event = AuditEvent.objects.get(action="catalog.index")
    assert event.changes["embedded"] == 2
    assert services.catalog_index_pending() == 0


def test_the_same_thing_in_german_and_french_is_closer_than_unrelated_texts():
    embedder = get_embedder()
    de, fr, other = embedder.embed_passages(
        [
            "Buchhaltungssoftware für kleine Handwerksbetriebe: Rechnungen automatisch erfassen.",
            "Logiciel de comptabilité pour petits artisans : saisie automatique des factures.",
            "Satellite images to monitor crop health and forecast the harvest.",
        ]
    )
    assert cosine(de, fr) > cosine(de, other) + 0.2
    assert cosine(de, fr) > cosine(fr, other) + 0.2


def test_passage_text_has_every_language_and_is_capped():
    offering = Offering(
        title={"en": "Forecasting", "fr": "Prévisions"},
        description={"en": "x" * 20_000, "fr": "Prévoit les ventes."},
    )
    text = passage_text(offering)
    assert len(text) <= MAX_CHARS
    assert "Prévisions\nPrévoit les ventes." in text and text.startswith("Forecasting\n")
    assert len(get_embedder().embed_queries(["y" * 50_000])) == 1


def test_a_text_change_makes_the_vector_stale_and_the_task_recomputes_it(
    operator, provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        offering = services.offering_create(
            actor=provider["manager"], data=draft_data(provider["org"])
        )
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "aifactory.catalog.tasks.offering_embed"
    assert queued.args_kwargs["args"] == [str(offering.pk)]

    assert offering_embed.call(str(offering.pk)) is True
    first = OfferingEmbedding.objects.get(offering=offering)
    assert offering_embed.call(str(offering.pk)) is False  # current: left alone

    with django_capture_on_commit_callbacks(execute=True):
        services.offering_update(
            actor=provider["manager"],
            offering=offering,
            data={"description": {"de": "Plant die Touren der Lieferwagen einer Bäckerei."}},
        )
    assert DBTaskResult.objects.count() == 2
    offering.refresh_from_db()
    assert offering.content_hash != first.content_hash
    # a draft is not in the published index, but its own task embeds it
    assert services.catalog_index_pending() == 0
    assert offering_embed.call(str(offering.pk)) is True
    second = OfferingEmbedding.objects.get(offering=offering)
    assert second.content_hash == offering.content_hash
    assert cosine(first.array(), second.array()) < 0.99


def test_a_changed_model_name_is_stale(db):
    services.catalog_import(actor=None, records=[record()])
    assert services.catalog_index_pending() == 1
    OfferingEmbedding.objects.update(model="some-older-model")
    assert services.catalog_index_pending(limit=0) == 0
    assert services.catalog_index_pending() == 1
    assert OfferingEmbedding.objects.get().model == "use-multilingual-v3"
    assert services.catalog_index_pending(everything=True) == 1


def test_an_import_queues_one_task_per_changed_offering(db, django_capture_on_commit_callbacks):
    records = [record(), record(id="course-ki", type="course", title="KI für Bäcker")]
    with django_capture_on_commit_callbacks(execute=True):
        services.catalog_import(actor=None, records=records)
    assert DBTaskResult.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.catalog_import(actor=None, records=records)  # unchanged: nothing to do
    assert DBTaskResult.objects.count() == 2


def test_an_unknown_embedder_is_a_clear_error(settings, db):
    settings.CATALOG_EMBEDDER = "word2vec-1999"
    with pytest.raises(ImproperlyConfigured, match="CATALOG_EMBEDDER: unknown embedder"):
        get_embedder()
    [error] = [m for m in run_checks() if m.id == "aifactory.E001"]
    assert isinstance(error, Error) and "word2vec-1999" in error.msg
    assert "e5-small-4bit, sentence-transformers, openai" in error.msg
    services.catalog_import(actor=None, records=[record()])
    with pytest.raises(ImproperlyConfigured, match="word2vec-1999"):
        services.catalog_index_pending()
    assert not OfferingEmbedding.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_cli_import_returns_with_every_offering_searchable(tmp_path):
    source = tmp_path / "offerings.json"
    records = [record(id=f"sol-{n}", title={"fr": f"Solution numéro {n}"}) for n in range(70)]
    source.write_text(json.dumps(records), encoding="utf-8")
    result = processes.run("catalog", "import", str(source))
    assert result.returncode == 0, result.stderr
    assert "embedded 70 offering(s) for search" in result.stdout
    stored = {e.offering_id: e for e in OfferingEmbedding.objects.all()}
    offerings = list(Offering.objects.all())
    assert len(offerings) == 70
    for offering in offerings:
        assert stored[offering.pk].content_hash == offering.content_hash

    OfferingEmbedding.objects.filter(offering__external_id="sol-3").delete()
    assert processes.run("catalog", "reindex").stdout.strip() == "embedded 1 offering(s)"
    assert processes.run("catalog", "reindex", "--all").stdout.strip() == (
        "embedded 70 offering(s)"
    )


@pytest.mark.django_db(transaction=True)
def test_an_unknown_embedder_stops_the_cli_clearly():
    result = processes.run("catalog", "reindex", CATALOG_EMBEDDER="nope")
    assert result.returncode != 0
    assert "(aifactory.E001) CATALOG_EMBEDDER: unknown embedder “nope”" in result.stderr
    assert "Traceback" not in result.stderr
    assert "aifactory.E001" not in processes.run("check").stderr  # the default is fine
