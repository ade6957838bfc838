"""The catalogue as DCAT-AP 3 (with W3C DQV for the quality scores), in Turtle and JSON-LD.

The graph validates against the official DCAT-AP 3.0.1 SHACL shapes, range shapes included
(tests/test_dcat.py): every resource a property points to carries the class the range shapes ask
for (a licence is a dct:LicenseDocument, a theme a skos:Concept with a label...), because
harvesters validate without inference. Codes stored on datasets map to the EU vocabularies
(publications.europa.eu/resource/authority/...); the same maps read them back when harvesting.
"""

from rdflib.namespace import FOAF as FOAF  # the tests read them as dcat.FOAF and dcat.XSD
from rdflib.namespace import XSD as XSD

from .graph import (
    Triples,
    catalog_chunks,
    catalog_graph,
    catalog_uri,
    dataset_graph,
    dataset_page,
    dataset_uri,
    datasets_for_catalog,
)
from .graph import _download_url as _download_url  # croissant.py links the same files
from .vocabularies import (
    ACCESS_RIGHT,
    ACCESS_RIGHTS_EU,
    ACCESS_RIGHTS_FROM_EU,
    ADMS,
    CONTEXT,
    COUNTRY,
    DCAT,
    DCATAP,
    DQV,
    EU,
    FILE_TYPE,
    FILE_TYPES,
    FREQUENCY,
    IANA,
    LANGUAGE,
    LANGUAGES,
    LICENCE,
    OA,
    SPDX,
    THEME,
    VCARD,
    country_uri,
    is_uri,
    media_type_of,
    media_type_uri,
    theme_labels,
    vocabulary_code,
    vocabulary_uri,
)
from .writers import (
    MEDIA_TYPES,
    catalog_text,
    serialize,
    write,
)

__all__ = [
    "ACCESS_RIGHT",
    "ACCESS_RIGHTS_EU",
    "ACCESS_RIGHTS_FROM_EU",
    "ADMS",
    "catalog_chunks",
    "catalog_graph",
    "catalog_text",
    "catalog_uri",
    "CONTEXT",
    "COUNTRY",
    "country_uri",
    "dataset_graph",
    "dataset_page",
    "dataset_uri",
    "datasets_for_catalog",
    "DCAT",
    "DCATAP",
    "DQV",
    "EU",
    "FILE_TYPE",
    "FILE_TYPES",
    "FREQUENCY",
    "IANA",
    "is_uri",
    "LANGUAGE",
    "LANGUAGES",
    "LICENCE",
    "media_type_of",
    "media_type_uri",
    "MEDIA_TYPES",
    "OA",
    "serialize",
    "SPDX",
    "THEME",
    "theme_labels",
    "Triples",
    "VCARD",
    "vocabulary_code",
    "vocabulary_uri",
    "write",
]
