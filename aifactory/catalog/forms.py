"""Forms of the catalogue's pages. They read and shape input; the services and the matchmaking
decide what is valid, and their errors are shown next to the fields they name."""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aifactory.core.errors import field_errors
from aifactory.core.forms import PortalForm
from aifactory.core.language import ISO_639_1, TEXT_LANGUAGES
from aifactory.core.taxonomy import JourneyStage, OrganisationKind, Sector, SizeClass

from . import services
from .matching import MAX_TEXT
from .models import AiActRisk, Deployment, Offering, OfferingType
from .validation import DESCRIPTION_MAX, TITLE_MAX

LANGUAGE_LABELS = {
    "en": gettext_lazy("English"),
    "de": gettext_lazy("German"),
    "fr": gettext_lazy("French"),
    "lb": gettext_lazy("Luxembourgish"),
}
SIZE_CHOICES = [(value, label) for value, label in SizeClass.choices if value != SizeClass.UNKNOWN]
_SEPARATORS = re.compile(r"[,;\s]+")


def _checkboxes(choices, label, **kwargs) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        **kwargs,
    )


# --- browsing ----------------------------------------------------------------------------------


class BrowseForm(PortalForm):
    """The catalogue's search box and facets, read from the query string."""

    q = forms.CharField(
        label=gettext_lazy("Search the catalogue"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    type = _checkboxes(OfferingType.choices, gettext_lazy("Type"))
    sector = _checkboxes(Sector.choices, gettext_lazy("Sector"))
    stage = _checkboxes(JourneyStage.choices, gettext_lazy("Journey stage"))
    language = _checkboxes([(code, code) for code in sorted(ISO_639_1)], gettext_lazy("Language"))
    deployment = _checkboxes(Deployment.choices, gettext_lazy("Deployment"))

    FACETS = ("type", "sector", "stage", "language", "deployment")

    def facets(self) -> dict[str, list[str]]:
        """The chosen facet values; a facet with an unknown value is left out (and reported)."""
        data = self.cleaned_data if self.is_valid() else getattr(self, "cleaned_data", {})
        return {name: list(data.get(name) or []) for name in self.FACETS}

    def text(self) -> str:
        data = self.cleaned_data if self.is_valid() else getattr(self, "cleaned_data", {})
        return (data.get("q") or "").strip()


# --- the front door: matchmaking ---------------------------------------------------------------


class MatchForm(PortalForm):
    """The need in free text. Its length and the sector are checked by the matchmaking itself,
    which names the field; the organisation must be one of the person's own."""

    text = forms.CharField(
        label=gettext_lazy("Describe your business and your need"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy(
            "In English, German, French or Luxembourgish — in your own words, as you would tell "
            "a colleague: what your business does, and what you would like AI to help with."
        ),
    )
    sector = forms.CharField(
        label=gettext_lazy("Sector"),
        required=False,
        widget=forms.Select(choices=[("", gettext_lazy("Any sector")), *Sector.choices]),
    )
    organisation = forms.ChoiceField(
        label=gettext_lazy("For my organisation"),
        required=False,
        help_text=gettext_lazy(
            "Its profile (sector, size, kind, country) is used to check who may apply."
        ),
    )

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organisations = {str(org.pk): org for org in organisations}
        if self.organisations:
            self.fields["organisation"].choices = [
                ("", _("Do not use an organisation")),
                *((pk, org.legal_name) for pk, org in self.organisations.items()),
            ]
        else:
            del self.fields["organisation"]

    def clean_organisation(self):
        value = self.cleaned_data.get("organisation") or ""
        return self.organisations.get(value)


# --- providers: proposing and editing a listing ------------------------------------------------


def _split(value: str, *, case=None) -> list[str]:
    items = [item.strip() for item in _SEPARATORS.split(value or "") if item.strip()]
    if case == "lower":
        items = [item.lower() for item in items]
    elif case == "upper":
        items = [item.upper() for item in items]
    return items


def _title(label) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=TITLE_MAX)


def _description(label) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=DESCRIPTION_MAX, widget=forms.Textarea
    )


def _tags(value: str) -> list[str]:
    return [tag.strip() for tag in (value or "").split(",") if tag.strip()]


class OfferingForm(PortalForm):
    """A listing: title and description in any of the four languages (one is enough) and the
    facts the matchmaking and the visitors use. ``organisations`` are those the person may list
    for; an operator may also leave it empty (a listing of the factory itself)."""

    organisation = forms.ChoiceField(label=gettext_lazy("Offered by"), required=False)
    external_id = forms.CharField(
        label=gettext_lazy("Identifier"),
        required=False,
        max_length=100,
        help_text=gettext_lazy(
            "A stable id for imports and links, e.g. sol-bakery-forecast. "
            "Leave it empty to have one made up; it cannot be changed later."
        ),
    )
    type = forms.ChoiceField(label=gettext_lazy("Type"), choices=OfferingType.choices)
    title_en = _title(gettext_lazy("Title in English"))
    description_en = _description(gettext_lazy("Description in English"))
    title_de = _title(gettext_lazy("Title in German"))
    description_de = _description(gettext_lazy("Description in German"))
    title_fr = _title(gettext_lazy("Title in French"))
    description_fr = _description(gettext_lazy("Description in French"))
    title_lb = _title(gettext_lazy("Title in Luxembourgish"))
    description_lb = _description(gettext_lazy("Description in Luxembourgish"))
    provider_name = forms.CharField(
        label=gettext_lazy("Provider name as shown"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("The organisation's legal name if left empty."),
    )
    url = forms.CharField(
        label=gettext_lazy("Web address"),
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    price = forms.CharField(
        label=gettext_lazy("Price or cost"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("In words, e.g. “from 49 € a month” or “free for SMEs”."),
    )
    stages = _checkboxes(JourneyStage.choices, gettext_lazy("Journey stages"))
    sectors = _checkboxes(Sector.choices, gettext_lazy("Sectors"))
    tags = forms.CharField(
        label=gettext_lazy("Keywords"),
        required=False,
        help_text=gettext_lazy("Separated by commas, e.g. forecasting, food waste."),
    )
    languages = forms.CharField(
        label=gettext_lazy("Languages the offering works in"),
        required=False,
        help_text=gettext_lazy("Two-letter codes separated by commas, e.g. lb, fr, de, en, pt."),
    )
    deployment = _checkboxes(Deployment.choices, gettext_lazy("Deployment"))
    ai_act_risk = forms.ChoiceField(
        label=gettext_lazy("EU AI Act risk category"), choices=AiActRisk.choices, required=False
    )
    ai_act_note = forms.CharField(
        label=gettext_lazy("AI Act note"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    for_kinds = _checkboxes(OrganisationKind.choices, gettext_lazy("For these kinds"))
    for_sizes = _checkboxes(SIZE_CHOICES, gettext_lazy("For these size classes"))
    eligible_countries = forms.CharField(
        label=gettext_lazy("Eligible countries"),
        required=False,
        help_text=gettext_lazy("For funding: country codes separated by commas, e.g. LU, BE."),
    )

    TEXT_FIELDS = [(f"title_{lang}", f"description_{lang}", lang) for lang in TEXT_LANGUAGES]

    def __init__(self, *args, organisations=(), allow_no_organisation=False, offering=None, **kw):
        if offering is not None:
            kw.setdefault("initial", self.initial_from(offering))
        super().__init__(*args, **kw)
        self.offering = offering
        self.organisations = {str(org.pk): org for org in organisations}
        choices = [(pk, org.legal_name) for pk, org in self.organisations.items()]
        if allow_no_organisation:
            choices.insert(0, ("", _("None — a listing of the AI Factory itself")))
        self.fields["organisation"].choices = choices
        self.fields["organisation"].required = not allow_no_organisation
        if offering is not None:
            del self.fields["external_id"]
            if not allow_no_organisation:  # only operators move a listing between organisations
                del self.fields["organisation"]

    @staticmethod
    def initial_from(offering: Offering) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "organisation": str(offering.provider_organisation_id or ""),
            "type": offering.type,
            "provider_name": offering.provider_name,
            "url": offering.url,
            "price": offering.price,
            "stages": offering.stages,
            "sectors": offering.sectors,
            "tags": ", ".join(offering.tags),
            "languages": ", ".join(offering.languages),
            "deployment": offering.deployment,
            "ai_act_risk": offering.ai_act_risk,
            "ai_act_note": offering.ai_act_note,
            "for_kinds": offering.for_kinds,
            "for_sizes": offering.for_sizes,
            "eligible_countries": ", ".join(offering.eligible_countries),
        }
        for title, description, lang in OfferingForm.TEXT_FIELDS:
            initial[title] = offering.title.get(lang, "")
            initial[description] = offering.description.get(lang, "")
        return initial

    def clean(self):
        data = super().clean()
        if not any((data.get(title) or "").strip() for title, _d, _l in self.TEXT_FIELDS):
            self.add_error("title_en", _("Give a title in at least one language."))
        if not any((data.get(desc) or "").strip() for _t, desc, _l in self.TEXT_FIELDS):
            self.add_error("description_en", _("Give a description in at least one language."))
        return data

    def service_data(self) -> dict[str, Any]:
        """The fields in the services' terms."""
        data = self.cleaned_data
        values: dict[str, Any] = {
            "type": data["type"],
            "title": {lang: data[t].strip() for t, _d, lang in self.TEXT_FIELDS if data[t].strip()},
            "description": {
                lang: data[d].strip() for _t, d, lang in self.TEXT_FIELDS if data[d].strip()
            },
            "url": data["url"].strip(),
            "price": data["price"],
            "stages": data["stages"],
            "sectors": data["sectors"],
            "tags": _tags(data["tags"]),
            "languages": _split(data["languages"], case="lower"),
            "deployment": data["deployment"],
            "ai_act_risk": data["ai_act_risk"] or "",
            "ai_act_note": data["ai_act_note"],
            "for_kinds": data["for_kinds"],
            "for_sizes": data["for_sizes"],
            "eligible_countries": _split(data["eligible_countries"], case="upper"),
        }
        if data.get("provider_name"):
            values["provider_name"] = data["provider_name"]
        elif self.offering is not None and self.offering.provider_organisation is not None:
            values["provider_name"] = self.offering.provider_organisation.legal_name
        elif self.offering is not None:
            values["provider_name"] = ""  # the service says it is needed
        if "external_id" in self.fields and data.get("external_id"):
            values["external_id"] = data["external_id"].strip()
        if "organisation" in self.fields:
            chosen = self.organisations.get(data.get("organisation") or "")
            new_id = chosen.pk if chosen else None
            if self.offering is None or new_id != self.offering.provider_organisation_id:
                values["provider_organisation_id"] = new_id
        return values

    def _field_for(self, name: str, message: str) -> tuple[str, str]:
        """Where a service's error about ``name`` goes on this form."""
        if name in ("title", "description"):
            lang, sep, rest = message.partition(": ")
            if sep and lang in TEXT_LANGUAGES:
                return f"{name}_{lang}", rest
            filled = [lang for t, _d, lang in self.TEXT_FIELDS if self.cleaned_data.get(t)]
            return f"{name}_{filled[0] if filled else 'en'}", message
        if name == "provider_organisation_id":
            return "organisation", message
        return (name if name in self.fields else "__all__"), message

    def save(self, *, actor) -> Offering:
        """Create or update through the services; their errors are renamed to this form's
        fields (``title`` → ``title_de`` for “de: …”), so each appears where it belongs."""
        try:
            if self.offering is None:
                return services.offering_create(actor=actor, data=self.service_data())
            return services.offering_update(
                actor=actor, offering=self.offering, data=self.service_data()
            )
        except ValidationError as exc:
            errors: dict[str, list[str]] = {}
            for name, messages in field_errors(exc).items():
                for message in messages:
                    target, text = self._field_for(name, message)
                    errors.setdefault(target, []).append(text)
            raise ValidationError(errors) from None


class ReasonForm(PortalForm):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the provider"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
