"""The catalogue's graphs as Turtle or JSON-LD text, piece by piece (for streaming)."""

import functools
import json
import re
from collections.abc import Iterable, Iterator

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from .graph import catalog_chunks
from .vocabularies import CONTEXT

# rdflib's own serializers take time that grows faster than the graph (its namespace lookups), so
# the catalogue is written here: Turtle with one block per subject, JSON-LD as a flat @graph of
# node objects compacted with CONTEXT. Both are plain, valid forms every RDF parser reads.

PREFIXES = sorted(CONTEXT.items(), key=lambda item: -len(item[1]))
LOCAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')


@functools.lru_cache(maxsize=4096)
def _curie(iri: str) -> str | None:
    for prefix, namespace in PREFIXES:
        if iri.startswith(namespace) and LOCAL.match(iri[len(namespace) :]):
            return f"{prefix}:{iri[len(namespace) :]}"
    return None


def _iri(iri: str) -> str:
    return "<" + IRI_BAD.sub(lambda m: f"%{ord(m.group()):02X}", iri) + ">"


def _ttl(term) -> str:
    if isinstance(term, URIRef):
        return _curie(str(term)) or _iri(str(term))
    if isinstance(term, BNode):
        return f"_:b{term}"
    if term.datatype is not None and not term.language:
        text = Literal(str(term)).n3()
        return f"{text}^^{_curie(str(term.datatype)) or _iri(str(term.datatype))}"
    return term.n3()


def _by_subject(triples: Iterable) -> list[tuple]:
    """(subject, types, [(predicate, object)]) of every subject, URIs first then blank nodes."""
    subjects: dict = {}
    a = RDF.type
    for subject, predicate, obj in triples:
        types, pairs = subjects.setdefault(subject, ([], []))
        if predicate == a:
            types.append(obj)
        else:
            pairs.append((predicate, obj))
    return [
        (subject, *subjects[subject])
        for subject in sorted(subjects, key=lambda s: (isinstance(s, BNode), str(s)))
    ]


def _turtle_body(triples: Iterable) -> str:
    lines = []
    for subject, types, pairs in _by_subject(triples):
        predicates = []
        if types:
            predicates.append("a " + ", ".join(sorted(_ttl(o) for o in types)))
        by_predicate: dict = {}
        for predicate, obj in pairs:
            by_predicate.setdefault(_ttl(predicate), []).append(_ttl(obj))
        for predicate in sorted(by_predicate):
            predicates.append(f"{predicate} " + ",\n        ".join(sorted(by_predicate[predicate])))
        lines.append(f"{_ttl(subject)} " + " ;\n    ".join(predicates) + " .\n")
    return "\n".join(lines)


def _turtle_prefixes() -> str:
    return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in sorted(CONTEXT.items())) + "\n"


def _jsonld_term(term, key: bool = False):
    if isinstance(term, URIRef):
        return (_curie(str(term)) or str(term)) if key else {"@id": str(term)}
    if isinstance(term, BNode):
        return f"_:b{term}" if key else {"@id": f"_:b{term}"}
    if term.language:
        return {"@value": str(term), "@language": term.language}
    if term.datatype is not None and str(term.datatype) != str(XSD.string):
        return {"@value": str(term), "@type": _curie(str(term.datatype)) or str(term.datatype)}
    return str(term)


def _jsonld_nodes(triples: Iterable) -> Iterator[dict]:
    for subject, types, pairs in _by_subject(triples):
        node: dict = {"@id": _jsonld_term(subject)["@id"]}
        if types:
            node["@type"] = sorted(_jsonld_term(o, key=True) for o in types)
        for predicate, obj in pairs:
            node.setdefault(_jsonld_term(predicate, key=True), []).append(_jsonld_term(obj))
        yield node


def write(chunks: Iterable, fmt: str) -> Iterator[str]:
    """The text of the graphs in ``fmt`` ("ttl" or "jsonld"), piece by piece (for streaming)."""
    if fmt == "jsonld":
        yield '{"@context": ' + json.dumps(CONTEXT) + ', "@graph": [\n'
        separator = ""
        for graph in chunks:
            nodes = [json.dumps(node, ensure_ascii=False) for node in _jsonld_nodes(graph)]
            if nodes:
                yield separator + ",\n".join(nodes)
                separator = ",\n"
        yield "\n]}\n"
        return
    yield _turtle_prefixes()
    for graph in chunks:
        yield _turtle_body(graph)


def serialize(graph: Graph, fmt: str) -> str:
    """``fmt`` "ttl" (Turtle) or "jsonld" (JSON-LD, compacted with our prefixes)."""
    return "".join(write([graph], fmt))


def catalog_text(user, fmt: str, datasets: Iterable | None = None) -> Iterator[str]:
    """The catalogue as the visitor may see it, written piece by piece (the API streams it)."""
    return write(catalog_chunks(user, datasets), fmt)


MEDIA_TYPES = {"ttl": "text/turtle", "jsonld": "application/ld+json"}
