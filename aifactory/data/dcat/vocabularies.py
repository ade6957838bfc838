"""The namespaces, the EU vocabularies, and our codes as their URIs and back (the export writes
them, harvesting reads them).
"""

import functools

from django.utils import translation
from rdflib import Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDFS, SKOS, XSD

from ..models import AccessRights, Theme


class _Namespace(Namespace):
    """An open namespace whose terms are made once (rdflib makes a new URIRef at every access,
    which adds up over a catalogue of thousands of datasets)."""

    _terms: dict = {}

    def term(self, name: str) -> URIRef:
        key = (str(self), name)
        found = self._terms.get(key)
        if found is None:
            found = self._terms[key] = URIRef(str(self) + (name or ""))
        return found


# DCAT as an open namespace: DCAT 3 terms (dcat:version) are not in rdflib's closed DCAT 2 one.
DCAT = _Namespace("http://www.w3.org/ns/dcat#")
DCATAP = _Namespace("http://data.europa.eu/r5r/")
SPDX = _Namespace("http://spdx.org/rdf/terms#")
DQV = _Namespace("http://www.w3.org/ns/dqv#")
OA = _Namespace("http://www.w3.org/ns/oa#")
ADMS = _Namespace("http://www.w3.org/ns/adms#")
VCARD = _Namespace("http://www.w3.org/2006/vcard/ns#")

EU = "http://publications.europa.eu/resource/authority/"
THEME = EU + "data-theme/"
FREQUENCY = EU + "frequency/"
ACCESS_RIGHT = EU + "access-right/"
LICENCE = EU + "licence/"
COUNTRY = EU + "country/"
FILE_TYPE = EU + "file-type/"
LANGUAGE = EU + "language/"
IANA = "https://www.iana.org/assignments/media-types/"

CONTEXT = {
    "dcat": str(DCAT),
    "dct": str(DCTERMS),
    "dcatap": str(DCATAP),
    "foaf": str(FOAF),
    "vcard": str(VCARD),
    "skos": str(SKOS),
    "spdx": str(SPDX),
    "dqv": str(DQV),
    "oa": str(OA),
    "prov": str(PROV),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
}

# Our access rights → the EU access-right vocabulary. "registered" (any signed-in person) is a
# restriction in the EU's sense; harvesting reads RESTRICTED back as "restricted".
ACCESS_RIGHTS_EU = {
    AccessRights.PUBLIC: "PUBLIC",
    AccessRights.REGISTERED: "RESTRICTED",
    AccessRights.RESTRICTED: "RESTRICTED",
    AccessRights.INTERNAL: "NON_PUBLIC",
}
ACCESS_RIGHTS_FROM_EU = {
    "PUBLIC": AccessRights.PUBLIC,
    "RESTRICTED": AccessRights.RESTRICTED,
    "NON_PUBLIC": AccessRights.INTERNAL,
}
FILE_TYPES = {
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "PARQUET",
    "json": "JSON",
    "xlsx": "XLSX",
}
LANGUAGES = {"en": "ENG", "de": "DEU", "fr": "FRA", "lb": "LTZ", "nl": "NLD", "it": "ITA"}


@functools.cache
def theme_labels() -> dict[str, str]:
    """The English names of the EU data themes (skos:prefLabel "..."@en, whatever the visitor's
    language)."""
    with translation.override("en"):
        return {code: str(label) for code, label in Theme.choices}


# --- codes ↔ URIs ---------------------------------------------------------------------------------


def is_uri(value: str) -> bool:
    return str(value or "").startswith(("http://", "https://", "urn:"))


def vocabulary_uri(base: str, code: str) -> URIRef:
    """A code of an EU vocabulary as its URI; a URI stays as it is."""
    code = str(code).strip()
    return URIRef(code if is_uri(code) else base + code)


def vocabulary_code(base: str, uri) -> str:
    """The code of an EU vocabulary URI ("…/data-theme/ENER" → "ENER"), or "" for another URI."""
    uri = str(uri or "")
    for prefix in (base, base.replace("http://", "https://")):
        if uri.startswith(prefix):
            return uri[len(prefix) :].strip("/")
    return ""


def country_uri(value: str) -> URIRef | None:
    """A country code (ISO 3166 alpha-3 as the EU vocabulary, or alpha-2) or a URI."""
    value = (value or "").strip()
    if is_uri(value):
        return URIRef(value)
    if len(value) == 3 and value.isalpha():
        return URIRef(COUNTRY + value.upper())
    if len(value) == 2 and value.isalpha():
        from django_countries import countries

        alpha3 = countries.alpha3(value.upper())
        if alpha3:
            return URIRef(COUNTRY + alpha3)
    return None


def media_type_uri(media_type: str) -> URIRef | None:
    media_type = (media_type or "").split(";")[0].strip().lower()
    if media_type.count("/") != 1 or " " in media_type:
        return None
    return URIRef(IANA + media_type)


def media_type_of(uri) -> str:
    uri = str(uri or "")
    for prefix in (IANA, IANA.replace("https://", "http://")):
        if uri.startswith(prefix):
            return uri[len(prefix) :]
    return uri if uri.count("/") == 1 and not is_uri(uri) else ""
