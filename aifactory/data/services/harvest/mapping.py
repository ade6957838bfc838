"""Mapping the dcat:Dataset nodes of a harvested graph to our dataset fields (DCAT-AP)."""

import contextlib
import datetime
import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS

from ... import dcat
from ...models import AccessRights, Frequency, Theme

DCAT = dcat.DCAT
VCARD = dcat.VCARD
SCHEMA = "http://schema.org/"
TIME = "http://www.w3.org/2006/time#"
TEXT_MAX = 20_000
TITLE_MAX = 300
KEYWORDS_MAX = 100


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
