"""schema.org JSON-LD for an offering's page, so search engines and other catalogues read it.

Each offering type maps to the schema.org type that describes it best. The JSON goes into a
``<script type="application/ld+json">`` element: listing text is provider input, so ``<``, ``>``
and ``&`` are written as JSON escapes (as Django's ``json_script`` does) and a ``</script>`` in
a title can never end the element.
"""

import json
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from .models import Offering, OfferingType

SCHEMA_TYPES = {
    OfferingType.SOLUTION: "SoftwareApplication",
    OfferingType.SERVICE: "Service",
    OfferingType.PROVIDER: "Organization",
    OfferingType.COURSE: "Course",
    OfferingType.FUNDING: "MonetaryGrant",
    OfferingType.DATASET: "Dataset",
    # A model "by reference" is a work, not necessarily source code.
    OfferingType.MODEL: "CreativeWork",
}

# Where each type carries the organisation behind the offering, and the languages it works in.
PROVIDER_PROPERTY = {
    "SoftwareApplication": "provider",
    "Service": "provider",
    "Course": "provider",
    "MonetaryGrant": "funder",
    "Dataset": "creator",
    "CreativeWork": "creator",
}
LANGUAGE_PROPERTY = {
    "SoftwareApplication": "inLanguage",
    "Service": "availableLanguage",
    "Organization": "knowsLanguage",
    "Course": "inLanguage",
    "Dataset": "inLanguage",
    "CreativeWork": "inLanguage",
}
WITH_OFFERS = {"SoftwareApplication", "Service", "Course"}
# The characters that could end the script element or start markup, as JSON escapes.
SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def _organisation(offering: Offering) -> dict[str, Any]:
    org: dict[str, Any] = {"@type": "Organization", "name": offering.provider_name}
    linked = offering.provider_organisation
    if linked is not None:
        org["legalName"] = linked.legal_name
        if linked.website:
            org["url"] = linked.website
    return org


def offering_jsonld(offering: Offering, *, page_url: str, language: str) -> dict[str, Any]:
    """The schema.org description of one offering; texts in ``language`` where it has them."""
    schema_type = SCHEMA_TYPES.get(offering.type, "Thing")
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": schema_type,
        "@id": page_url,
        "identifier": offering.external_id,
        "name": offering.text("title", language),
        "description": offering.text("description", language),
        "url": offering.url or page_url,
        "mainEntityOfPage": page_url,
    }
    if offering.tags:
        data["keywords"] = list(offering.tags)
    if offering.languages and schema_type in LANGUAGE_PROPERTY:
        data[LANGUAGE_PROPERTY[schema_type]] = list(offering.languages)
    if schema_type in PROVIDER_PROPERTY:
        data[PROVIDER_PROPERTY[schema_type]] = _organisation(offering)
    elif schema_type == "Organization" and offering.provider_organisation is not None:
        data["legalName"] = offering.provider_organisation.legal_name
    if schema_type == "SoftwareApplication":
        data["applicationCategory"] = "BusinessApplication"
    if schema_type == "Service" and offering.eligible_countries:
        data["areaServed"] = [{"@type": "Country", "name": c} for c in offering.eligible_countries]
    if offering.price and schema_type in WITH_OFFERS:
        data["offers"] = {"@type": "Offer", "description": offering.price}
    return data


def script_tag(data: dict[str, Any]) -> SafeString:
    """The ``<script type="application/ld+json">`` element, safe to put into any page."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=False).translate(SCRIPT_ESCAPES)
    # Safe: every <, > and & of the content is a JSON escape now, and the rest is our markup.
    return mark_safe(f'<script type="application/ld+json">{text}</script>')  # noqa: S308
