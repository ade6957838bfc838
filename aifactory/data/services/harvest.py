"""Harvesting: datasets read from other catalogues (DCAT-AP in RDF/XML, Turtle or JSON-LD).

An operator registers a source (an https address, such as a udata portal's ``catalog.rdf`` or a
CKAN DCAT endpoint, or a file uploaded here); ``harvest_run`` reads it, maps every ``dcat:Dataset``
to a dataset of the source's publisher organisation, and creates or updates it by its identifier
within the source (``dct:identifier``, or the node's URI), so a dataset is never duplicated. A
content hash tells unchanged datasets from updated ones. Datasets the source no longer lists are
marked gone and archived, and come back when the source lists them again. Their files stay at the
source: the distributions are kept as references (``Dataset.harvested_distributions``).

A dataset that cannot be mapped is recorded in the run's errors and the others go on; a document
that cannot be read fails the run and changes nothing. Harvested datasets are published at once,
with their metadata quality assessed like any other. A harvest never loosens the access rights
or clears the personal-data flag a steward set, and a dataset with personal data is never public.
Documents with a DTD or entities are refused unread (entity expansion can hold the worker).
"""

import contextlib
import datetime
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify
from django.utils.translation import gettext as _
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS

from aifactory.core.errors import NotFound
from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record

from .. import dcat
from ..models import (
    AccessRights,
    Dataset,
    DatasetStatus,
    Frequency,
    HarvestRun,
    HarvestSource,
    HarvestStatus,
    Theme,
)
from ..storage import get_storage
from .datasets import RESERVED_SLUGS

__all__ = [
    "HarvestError",
    "harvest_due",
    "harvest_parse",
    "harvest_records",
    "harvest_run",
    "harvest_source_create",
    "harvest_source_run",
    "harvest_source_update",
]

logger = logging.getLogger(__name__)

DCAT = dcat.DCAT
VCARD = dcat.VCARD
SCHEMA = "http://schema.org/"
TIME = "http://www.w3.org/2006/time#"
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,78}[a-z0-9])?$")
# "@prefix x: <...>" with the final dot missing (as in one of the SEMIC examples).
PREFIX_WITHOUT_DOT = re.compile(r"^(\s*@prefix\s+[\w.-]*:\s*<[^>]*>)\s*$", re.MULTILINE)
TEXT_MAX = 20_000
TITLE_MAX = 300
KEYWORDS_MAX = 100
# Strictness of access rights: a harvest may tighten a dataset's rights, never loosen them.
STRICTNESS = {
    AccessRights.PUBLIC: 0,
    AccessRights.REGISTERED: 1,
    AccessRights.RESTRICTED: 2,
    AccessRights.INTERNAL: 3,
}
# Internal entities expand without limit in rdflib's XML parser ("billion laughs").
XML_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class HarvestError(Exception):
    """The source could not be read or is not a DCAT-AP document; the message says why."""


# --- sources ---------------------------------------------------------------------------------


def _organisation(value):
    from aifactory.accounts.models import Organisation

    if isinstance(value, Organisation):
        return value
    organisation = None
    with contextlib.suppress(ValueError, TypeError, ValidationError):
        organisation = Organisation.objects.filter(pk=uuid.UUID(str(value))).first()
    if organisation is None and value:
        organisation = Organisation.objects.filter(legal_name__iexact=str(value).strip()).first()
    if organisation is None:
        raise ValidationError({"publisher": _("No such organisation.")})
    return organisation


def _check_url(url: str) -> str:
    from ..fetch import FetchError, check_reference

    url = (url or "").strip()
    if url.lower().startswith("s3://"):
        raise ValidationError({"url": _("Give an https address of a DCAT-AP document.")})
    try:
        return check_reference(url)
    except FetchError as exc:
        raise ValidationError({"url": str(exc)}) from None


def _clean_source(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    known = {"name", "title", "url", "file", "publisher", "interval_hours", "is_active"}
    unknown = set(data) - known
    if unknown:
        raise ValidationError({f: _("Not a field of a harvest source.") for f in sorted(unknown)})
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "name" in data or creating:
        name = str(data.get("name") or "").strip()
        if not NAME_RE.match(name):
            errors["name"] = _(
                "Use 1 to 80 lower-case letters, digits, - and _ (starting with a letter or digit)."
            )
        clean["name"] = name
    if "title" in data:
        title = str(data.get("title") or "").strip()
        if len(title) > 200:
            errors["title"] = _("At most 200 characters.")
        clean["title"] = title
    if "publisher" in data or creating:
        try:
            clean["publisher"] = _organisation(data.get("publisher"))
        except ValidationError:
            errors["publisher"] = _("No such organisation.")
    if "interval_hours" in data:
        try:
            hours = int(data["interval_hours"])
            if not 1 <= hours <= 24 * 366:
                raise ValueError
            clean["interval_hours"] = hours
        except (TypeError, ValueError):
            errors["interval_hours"] = _("A whole number of hours from 1 to 8784.")
    if "is_active" in data:
        clean["is_active"] = bool(data["is_active"])
    if data.get("url"):
        try:
            clean["url"] = _check_url(str(data["url"]))
        except ValidationError as exc:
            errors["url"] = exc.message_dict["url"][0]
    if data.get("file") is not None:
        clean["file"] = data["file"]
    if data.get("url") and data.get("file") is not None:
        errors["url"] = _("Give an address or a file, not both.")
    elif creating and not data.get("url") and data.get("file") is None:
        errors["url"] = _("Give the address of a DCAT-AP document, or upload the file.")
    if errors:
        raise ValidationError(errors)
    return clean


def _chunks(file) -> Iterable[bytes]:
    """An uploaded file (Django's UploadedFile), bytes, or an iterable of chunks."""
    if isinstance(file, bytes | bytearray):
        yield bytes(file)
    elif hasattr(file, "chunks"):
        yield from file.chunks()
    elif hasattr(file, "read"):
        while chunk := file.read(1024 * 1024):
            yield chunk
    else:
        yield from file


def _store_file(file, name: str) -> str:
    from ..storage import TooLarge

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name or "catalog")[:100] or "catalog"
    key = f"harvest/{uuid.uuid4()}/{safe}"
    try:
        stored = get_storage().put_stream(key, _chunks(file), max_bytes=_max_bytes())
    except TooLarge as exc:
        raise ValidationError({"file": str(exc)}) from None
    if stored.size == 0:
        get_storage().delete(key)
        raise ValidationError({"file": _("The file is empty.")})
    return key


def _max_bytes() -> int:
    return settings.DATA_HARVEST_MAX_MB * 1024 * 1024


def _file_name(file) -> str:
    return str(getattr(file, "name", "") or "catalog").replace("\\", "/").rsplit("/", 1)[-1]


def harvest_source_create(*, actor, data: dict[str, Any]) -> HarvestSource:
    """A new source (operators). ``data``: name, publisher (an organisation or its id), url (https)
    or file (an uploaded file, bytes or chunks), and optionally title, interval_hours, is_active."""
    require_actor(actor, "harvest.manage")
    clean = _clean_source(data, creating=True)
    if HarvestSource.objects.filter(name=clean["name"]).exists():
        raise ValidationError({"name": _("A harvest source with this name exists already.")})
    file = clean.pop("file", None)
    file_key = _store_file(file, _file_name(file)) if file is not None else ""
    try:
        with transaction.atomic():
            source = HarvestSource.objects.create(file_key=file_key, **clean)
            audit_record(
                actor=actor,
                action="harvest_source.create",
                obj=source,
                organisation_id=source.publisher_id,
                changes={
                    "url": source.url,
                    "file": bool(file_key),
                    "publisher": str(source.publisher_id),
                    "interval_hours": source.interval_hours,
                },
            )
    except IntegrityError:
        if file_key:
            get_storage().delete(file_key)
        raise ValidationError(
            {"name": _("A harvest source with this name exists already.")}
        ) from None
    except Exception:
        if file_key:
            get_storage().delete(file_key)
        raise
    return source


def harvest_source_update(*, actor, source: HarvestSource, data: dict[str, Any]) -> HarvestSource:
    """Change what ``data`` gives (the same keys as for creating); a new url replaces the file and
    a new file the url. The publisher of the source's datasets changes with the next run."""
    require_actor(actor, "harvest.manage", source)
    clean = _clean_source(data, creating=False)
    if (
        "name" in clean
        and HarvestSource.objects.filter(name=clean["name"]).exclude(pk=source.pk).exists()
    ):
        raise ValidationError({"name": _("A harvest source with this name exists already.")})
    file = clean.pop("file", None)
    new_key = _store_file(file, _file_name(file)) if file is not None else ""
    old_key = ""
    try:
        with transaction.atomic():
            source = HarvestSource.objects.select_for_update().get(pk=source.pk)
            if new_key:
                old_key, clean["file_key"], clean["url"] = source.file_key, new_key, ""
            elif clean.get("url"):
                old_key, clean["file_key"] = source.file_key, ""
            changes = {}
            for field, value in clean.items():
                old = getattr(source, field)
                if old != value:
                    changes[field] = [
                        str(old.pk) if hasattr(old, "pk") else old,
                        str(value.pk) if hasattr(value, "pk") else value,
                    ]
                    setattr(source, field, value)
            if changes:
                source.save()
                audit_record(
                    actor=actor,
                    action="harvest_source.update",
                    obj=source,
                    organisation_id=source.publisher_id,
                    changes=changes,
                )
    except Exception:
        if new_key:
            get_storage().delete(new_key)
        raise
    if old_key and old_key != source.file_key:
        with contextlib.suppress(Exception):
            get_storage().delete(old_key)
    return source


def harvest_source_run(*, actor, source: HarvestSource) -> HarvestSource:
    """Harvest the source now, in the background (operators)."""
    require_actor(actor, "harvest.manage", source)
    from .. import tasks

    audit_record(
        actor=actor,
        action="harvest_source.run",
        obj=source,
        organisation_id=source.publisher_id,
    )
    source_id = str(source.pk)
    transaction.on_commit(lambda: tasks.harvest_source.enqueue(source_id))
    return source


def harvest_due() -> list[str]:
    """Enqueue the active sources whose interval has passed since their last run; each is claimed
    with one conditional update, so two workers never enqueue the same source twice."""
    from .. import tasks

    now = timezone.now()
    queued = []
    for source in HarvestSource.objects.filter(is_active=True):
        last = source.last_run_at
        if last is not None and last > now - datetime.timedelta(hours=source.interval_hours):
            continue
        with transaction.atomic():
            claimed = HarvestSource.objects.filter(pk=source.pk, last_run_at=last).update(
                last_run_at=now, last_status=HarvestStatus.QUEUED
            )
            if claimed:
                source_id = str(source.pk)
                transaction.on_commit(lambda sid=source_id: tasks.harvest_source.enqueue(sid))
                queued.append(source_id)
    return queued


# --- reading a document ------------------------------------------------------------------------


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
    from ..fetch import FetchError, fetch_chunks

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


# --- mapping dcat:Dataset nodes ----------------------------------------------------------------


def _lang(literal) -> str:
    lang = (getattr(literal, "language", None) or "").lower().split("-")[0]
    return lang or "en"


def _texts(graph: Graph, node, predicate, limit: int) -> dict[str, str]:
    values: dict[str, str] = {}
    for obj in sorted(graph.objects(node, predicate), key=str):
        if isinstance(obj, Literal) and str(obj).strip():
            values.setdefault(_lang(obj), str(obj).strip()[:limit])
    return values


def _first(graph: Graph, node, *predicates):
    for predicate in predicates:
        for obj in sorted(graph.objects(node, predicate), key=str):
            return obj
    return None


def _label(graph: Graph, node) -> str:
    if isinstance(node, Literal):
        return str(node).strip()
    label = _first(graph, node, SKOS.prefLabel, RDFS.label, DCTERMS.title, FOAF.name)
    return str(label).strip() if label is not None else ""


def _web(value) -> str:
    value = str(value or "").strip()
    return value if value.startswith(("http://", "https://")) and len(value) <= 1000 else ""


def _date(value) -> datetime.date | None:
    if value is None:
        return None
    text = str(value).strip()
    with contextlib.suppress(ValueError):
        moment = parse_datetime(text)
        if moment is not None:
            return moment.date()
    with contextlib.suppress(ValueError):
        day = parse_date(text[:10])
        if day is not None:
            return day
    if re.fullmatch(r"\d{4}", text):
        return datetime.date(int(text), 1, 1)
    return None


def _moment(value) -> str | None:
    """An ISO date-time (UTC) of a date or date-time literal, or None."""
    if value is None:
        return None
    text = str(value).strip()
    with contextlib.suppress(ValueError):
        moment = parse_datetime(text)
        if moment is not None:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, datetime.UTC)
            return moment.astimezone(datetime.UTC).isoformat()
    day = _date(text)
    if day is not None:
        return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).isoformat()
    return None


def _licence(graph: Graph, node) -> str:
    """An EU licence code, or the licence's URI; a licence document that is an exact match of an
    EU licence (skos:exactMatch) is read as that licence."""
    if node is None:
        return ""
    if isinstance(node, Literal):
        return str(node).strip()[:300]
    code = dcat.vocabulary_code(dcat.LICENCE, node)
    if code:
        return code[:300]
    for match in graph.objects(node, SKOS.exactMatch):
        code = dcat.vocabulary_code(dcat.LICENCE, match)
        if code:
            return code[:300]
    return str(node)[:300] if isinstance(node, URIRef) else ""


def _email(graph: Graph, node) -> str:
    for value in graph.objects(node, VCARD.hasEmail):
        if isinstance(value, BNode):
            value = _first(graph, value, VCARD.value) or ""
        text = str(value).strip()
        if text.lower().startswith("mailto:"):
            text = text[7:]
        with contextlib.suppress(ValidationError):
            validate_email(text)
            return text[:254]
    return ""


def _distribution(graph: Graph, node) -> dict:
    item: dict[str, Any] = {"uri": str(node) if isinstance(node, URIRef) else ""}
    title = _texts(graph, node, DCTERMS.title, TITLE_MAX)
    if title:
        item["title"] = title.get("en") or next(iter(title.values()))
    item["access_url"] = _web(_first(graph, node, DCAT.accessURL))
    item["download_url"] = _web(_first(graph, node, DCAT.downloadURL))
    media = _first(graph, node, DCAT.mediaType)
    if media is not None:
        item["media_type"] = dcat.media_type_of(media)[:100]
    fmt = _first(graph, node, DCTERMS.format)
    if fmt is not None:
        item["format"] = (
            dcat.vocabulary_code(dcat.FILE_TYPE, fmt) or _label(graph, fmt) or str(fmt)
        )[:100]
    licence = _licence(graph, _first(graph, node, DCTERMS.license))
    if licence:
        item["licence"] = licence
    size = _first(graph, node, DCAT.byteSize)
    if size is not None:
        with contextlib.suppress(ValueError, TypeError):
            number = int(float(str(size)))
            if number >= 0:
                item["byte_size"] = number
    return {k: v for k, v in item.items() if v not in ("", None)}


def _record(graph: Graph, node) -> tuple[str, dict]:
    """(identifier, Dataset fields) of one dcat:Dataset node; ValueError names what is wrong."""
    identifier = _first(graph, node, DCTERMS.identifier)
    identifier = str(identifier).strip() if identifier is not None else ""
    if not identifier and isinstance(node, URIRef):
        identifier = str(node)
    if not identifier:
        raise ValueError(_("no dct:identifier and no URI: it cannot be found again"))
    if len(identifier) > 500:
        raise ValueError(_("the identifier is longer than 500 characters"))
    title = _texts(graph, node, DCTERMS.title, TITLE_MAX)
    if not title:
        raise ValueError(_("no dct:title"))
    data: dict[str, Any] = {
        "title": title,
        "description": _texts(graph, node, DCTERMS.description, TEXT_MAX),
        "keywords": sorted(
            {
                str(k).strip()[:KEYWORDS_MAX]
                for k in graph.objects(node, DCAT.keyword)
                if str(k).strip()
            }
        ),
        "themes": sorted(
            {
                code
                for t in graph.objects(node, DCAT.theme)
                if (code := dcat.vocabulary_code(dcat.THEME, t)) in Theme.values
            }
        ),
    }
    contact_name, contact_email = "", ""
    for contact in sorted(graph.objects(node, DCAT.contactPoint), key=str):
        contact_name = (
            contact_name
            or str(_first(graph, contact, VCARD.fn, VCARD["organization-name"]) or "").strip()[:200]
        )
        contact_email = contact_email or _email(graph, contact)
    data["contact_name"], data["contact_email"] = contact_name, contact_email

    spatial = ""
    for place in sorted(graph.objects(node, DCTERMS.spatial), key=str):
        code = dcat.vocabulary_code(dcat.COUNTRY, place)
        spatial = code or _label(graph, place) or (str(place) if isinstance(place, URIRef) else "")
        if spatial:
            break
    data["spatial"] = spatial[:300]

    start = end = None
    for period in graph.objects(node, DCTERMS.temporal):
        start = start or _date(_first(graph, period, DCAT.startDate, URIRef(SCHEMA + "startDate")))
        end = end or _date(_first(graph, period, DCAT.endDate, URIRef(SCHEMA + "endDate")))
        for edge, name in (
            (URIRef(TIME + "hasBeginning"), "start"),
            (URIRef(TIME + "hasEnd"), "end"),
        ):
            instant = _first(graph, period, edge)
            if instant is not None:
                when = _date(
                    _first(
                        graph, instant, URIRef(TIME + "inXSDDate"), URIRef(TIME + "inXSDDateTime")
                    )
                )
                if name == "start":
                    start = start or when
                else:
                    end = end or when
    data["temporal_start"] = start.isoformat() if start else None
    data["temporal_end"] = end.isoformat() if end else None

    frequency = dcat.vocabulary_code(
        dcat.FREQUENCY, _first(graph, node, DCTERMS.accrualPeriodicity)
    )
    data["frequency"] = frequency if frequency in Frequency.values else ""

    distributions = sorted(
        (_distribution(graph, d) for d in graph.objects(node, DCAT.distribution)),
        key=lambda d: json.dumps(d, sort_keys=True),
    )
    licence = _licence(graph, _first(graph, node, DCTERMS.license))
    if not licence:
        licences = sorted({d["licence"] for d in distributions if d.get("licence")})
        licence = licences[0] if licences else ""
    data["licence"] = licence
    rights = dcat.vocabulary_code(dcat.ACCESS_RIGHT, _first(graph, node, DCTERMS.accessRights))
    data["access_rights"] = str(dcat.ACCESS_RIGHTS_FROM_EU.get(rights, AccessRights.PUBLIC))
    data["conformance"] = sorted(
        {_web(c) for c in graph.objects(node, DCTERMS.conformsTo) if _web(c)}
    )
    provenance = [_label(graph, p) for p in graph.objects(node, DCTERMS.provenance)]
    data["provenance"] = "\n".join(sorted(p for p in provenance if p))[:TEXT_MAX]
    data["landing_page"] = _web(_first(graph, node, DCAT.landingPage))
    data["issued_at"] = _moment(_first(graph, node, DCTERMS.issued))
    data["harvested_distributions"] = distributions
    return identifier, data


def harvest_records(graph: Graph) -> list[tuple[str | None, dict | None, str]]:
    """Every dcat:Dataset of the graph as (identifier, fields, error): the error is "" when the
    node maps, else it says why (identifier None when there is none)."""
    records = []
    seen: set[str] = set()
    nodes = set(graph.subjects(RDF.type, DCAT.Dataset))
    # a catalogue's datasets, typed or not (those described with at least a title)
    nodes |= {d for d in graph.objects(None, DCAT.dataset) if (d, DCTERMS.title, None) in graph}
    for node in sorted(nodes, key=str):
        try:
            identifier, data = _record(graph, node)
        except ValueError as exc:
            ident = _first(graph, node, DCTERMS.identifier)
            label = (
                str(ident)
                if ident is not None
                else (str(node) if isinstance(node, URIRef) else None)
            )
            records.append((label, None, str(exc)))
            continue
        if identifier in seen:
            records.append((identifier, None, _("the identifier appears twice in the source")))
            continue
        seen.add(identifier)
        records.append((identifier, data, ""))
    return records


# --- a run ------------------------------------------------------------------------------------


def _hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _free_slug(title: dict, identifier: str) -> str:
    base = slugify(title.get("en") or next(iter(title.values()), "")) or slugify(identifier)
    base = (base or "dataset")[:90].strip("-") or "dataset"
    slug, n = base, 2
    while slug in RESERVED_SLUGS or Dataset.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _assess(dataset: Dataset) -> None:
    from . import quality

    assess = getattr(quality, "metadata_assess", None)
    if assess is not None:
        dataset.metadata_score, dataset.metadata_reasons = assess(dataset)


def _listed(dataset: Dataset) -> None:
    """Tell the catalogue's search (services/listing.py) how the dataset is listed now."""
    from .listing import dataset_listing_notify

    dataset_listing_notify(dataset)


def _apply(dataset: Dataset, data: dict) -> None:
    for field, value in data.items():
        if field in ("temporal_start", "temporal_end"):
            value = datetime.date.fromisoformat(value) if value else None
        elif field == "issued_at":
            value = datetime.datetime.fromisoformat(value) if value else None
        setattr(dataset, field, value)


def _not_public_if_personal(dataset: Dataset, notes: list[str]) -> None:
    if dataset.personal_data and dataset.access_rights == AccessRights.PUBLIC:
        dataset.access_rights = AccessRights.RESTRICTED
        notes.append(_("The dataset holds personal data, so it is restricted rather than public."))


def _upsert(source: HarvestSource, identifier: str, data: dict, now, notes: list[str]) -> str:
    """Create or update one dataset; "created", "updated" or "unchanged". An existing dataset
    keeps the access rights and personal-data flag its stewards set, unless the source's rights
    are stricter; a dataset with personal data is never public (``notes`` says when a harvest
    made one restricted)."""
    digest = _hash(data)
    dataset = (
        Dataset.objects.select_for_update().filter(source=source, identifier=identifier).first()
    )
    if dataset is None:
        dataset = Dataset(
            publisher=source.publisher,
            source=source,
            identifier=identifier,
            slug=_free_slug(data["title"], identifier),
            status=DatasetStatus.PUBLISHED,
        )
        _apply(dataset, data)
        _not_public_if_personal(dataset, notes)
        dataset.issued_at = dataset.issued_at or now
        dataset.source_hash = digest
        _assess(dataset)
        dataset.save()
        _listed(dataset)
        return "created"
    came_back = dataset.gone_at is not None
    if (
        dataset.source_hash == digest
        and not came_back
        and dataset.publisher_id == source.publisher_id
    ):
        return "unchanged"
    local_rights, local_personal = dataset.access_rights, dataset.personal_data
    _apply(dataset, data)
    if STRICTNESS.get(dataset.access_rights, 0) < STRICTNESS.get(local_rights, 0):
        dataset.access_rights = local_rights
    dataset.personal_data = local_personal or bool(data.get("personal_data"))
    _not_public_if_personal(dataset, notes)
    dataset.issued_at = dataset.issued_at or now
    dataset.publisher = source.publisher
    dataset.source_hash = digest
    if came_back:
        dataset.gone_at = None
        dataset.status = DatasetStatus.PUBLISHED
    _assess(dataset)
    dataset.save()
    _listed(dataset)
    return "updated"


def _finish(source: HarvestSource, run: HarvestRun, status: HarvestStatus, error: str = "") -> dict:
    now = timezone.now()
    run.status, run.finished_at = status, now
    run.save()
    counts = {
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "gone": run.gone,
        "errors": len(run.errors),
    }
    HarvestSource.objects.filter(pk=source.pk).update(
        last_status=status, last_error=error, last_counts=counts, updated_at=now
    )
    return {
        "run": str(run.pk),
        "source": source.name,
        "status": str(status),
        "error": error,
        **counts,
    }


def harvest_run(source_id: str) -> dict:
    """Harvest one source now (the background task ``harvest_source``; the system acts). Returns
    the run's counts: created, updated, unchanged, gone, errors, and its status ("done", or
    "failed" with the error when the document could not be read)."""
    source = HarvestSource.objects.select_related("publisher").filter(pk=source_id).first()
    if source is None:
        raise NotFound(_("No such harvest source."))
    started = timezone.now()
    HarvestSource.objects.filter(pk=source.pk).update(
        last_run_at=started, last_status=HarvestStatus.RUNNING
    )
    run = HarvestRun.objects.create(source=source)
    try:
        raw, name = _read(source)
        if len(raw) > _max_bytes():
            raise HarvestError(
                _("The document is larger than the limit of %(mb)s MB.")
                % {"mb": settings.DATA_HARVEST_MAX_MB}
            )
        graph, notes = harvest_parse(raw, name)
    except HarvestError as exc:
        run.errors = [{"identifier": "", "error": str(exc)}]
        result = _finish(source, run, HarvestStatus.FAILED, str(exc))
        _audit_run(source, result)
        return result
    run.errors = [{"identifier": "", "error": note} for note in notes]
    records = harvest_records(graph)
    seen: set[str] = set()
    for identifier, data, error in records:
        if identifier:
            seen.add(identifier)
        if error:
            run.errors.append({"identifier": identifier or "", "error": error})
            continue
        notes = []
        try:
            with transaction.atomic():
                outcome = _upsert(source, identifier, data, started, notes)
        except Exception as exc:  # one bad dataset does not stop the others
            logger.exception("harvest %s: dataset %s failed", source.name, identifier)
            run.errors.append(
                {"identifier": identifier, "error": f"{exc.__class__.__name__}: {exc}"}
            )
            continue
        setattr(run, outcome, getattr(run, outcome) + 1)
        run.errors += [{"identifier": identifier, "error": note} for note in notes]
    with transaction.atomic():
        gone = list(
            Dataset.objects.select_for_update()
            .filter(source=source, gone_at__isnull=True)
            .exclude(identifier__in=seen)
        )
        for dataset in gone:
            dataset.gone_at = started
            dataset.status = DatasetStatus.ARCHIVED
            dataset.save(update_fields=["gone_at", "status", "updated_at"])
            _listed(dataset)
        run.gone = len(gone)
    result = _finish(source, run, HarvestStatus.DONE)
    _audit_run(source, result)
    return result


def _audit_run(source: HarvestSource, result: dict) -> None:
    audit_record(
        actor=None,
        action="harvest_source.harvest",
        obj=source,
        organisation_id=source.publisher_id,
        changes={k: v for k, v in result.items() if k not in ("source",)},
    )
