"""Organisations: creation, changes and their validation."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from aifactory.core.permissions import forget_roles, require
from aifactory.core.roles import OrgRole
from aifactory.core.services import audit_record, diff_fields
from aifactory.core.taxonomy import OrganisationKind, sme_size_class

from ..models import (
    Membership,
    Organisation,
    User,
)
from ..validators import clean_registration_number, clean_sectors, clean_vat_number
from ._common import NUL_MESSAGE

# --- organisations -----------------------------------------------------------------------------

ORGANISATION_FIELDS = {
    "legal_name": 200,
    "registration_number": 40,
    "vat_number": 30,
    "website": 300,
    "street": 200,
    "postcode": 20,
    "city": 100,
}


# Beyond these a figure is a typo; the headcount column also holds no more than 2**31 - 1.
NUMBER_LIMITS = {
    "staff_headcount": 10_000_000,
    "annual_turnover_eur": 10**13,
    "balance_sheet_eur": 10**13,
}


def _clean_organisation(
    data: dict[str, Any], instance: Organisation | None = None
) -> dict[str, Any]:
    """Validate every field at once, so the person sees all mistakes together."""
    from django.core.validators import URLValidator
    from django_countries import countries

    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    merged = (
        {f.name: getattr(instance, f.name) for f in Organisation._meta.concrete_fields}
        if instance
        else {}
    )
    merged = {k: (str(v) if k == "country" and v else v) for k, v in merged.items()}
    merged.update({k: v for k, v in data.items()})

    def add(field, message):
        errors.setdefault(field, []).append(str(message))

    for field, limit in ORGANISATION_FIELDS.items():
        value = merged.get(field) or ""
        if not isinstance(value, str):
            add(field, _("Expected text."))
            continue
        value = value.strip()
        if "\x00" in value:
            add(field, NUL_MESSAGE)
        if len(value) > limit:
            add(
                field,
                _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)},
            )
        cleaned[field] = value
    if not cleaned.get("legal_name"):
        add("legal_name", _("The legal name is required."))

    country = (
        (merged.get("country") or "").strip().upper()
        if isinstance(merged.get("country"), str)
        else ""
    )
    if not country:
        add("country", _("The country is required (ISO 3166 code, e.g. LU)."))
    elif country not in dict(countries):
        add(
            "country",
            _("“%(value)s” is not an ISO 3166 country code.") % {"value": merged.get("country")},
        )
    cleaned["country"] = country

    kind = merged.get("kind")
    if kind not in OrganisationKind.values:
        add("kind", _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(OrganisationKind.values)})
    cleaned["kind"] = kind

    try:
        cleaned["sectors"] = clean_sectors(merged.get("sectors"))
    except ValidationError as exc:
        for m in exc.message_dict["sectors"]:
            add("sectors", m)

    for field, largest in NUMBER_LIMITS.items():
        value = merged.get(field)
        if value in ("", None):
            cleaned[field] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            add(field, _("Enter a whole number."))
            continue
        if number < 0 or number > largest:
            add(
                field,
                _("Enter a number between 0 and %(largest)s.") % {"largest": f"{largest:,}"},
            )
            continue
        cleaned[field] = number

    if cleaned.get("website"):
        try:
            URLValidator(schemes=["http", "https"])(cleaned["website"])
        except ValidationError:
            add("website", _("Enter a full web address starting with https://."))
    if "country" not in errors:
        for field, clean in (
            ("vat_number", clean_vat_number),
            ("registration_number", clean_registration_number),
        ):
            try:
                cleaned[field] = clean(cleaned.get(field, ""), country)
            except ValidationError as exc:
                for m in exc.message_dict[field]:
                    add(field, m)

    if not errors:
        others = (
            Organisation.objects.exclude(pk=instance.pk) if instance else Organisation.objects.all()
        )
        if (
            cleaned["registration_number"]
            and others.filter(
                country=country, registration_number=cleaned["registration_number"]
            ).exists()
        ):
            add(
                "registration_number",
                _("An organisation with this registration number is registered already."),
            )
        if cleaned["vat_number"] and others.filter(vat_number=cleaned["vat_number"]).exists():
            add("vat_number", _("An organisation with this VAT number is registered already."))
        if others.filter(legal_name__iexact=cleaned["legal_name"], country=country).exists():
            add(
                "legal_name",
                _("An organisation with this name is registered in this country already."),
            )
    if errors:
        raise ValidationError(errors)
    cleaned["size_class"] = sme_size_class(
        cleaned.get("staff_headcount"),
        cleaned.get("annual_turnover_eur"),
        cleaned.get("balance_sheet_eur"),
    )
    return cleaned


def organisation_create(
    *, actor: User, data: dict[str, Any], is_demo: bool = False
) -> Organisation:
    """Self-service registration; the person who registers becomes the owner."""
    require(actor, "organisation.create")
    cleaned = _clean_organisation(data)
    with transaction.atomic():
        organisation = Organisation(**cleaned, is_demo=is_demo)
        try:
            with transaction.atomic():
                organisation.save()
        except IntegrityError:
            raise ValidationError(
                {"legal_name": _("This organisation is registered already.")}
            ) from None
        Membership.objects.create(organisation=organisation, user=actor, role=OrgRole.OWNER)
        audit_record(actor=actor, action="organisation.create", obj=organisation, changes=cleaned)
    forget_roles(actor)
    return organisation


def organisation_update(
    *, actor: User, organisation: Organisation, data: dict[str, Any]
) -> Organisation:
    require(actor, "organisation.update", organisation)
    unknown = (
        set(data)
        - set(ORGANISATION_FIELDS)
        - {
            "country",
            "kind",
            "sectors",
            "staff_headcount",
            "annual_turnover_eur",
            "balance_sheet_eur",
        }
    )
    if unknown:
        raise ValidationError(
            {name: _("This field cannot be changed.") for name in sorted(unknown)}
        )
    cleaned = _clean_organisation(data, instance=organisation)
    with transaction.atomic():
        changes = diff_fields(organisation, cleaned)
        if changes:
            organisation.save()
            audit_record(
                actor=actor, action="organisation.update", obj=organisation, changes=changes
            )
    return organisation
