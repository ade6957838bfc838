"""The ``sentence-transformers`` embedder with real models built here, on disk, from nothing: a
static word model whose German and French words for the same thing share a vector, and a tiny
randomly initialised BERT with its own tokenizer, saved as a plain transformers folder. Nothing
is downloaded from any hub."""

import importlib.util
import json
import os
import re
import sys

import numpy as np
import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from aifactory.catalog import services
from aifactory.catalog.embeddings import SentenceTransformersEmbedder, get_embedder
from aifactory.catalog.models import OfferingEmbedding
from aifactory.core.tests import processes

from .conftest import record

INSTALLED = importlib.util.find_spec("sentence_transformers") is not None
WANTED = "sentence-transformers" in os.environ.get("AIFACTORY_TEST_EXTRAS", "")
needs_st = pytest.mark.skipif(
    not INSTALLED and not WANTED,
    reason="!!! SKIPPED: sentence-transformers is not installed, so CATALOG_EMBEDDER="
    "sentence-transformers is NOT tested. Run AIFACTORY_TEST_EXTRAS=sentence-transformers "
    "scripts/test.sh (CI does), or pip install torch==2.13.0 'sentence-transformers>=5'.",
)

# word -> concept: the static model's whole knowledge
CONCEPTS = {
    "bakery": ["bäckerei", "boulangerie", "bakery", "bäcker", "boulangers", "brot", "pain"],
    "accounting": ["buchhaltung", "comptabilité", "accounting", "rechnungen", "factures"],
    "space": ["satellite", "satellitenbilder", "images", "orbit", "espace"],
    "query": ["query"],
    "passage": ["passage"],
}
DIM = len(CONCEPTS) + 1  # and one for every word it does not know


def word_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    words = ["[UNK]"] + [w for ws in CONCEPTS.values() for w in ws]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer, words


def save_static_model(folder, *, prompts=None, scale=1.0):
    """A StaticEmbedding model: each word's vector is its concept's axis."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:  # sentence-transformers 5
        from sentence_transformers.models import StaticEmbedding

    tokenizer, words = word_tokenizer()
    weights = np.zeros((len(words), DIM), dtype=np.float32)
    weights[0, DIM - 1] = 0.2
    concept_of = {w: n for n, ws in enumerate(CONCEPTS.values()) for w in ws}
    for i, word in enumerate(words[1:], start=1):
        weights[i, concept_of[word]] = scale
    model = SentenceTransformer(
        modules=[StaticEmbedding(tokenizer, embedding_weights=weights)],
        prompts=prompts,
        device="cpu",
    )
    model.save(str(folder))
    return folder


def save_tiny_bert(folder):
    """A randomly initialised 1-layer BERT and a WordPiece tokenizer built here, saved as
    transformers saves them (no modules.json: sentence-transformers adds mean pooling itself)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    torch.manual_seed(7)
    _, words = word_tokenizer()
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words[1:]]
    wordpiece = Tokenizer(models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wordpiece,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    config = BertConfig(
        vocab_size=len(tokens),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).eval().save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture
def use_folder(settings):
    def configure(folder):
        settings.CATALOG_EMBEDDER = "sentence-transformers"
        settings.CATALOG_EMBEDDER_PATH = str(folder)
        return get_embedder()

    return configure


def cosine(a, b) -> float:
    return float(np.dot(a, b))


@needs_st
def test_the_catalogue_is_indexed_with_a_model_from_disk(db, tmp_path, use_folder):
    folder = save_static_model(tmp_path / "tiny-static")
    embedder = use_folder(folder)
    assert embedder.name.startswith("sentence-transformers:tiny-static@")
    services.catalog_import(
        actor=None,
        records=[
            record(
                id="fr-boulangerie",
                title={"fr": "Boulangerie"},
                description={"fr": "Pain et factures"},
            ),
            record(id="en-space", title={"en": "Satellite images"}, description={"en": "Orbit"}),
        ],
    )
    assert services.catalog_index_pending() == 2
    stored = {e.offering.external_id: e for e in OfferingEmbedding.objects.select_related()}
    for row in stored.values():
        assert row.model == embedder.name and row.dim == DIM == embedder.dim
        assert abs(np.linalg.norm(row.array()) - 1) < 1e-5
    [need] = embedder.embed_queries(["Brot für unsere Bäckerei"])
    bakery, space = stored["fr-boulangerie"].array(), stored["en-space"].array()
    assert cosine(need, bakery) > 0.8 > cosine(need, space) + 0.5
    assert services.catalog_index_pending() == 0
    assert not [m for m in run_checks() if m.id == "aifactory.E001"]


@needs_st
def test_the_models_query_and_passage_prompts_are_applied(tmp_path, use_folder):
    from sentence_transformers import SentenceTransformer

    folder = save_static_model(
        tmp_path / "prompted", prompts={"query": "query: ", "passage": "passage: "}
    )
    embedder = use_folder(folder)
    reference = SentenceTransformer(str(folder), device="cpu")
    # sentence-transformers 6 adds an empty "document" prompt, which must not hide "passage"
    assert reference.prompts.get("document", "") == ""
    texts = ["Bäckerei", "Buchhaltung und Rechnungen"]
    queries, passages = embedder.embed_queries(texts), embedder.embed_passages(texts)
    for prompt, ours in (("query: ", queries), ("passage: ", passages)):
        theirs = reference.encode([prompt + t for t in texts], normalize_embeddings=True)
        assert np.allclose(ours, theirs, atol=1e-6)
    assert cosine(queries[0], passages[0]) < 0.9

    plain = use_folder(save_static_model(tmp_path / "plain"))
    assert np.allclose(plain.embed_queries(texts), plain.embed_passages(texts))


@needs_st
def test_a_plain_transformers_folder_is_loaded_with_mean_pooling(tmp_path, use_folder):
    folder = save_tiny_bert(tmp_path / "tiny-bert")
    assert not (folder / "modules.json").exists()
    embedder = use_folder(folder)
    texts = ["Brot für die Bäckerei", "satellite images in orbit", "x" * 50_000]
    vectors = embedder.embed_passages(texts)
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32 and embedder.dim == 16
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(embedder.embed_queries(texts), vectors, atol=1e-6)  # no prompts
    assert cosine(vectors[0], vectors[1]) < 0.999
    assert embedder.embed_queries([]).shape == (0, 16)


@needs_st
@pytest.mark.django_db(transaction=True)
def test_a_model_replaced_in_its_folder_makes_the_vectors_stale(tmp_path, use_folder):
    folder = save_static_model(tmp_path / "model")
    first = use_folder(folder)
    services.catalog_import(actor=None, records=[record(), record(id="other", title="Brot")])
    assert services.catalog_index_pending() == 2

    save_static_model(folder, scale=2.0)  # retrained: same files, other weights
    second = SentenceTransformersEmbedder()
    assert second.name != first.name
    assert second.name.split("@")[0] == first.name.split("@")[0]
    (folder / "README.md").write_text("a new model card")  # the card is not the model
    assert SentenceTransformersEmbedder().name == second.name

    env = {"CATALOG_EMBEDDER": "sentence-transformers", "CATALOG_EMBEDDER_PATH": str(folder)}
    result = processes.run("catalog", "reindex", timeout=120, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "embedded 2 offering(s)"
    assert set(OfferingEmbedding.objects.values_list("model", flat=True)) == {second.name}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "", "CATALOG_EMBEDDER_PATH: set it to the folder"),
        (lambda tmp: tmp / "nowhere", "CATALOG_EMBEDDER_PATH: there is no folder"),
        (lambda tmp: tmp, "holds no model (neither modules.json nor config.json)"),
    ],
)
def test_a_missing_model_folder_is_a_clear_error(tmp_path, settings, make, message):
    settings.CATALOG_EMBEDDER = "sentence-transformers"
    settings.CATALOG_EMBEDDER_PATH = str(make(tmp_path))
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        get_embedder()
    [error] = [m for m in run_checks() if m.id == "aifactory.E001"]
    assert message in error.msg


def test_a_missing_package_is_a_clear_error(tmp_path, settings, monkeypatch):
    (tmp_path / "modules.json").write_text("[]")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    settings.CATALOG_EMBEDDER = "sentence-transformers"
    settings.CATALOG_EMBEDDER_PATH = str(tmp_path)
    expected = "needs the sentence-transformers package: pip install 'aifactory-hub[sentence-transformers]'"
    with pytest.raises(ImproperlyConfigured, match=re.escape(expected)):
        get_embedder()
    [error] = [m for m in run_checks() if m.id == "aifactory.E001"]
    assert "aifactory-hub[sentence-transformers]" in error.msg


@needs_st
def test_a_broken_model_folder_is_a_clear_error_on_first_use(tmp_path, use_folder):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "nope", "type": "no.such.Module"}])
    )
    embedder = use_folder(folder)  # the configuration looks right
    with pytest.raises(ImproperlyConfigured, match=r"CATALOG_EMBEDDER_PATH: cannot load the model"):
        embedder.embed_queries(["Brot"])
