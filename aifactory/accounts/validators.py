"""Checks of organisation identifiers; each raises a ValidationError that names the field."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from aifactory.core.taxonomy import Sector

# Luxembourg's trade register (RCS): a section letter and digits, e.g. B123456.
REGISTRATION_PATTERNS = {
    "LU": re.compile(r"^[A-L]\d{1,6}$"),
}
GENERIC_REGISTRATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{1,38}[A-Za-z0-9]$")


def clean_vat_number(value: str, country: str) -> str:
    """Normalise and check an EU VAT number (format and check digits, offline)."""
    if not value:
        return ""
    try:
        # compact() raises too, for a prefix that is no EU country.
        compact = eu_vat.compact(value)
        eu_vat.validate(compact)
    except StdnumError:
        raise ValidationError(
            {"vat_number": _("“%(value)s” is not a valid EU VAT number.") % {"value": value}}
        ) from None
    prefix = compact[:2]
    expected = "EL" if country == "GR" else country
    if country and prefix != expected and country in _eu_countries():
        raise ValidationError(
            {
                "vat_number": _(
                    "The VAT number starts with %(prefix)s but the country is %(country)s."
                )
                % {"prefix": prefix, "country": country}
            }
        )
    return compact


def _eu_countries() -> set[str]:
    return {c.upper() for c in eu_vat.MEMBER_STATES if c != "xi"}


def clean_registration_number(value: str, country: str) -> str:
    value = (value or "").strip().upper().replace(" ", "")
    if not value:
        return ""
    pattern = REGISTRATION_PATTERNS.get(country, GENERIC_REGISTRATION)
    if not pattern.match(value):
        if country == "LU":
            message = _("A Luxembourg RCS number is a letter and up to six digits, e.g. B123456.")
        else:
            message = _(
                "Use letters, digits, spaces, dots, slashes or dashes (3 to 40 characters)."
            )
        raise ValidationError({"registration_number": message})
    return value


def clean_sectors(values) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise ValidationError({"sectors": _("Give a list of sectors.")})
    known = set(Sector.values)
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValidationError(
            {"sectors": _("Unknown sector: %(names)s.") % {"names": ", ".join(map(str, unknown))}}
        )
    return sorted(set(values), key=list(Sector.values).index)
