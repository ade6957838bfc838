"""The in-process search index of the published catalogue: BM25 postings and stored vectors.

Each process (web worker, CLI) keeps one index in memory. Before a query it asks the database
what changed since it last looked (offerings by ``updated_at``, vectors by ``computed_at``, with
a few seconds of overlap for transactions that commit late) and applies those changes; so a
listing published or re-embedded in another process is found without a restart.

Layout: a large *main* segment built in one go (postings as numpy arrays, term-major) and a
small *delta* segment rebuilt on every change; a changed offering is removed from main
(tombstoned) and lives in the delta until the next full build.
"""

import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.utils import timezone

from .embeddings import get_embedder
from .models import Offering, OfferingEmbedding, OfferingStatus

K1, B = 1.2, 0.75
OVERLAP = timedelta(seconds=5)
REBUILD_SHARE = 0.2  # rebuild everything once this share of the main segment has changed


@dataclass(slots=True)
class Doc:
    """What the index keeps of one offering."""

    pk: object
    type: str
    facets: dict[str, frozenset]  # sector, stage, language, deployment, kind, size, country
    terms: list[str]
    vector: np.ndarray | None  # until the segment holds it
    content_hash: str = ""
    has_vector: bool = False


_SETS: dict[frozenset, frozenset] = {}


def _shared(values) -> frozenset:
    """One frozenset object per distinct value: most listings share their sectors, stages and
    audiences, and 100,000 copies of the same small set would cost hundreds of megabytes."""
    key = frozenset(values)
    return _SETS.setdefault(key, key)


def doc_from(offering: Offering, vector: np.ndarray | None) -> Doc:
    from .matching import analyse

    text_langs = {lang for lang, text in (offering.title or {}).items() if text}
    text_langs |= {lang for lang, text in (offering.description or {}).items() if text}
    return Doc(
        pk=offering.pk,
        type=offering.type,
        facets={
            "type": _shared([offering.type]),
            "sector": _shared(offering.sectors or []),
            "stage": _shared(offering.stages or []),
            "language": _shared(set(offering.languages or []) | text_langs),
            "text_language": _shared(text_langs),
            "deployment": _shared(offering.deployment or []),
            "kind": _shared(offering.for_kinds or []),
            "size": _shared(offering.for_sizes or []),
            "country": _shared(offering.eligible_countries or []),
        },
        terms=analyse(offering.search_text),
        vector=vector,
        content_hash=offering.content_hash,
        has_vector=vector is not None,
    )


class Segment:
    """Immutable postings and vectors of a stream of documents.

    The documents are consumed one by one: with ``keep=False`` each gives up its words and
    vector once they are in the postings and the matrix, so building 100,000 of them never
    holds every word list at once."""

    def __init__(self, docs: Iterable[Doc], dim: int, *, keep: bool = True, capacity: int = 0):
        self.docs: list[Doc] = []
        self.dim = dim
        vocabulary: dict[str, int] = {}
        rows, cols, counts, lengths = array("i"), array("i"), array("f"), array("f")
        vectors = np.zeros((max(capacity, 16), dim), dtype=np.float32)
        has_vector = array("b")
        for slot, doc in enumerate(docs):
            self.docs.append(doc)
            tf = Counter(vocabulary.setdefault(term, len(vocabulary)) for term in doc.terms)
            lengths.append(len(doc.terms))
            rows.extend([slot] * len(tf))
            cols.extend(tf.keys())
            counts.extend(tf.values())
            if slot == len(vectors):
                vectors = np.concatenate([vectors, np.zeros_like(vectors)])
            usable = doc.vector is not None and doc.vector.shape == (dim,)
            if usable:
                vectors[slot] = doc.vector
            has_vector.append(usable)
            if not keep:
                doc.terms, doc.vector = [], None
        self.n = len(self.docs)
        self.vocabulary = vocabulary
        self.lengths = np.frombuffer(lengths, dtype=np.float32).copy()
        cols_array = np.frombuffer(cols, dtype=np.int32)
        order = np.argsort(cols_array, kind="stable")
        self.post_docs = np.frombuffer(rows, dtype=np.int32)[order]
        self.post_tf = np.frombuffer(counts, dtype=np.float32)[order]
        self.starts = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        if len(cols_array):
            np.cumsum(np.bincount(cols_array, minlength=len(vocabulary)), out=self.starts[1:])
        self.vectors = vectors[: self.n] if len(vectors) == self.n else vectors[: self.n].copy()
        self.has_vector = np.frombuffer(has_vector, dtype=np.int8).astype(bool)
        self.alive = np.ones(self.n, dtype=bool)
        self.dead = 0
        self.set_avgdl(max(1.0, float(self.lengths.mean())) if self.n else 1.0)
        self.slot_of = {doc.pk: slot for slot, doc in enumerate(self.docs)}
        self._masks: dict[tuple, np.ndarray] = {}

    def set_avgdl(self, avgdl: float) -> None:
        self.norm = (K1 * (1 - B + B * self.lengths / avgdl)).astype(np.float32)

    def all_alive(self) -> bool:
        return self.dead == 0

    def kill(self, slot: int) -> None:
        if self.alive[slot]:
            self.alive[slot] = False
            self.dead += 1

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        tid = self.vocabulary.get(term)
        if tid is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, end = self.starts[tid], self.starts[tid + 1]
        return self.post_docs[start:end], self.post_tf[start:end]

    def df(self, term: str) -> int:
        tid = self.vocabulary.get(term)
        return 0 if tid is None else int(self.starts[tid + 1] - self.starts[tid])

    def mask(self, facet: str, values: frozenset) -> np.ndarray:
        """Documents having any of the values in the facet (cached: facets repeat)."""
        key = (facet, values)
        if key not in self._masks:
            self._masks[key] = np.fromiter(
                (bool(doc.facets[facet] & values) for doc in self.docs), dtype=bool, count=self.n
            )
        return self._masks[key]


@dataclass
class Hit:
    doc: Doc
    cosine: float
    lexical: float  # BM25 over the best a document could reach for the query's words
    terms: list[str] = field(default_factory=list)  # query words found in the document
    vector: np.ndarray | None = None


class CatalogIndex:
    def __init__(self):
        self.lock = threading.RLock()
        self.main: Segment | None = None
        self.delta: Segment | None = None
        self.delta_docs: dict = {}
        self.model = ""
        self.dim = 0
        self.seen_offerings = None
        self.seen_vectors = None
        self.built_at = 0.0
        self.build_seconds = 0.0
        self.stamps: dict = {}

    # --- keeping up with the database -------------------------------------------------------

    def build(self) -> None:
        """Read every published offering and its vector; replaces what was there."""
        started = time.perf_counter()
        embedder = get_embedder()
        now = timezone.now()
        pks = list(_published().values_list("pk", flat=True))
        main = Segment(_stream(pks, embedder.name), embedder.dim, keep=False, capacity=len(pks))
        with self.lock:
            self.model, self.dim = embedder.name, embedder.dim
            self.main = main
            self.delta, self.delta_docs = None, {}
            self.seen_offerings = self.seen_vectors = now - OVERLAP
            self.stamps = {}
            self.built_at = time.time()
            self.build_seconds = time.perf_counter() - started

    def refresh(self) -> None:
        """Apply what changed in the database since the last look."""
        embedder = get_embedder()
        if self.main is None or embedder.name != self.model:
            self.build()
            return
        now = timezone.now()
        # Rows inside the overlap window come back on every look; only new stamps count.
        stamps = {
            ("o", pk): at
            for pk, at in Offering.objects.filter(updated_at__gte=self.seen_offerings)
            .order_by()  # the default order (external_id) would walk the whole table
            .values_list("pk", "updated_at")
        }
        stamps |= {
            ("v", pk): at
            for pk, at in OfferingEmbedding.objects.filter(
                computed_at__gte=self.seen_vectors, model=embedder.name
            ).values_list("offering_id", "computed_at")
        }
        changed = {key[1] for key, at in stamps.items() if self.stamps.get(key) != at}
        if changed:
            self._apply(changed, embedder.name)
        self.stamps = stamps
        self.seen_offerings = self.seen_vectors = now - OVERLAP

    def _apply(self, pks: set, model: str) -> None:
        offerings = {o.pk: o for o in _published().filter(pk__in=pks)}
        vectors = dict(
            OfferingEmbedding.objects.filter(offering_id__in=list(offerings), model=model)
            .filter(content_hash=_current_hash())
            .values_list("offering_id", "vector")
        )
        with self.lock:
            changed = False
            for pk in pks:
                offering = offerings.get(pk)
                raw = vectors.get(pk)
                vector = _array(raw) if raw is not None else None
                doc = doc_from(offering, vector) if offering else None
                old = self.delta_docs.get(pk) or self._main_doc(pk)
                if _same(old, doc):
                    continue
                changed = True
                slot = self.main.slot_of.get(pk)
                if slot is not None:
                    self.main.kill(slot)
                if doc is None:
                    self.delta_docs.pop(pk, None)
                else:
                    self.delta_docs[pk] = doc
            if not changed:
                return
            if self.main.dead + len(self.delta_docs) > max(50, REBUILD_SHARE * self.main.n):
                self.build()
                return
            self.delta = Segment(list(self.delta_docs.values()), self.dim)
            if self.main.n:  # one length normalisation for both, so their scores compare
                self.delta.set_avgdl(max(1.0, float(self.main.lengths.mean())))

    def _main_doc(self, pk) -> Doc | None:
        slot = self.main.slot_of.get(pk)
        if slot is None or not self.main.alive[slot]:
            return None
        return self.main.docs[slot]

    # --- querying ---------------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        return [s for s in (self.main, self.delta) if s is not None and s.n]

    def size(self) -> int:
        return sum(int(s.alive.sum()) for s in self.segments())

    def search(
        self,
        terms: list[str],
        vector: np.ndarray | None,
        *,
        facets: dict[str, frozenset] | None = None,
        lexical_weight: float,
        limit: int,
    ) -> list[Hit]:
        """The ``limit`` best documents by cosine + lexical_weight × normalised BM25."""
        with self.lock:
            segments = self.segments()
            if not segments:
                return []
            n = sum(s.n for s in segments)
            unique = list(dict.fromkeys(terms))
            idf = {}
            for term in unique:
                df = sum(s.df(term) for s in segments)
                if df:
                    idf[term] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
            best = sum(w * (K1 + 1) for w in idf.values()) or 1.0
            candidates: list[tuple[float, Segment, int, float, float]] = []
            for segment in segments:
                score = (
                    segment.vectors @ vector
                    if vector is not None and vector.shape == (segment.dim,)
                    else np.zeros(segment.n, dtype=np.float32)
                )
                lexical = np.zeros(segment.n, dtype=np.float32)
                norm = segment.norm  # BM25 length normalisation, from the main segment's avgdl
                for term, weight in idf.items():
                    docs, tf = segment.postings(term)
                    if len(docs):
                        lexical[docs] += (weight * (K1 + 1) / best) * tf / (tf + norm[docs])
                cosine = score.copy() if idf else score
                if idf:
                    score += lexical_weight * lexical
                keep = None if segment.all_alive() else segment.alive
                for facet, values in (facets or {}).items():
                    if values:
                        mask = segment.mask(facet, values)
                        keep = mask if keep is None else keep & mask
                if keep is not None:
                    score[~keep] = -np.inf
                    top = min(limit, int(keep.sum()))
                else:
                    top = min(limit, segment.n)
                if top <= 0:
                    continue
                picked = np.argpartition(-score, top - 1)[:top]
                candidates.extend(
                    (float(score[i]), segment, int(i), float(cosine[i]), float(lexical[i]))
                    for i in picked
                )
            candidates.sort(key=lambda c: -c[0])
            hits = []
            for _score, segment, slot, cosine, lexical in candidates[:limit]:
                found = [t for t in idf if _has(segment, t, slot)]
                vector_of = segment.vectors[slot] if segment.has_vector[slot] else None
                hits.append(Hit(segment.docs[slot], cosine, lexical, found, vector_of))
            return hits


def _stream(pks: list, model: str, chunk: int = 2000) -> Iterator[Doc]:
    """The documents of these offerings, read a chunk at a time with their current vectors."""
    for start in range(0, len(pks), chunk):
        part = pks[start : start + chunk]
        offerings = _published().in_bulk(part)
        vectors = dict(
            OfferingEmbedding.objects.filter(offering_id__in=part, model=model)
            .filter(content_hash=_current_hash())
            .values_list("offering_id", "vector")
        )
        for pk in part:
            offering = offerings.get(pk)  # unpublished meanwhile: the next look catches up
            if offering is not None:
                raw = vectors.get(pk)
                yield doc_from(offering, _array(raw) if raw is not None else None)


def _has(segment: Segment, term: str, slot: int) -> bool:
    docs, _tf = segment.postings(term)
    i = np.searchsorted(docs, slot)
    return bool(i < len(docs) and docs[i] == slot)


def _same(old: Doc | None, new: Doc | None) -> bool:
    if old is None or new is None:
        return old is new
    return (
        old.content_hash == new.content_hash
        and old.facets == new.facets
        and old.type == new.type
        and old.has_vector == new.has_vector
    )


def _published():
    return (
        Offering.objects.filter(status=OfferingStatus.PUBLISHED)
        .order_by()
        .only(
            "pk",
            "type",
            "title",
            "description",
            "tags",
            "sectors",
            "stages",
            "languages",
            "deployment",
            "for_kinds",
            "for_sizes",
            "eligible_countries",
            "search_text",
            "content_hash",
        )
    )


def _current_hash():
    from django.db.models import OuterRef, Subquery

    return Subquery(Offering.objects.filter(pk=OuterRef("offering_id")).values("content_hash"))


def _array(raw) -> np.ndarray:
    return np.frombuffer(bytes(raw), dtype="<f4").copy()


_index = CatalogIndex()


def get_index(refresh: bool = True) -> CatalogIndex:
    """The process's index, brought up to date with the database."""
    if refresh:
        with _index.lock:
            _index.refresh()
    return _index


def reset_index() -> None:
    """Forget everything (tests swap databases under the process)."""
    global _index
    _index = CatalogIndex()
