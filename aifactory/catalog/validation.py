"""Checks of an offering's fields, shared by the API, the import and the portal.

``clean_offering`` checks every field it is given and reports all mistakes at once, as a
ValidationError from field name to messages; nothing is written by it.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django_countries import countries

from aifactory.core.language import ISO_639_1, TEXT_LANGUAGES, guess_language
from aifactory.core.taxonomy import JourneyStage, OrganisationKind, Sector, SizeClass

from .models import AiActRisk, Deployment, OfferingType

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
TAG_MAX = 50
TAGS_MAX = 30
LIST_MAX = 50
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
RESERVED_IDS = frozenset({"mine", "new", "review"})  # pages at /catalog/<name>/
SIZES = [s for s in SizeClass.values if s != SizeClass.UNKNOWN]

# Fields an offering's owner may set, with their defaults for a new offering.
FIELDS: dict[str, Any] = {
    "external_id": "",
    "type": "",
    "title": {},
    "description": {},
    "sectors": [],
    "tags": [],
    "languages": [],
    "stages": [],
    "provider_name": "",
    "url": "",
    "price": "",
    "deployment": [],
    "ai_act_risk": "",
    "ai_act_note": "",
    "for_kinds": [],
    "for_sizes": [],
    "eligible_countries": [],
}
REQUIRED = ("external_id", "type", "title", "description", "provider_name", "stages")


class Invalid(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _string(value, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(_("Give a text."))
    if "\x00" in value:
        raise Invalid(_("Remove the invisible NUL character from this text."))
    value = value.strip()
    if len(value) > limit:
        raise Invalid(
            _("At most %(limit)d characters (%(count)d given).")
            % {"limit": limit, "count": len(value)}
        )
    if required and not value:
        raise Invalid(_("This field is required."))
    return value


def _text_map(value, limit: int, guess_from: str = "") -> dict[str, str]:
    """A plain string is stored under the language it seems to be written in."""
    if isinstance(value, str):
        text = _string(value, limit, required=True)
        return {guess_language(f"{text} {guess_from}"): text}
    if not isinstance(value, dict):
        raise Invalid(_("Give a text, or an object from language code to text."))
    unknown = sorted(str(k) for k in value if k not in TEXT_LANGUAGES)
    if unknown:
        raise Invalid(
            _("Unknown language %(names)s; use %(codes)s.")
            % {"names": ", ".join(unknown), "codes": ", ".join(TEXT_LANGUAGES)}
        )
    if not value:
        raise Invalid(_("This field is required."))
    cleaned = {}
    for lang in TEXT_LANGUAGES:
        if lang in value:
            try:
                cleaned[lang] = _string(value[lang], limit, required=True)
            except Invalid as exc:
                raise Invalid(f"{lang}: {exc.message}") from None
    return cleaned


def _list(value, *, limit: int = LIST_MAX) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(_("Give a list of texts."))
    if len(value) > limit:
        raise Invalid(_("At most %(limit)d entries.") % {"limit": limit})
    return list(dict.fromkeys(value))  # without repeats, in the order given


def _choices(value, allowed, message: str | None = None) -> list[str]:
    values = _list(value)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        names = ", ".join(f"“{v}”" for v in unknown)
        if message:
            raise Invalid(message % {"names": names})
        raise Invalid(
            _("Unknown value %(names)s; choose from: %(choices)s.")
            % {"names": names, "choices": ", ".join(allowed)}
        )
    return sorted(values, key=list(allowed).index)


def _choice(value, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(
            _("Unknown value %(names)s; choose from: %(choices)s.")
            % {"names": f"“{value}”", "choices": ", ".join(v or '""' for v in allowed)}
        )
    return value


def _tags(value) -> list[str]:
    tags = []
    for tag in _list(value, limit=TAGS_MAX):
        tag = _string(tag, TAG_MAX, required=True)
        if tag not in tags:
            tags.append(tag)
    return tags


def _stages(value) -> list[str]:
    stages = _choices([value] if isinstance(value, str) else value, JourneyStage.values)
    if not stages:
        raise Invalid(_("Give at least one journey stage."))
    return stages


def _url(value) -> str:
    value = _string(value, 500)
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise Invalid(_("Enter a web address starting with http:// or https://.")) from None
    return value


def _external_id(value) -> str:
    if not isinstance(value, str) or not EXTERNAL_ID.match(value):
        raise Invalid(
            _(
                "Use 1 to 100 letters, digits, dots, colons, dashes or underscores, "
                "starting with a letter or digit."
            )
        )
    if value.lower() in RESERVED_IDS:
        raise Invalid(_("“%s” is the name of a page of the catalogue; choose another id.") % value)
    return value


CLEANERS = {
    "external_id": _external_id,
    "type": lambda v: _choice(v, OfferingType.values),
    "sectors": lambda v: _choices(v, Sector.values, _("Unknown sector: %(names)s.")),
    "tags": _tags,
    "languages": lambda v: _choices(
        v, sorted(ISO_639_1), _("Not an ISO 639-1 language code: %(names)s.")
    ),
    "stages": _stages,
    "provider_name": lambda v: _string(v, 200, required=True),
    "url": _url,
    "price": lambda v: _string(v, 200),
    "deployment": lambda v: _choices(v, Deployment.values),
    "ai_act_risk": lambda v: _choice(v, AiActRisk.values),
    "ai_act_note": lambda v: _string(v, 500),
    "for_kinds": lambda v: _choices(v, OrganisationKind.values),
    "for_sizes": lambda v: _choices(v, SIZES),
    "eligible_countries": lambda v: _choices(
        v, sorted(code for code, _name in countries), _("Not an ISO 3166 country code: %(names)s.")
    ),
}


def clean_offering(data: dict[str, Any], *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check the given fields; raise one ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name in required:
        if data.get(name) is None:
            errors[name] = [_("This field is required.")]
    for name in sorted(set(data) - set(FIELDS)):
        errors[name] = [_("Unknown field.")]
    # Two plain strings are guessed together (one language for both): a title alone says little.
    both_plain = isinstance(data.get("title"), str) and isinstance(data.get("description"), str)
    for name, value in data.items():
        if name not in FIELDS or name in errors or value is None:
            continue
        try:
            if name == "title":
                extra = data["description"] if both_plain else ""
                cleaned[name] = _text_map(value, TITLE_MAX, extra)
            elif name == "description":
                extra = data["title"] if both_plain else ""
                cleaned[name] = _text_map(value, DESCRIPTION_MAX, extra)
            else:
                cleaned[name] = CLEANERS[name](value)
        except Invalid as exc:
            errors[name] = [exc.message]
    if errors:
        raise ValidationError(errors)
    return cleaned
