"""Reading a source's document and parsing it into an RDF graph."""

import json
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rdflib import Graph

from ...models import HarvestSource
from ...storage import get_storage

# "@prefix x: <...>" with the final dot missing (as in one of the SEMIC examples).
PREFIX_WITHOUT_DOT = re.compile(r"^(\s*@prefix\s+[\w.-]*:\s*<[^>]*>)\s*$", re.MULTILINE)
# Internal entities expand without limit in rdflib's XML parser ("billion laughs").
XML_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class HarvestError(Exception):
    """The source could not be read or is not a DCAT-AP document; the message says why."""


def _max_bytes() -> int:
    return settings.DATA_HARVEST_MAX_MB * 1024 * 1024


def _read(source: HarvestSource) -> tuple[bytes, str]:
    """The document's bytes and a name to guess its format from."""
    if source.file_key:
        storage = get_storage()
        if not storage.exists(source.file_key):
            raise HarvestError(_("The uploaded file of this source is missing from the storage."))
        with storage.open(source.file_key) as handle:
            return handle.read(_max_bytes() + 1), source.file_key
    if not source.url:
        raise HarvestError(_("The source has neither an address nor a file."))
    from ...fetch import FetchError, fetch_chunks

    try:
        body = b"".join(fetch_chunks(source.url, max_bytes=_max_bytes()))
    except FetchError as exc:
        raise HarvestError(str(exc)) from None
    return body, source.url


def _formats(raw: bytes, name: str) -> list[str]:
    """The formats to try, the likeliest first (by the name's extension, then by the content)."""
    name = name.lower().split("?")[0]
    by_name = ""
    for ext, fmt in (
        (".rdf", "xml"),
        (".xml", "xml"),
        (".owl", "xml"),
        (".ttl", "turtle"),
        (".jsonld", "json-ld"),
        (".json", "json-ld"),
        (".nt", "nt"),
        (".n3", "n3"),
    ):
        if name.endswith(ext):
            by_name = fmt
            break
    head = raw[:1000].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        by_content = "xml"
    elif head.startswith((b"{", b"[")):
        by_content = "json-ld"
    else:
        by_content = "turtle"
    order = [f for f in (by_name, by_content, "xml", "turtle", "json-ld") if f]
    return list(dict.fromkeys(order))


def _remote_contexts(value) -> list[str]:
    """The remote @context references of a JSON-LD document (never fetched: refused)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "@context":
                contexts = item if isinstance(item, list) else [item]
                found += [c for c in contexts if isinstance(c, str)]
                for c in contexts:
                    if isinstance(c, dict) and isinstance(c.get("@import"), str):
                        found.append(c["@import"])
            found += _remote_contexts(item)
    elif isinstance(value, list):
        for item in value:
            found += _remote_contexts(item)
    return found


def _parse_as(raw: bytes, fmt: str) -> tuple[Graph, list[str]]:
    notes: list[str] = []
    graph = Graph()
    if fmt == "json-ld":
        try:
            document = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HarvestError(f"JSON: {exc}") from None
        remote = _remote_contexts(document)
        if remote:
            raise HarvestError(
                _(
                    "JSON-LD with a remote @context (%(url)s) is not read: the hub fetches nothing else."
                )
                % {"url": remote[0]}
            )
        graph.parse(data=json.dumps(document), format="json-ld")
        return graph, notes
    if fmt == "turtle":
        text = raw.decode("utf-8-sig")
        try:
            graph.parse(data=text, format="turtle")
        except Exception:
            repaired, count = PREFIX_WITHOUT_DOT.subn(r"\1 .", text)
            if not count:
                raise
            graph = Graph()
            graph.parse(data=repaired, format="turtle")
            notes.append(
                "repaired: %d @prefix line(s) without the final dot" % count  # noqa: UP031
            )
        return graph, notes
    graph.parse(data=raw, format=fmt)
    return graph, notes


def harvest_parse(raw: bytes, name: str = "") -> tuple[Graph, list[str]]:
    """The RDF graph of a DCAT-AP document in RDF/XML, Turtle or JSON-LD (guessed from the name and
    the content), and notes on what was repaired. HarvestError, naming the format tried first and
    its error, when no format reads it."""
    if not raw.strip():
        raise HarvestError(_("The document is empty."))
    if XML_DTD.search(raw):
        raise HarvestError(_("DTDs and entities are not accepted in harvested documents."))
    formats = _formats(raw, name)
    first_error = ""
    for fmt in formats:
        try:
            graph, notes = _parse_as(raw, fmt)
        except HarvestError as exc:
            first_error = first_error or f"{fmt}: {exc}"
            if "remote @context" in str(exc):
                raise
            continue
        except Exception as exc:  # rdflib raises many kinds of errors for bad syntax
            message = " ".join(str(exc).split())[:500]
            first_error = first_error or f"{fmt}: {exc.__class__.__name__}: {message}"
            continue
        if len(graph):
            return graph, notes
        first_error = first_error or f"{fmt}: " + _("no RDF statements")
    raise HarvestError(
        _("Not a readable RDF document (RDF/XML, Turtle or JSON-LD). %(error)s")
        % {"error": first_error}
    )
