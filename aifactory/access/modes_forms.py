"""Forms of the operators' pages for access modes, pools and calls. They shape input into what
the services take; the services decide what is valid and name the field when it is not."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from aifactory.core.forms import DateInput, PortalForm
from aifactory.core.language import TEXT_LANGUAGES
from aifactory.core.taxonomy import OrganisationKind, SizeClass

from .models import (
    AccessMode,
    Call,
    CapacityPool,
    ClockStart,
    Resource,
    ReviewKind,
    TranchePolicy,
)

LANGUAGE_LABELS = {
    "en": gettext_lazy("English"),
    "de": gettext_lazy("German"),
    "fr": gettext_lazy("French"),
    "lb": gettext_lazy("Luxembourgish"),
}
SIZE_CHOICES = [(value, label) for value, label in SizeClass.choices if value != SizeClass.UNKNOWN]
_SEPARATORS = re.compile(r"[,;\s]+")


def _label(model, name):
    return model._meta.get_field(name).verbose_name


def _checkboxes(choices, label) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label, choices=choices, required=False, widget=forms.CheckboxSelectMultiple
    )


def _words(text: str) -> list[str]:
    return [w for w in _SEPARATORS.split(text or "") if w]


def _months(text: str) -> list:
    """Whole numbers stay numbers; anything else is passed on for the service to refuse."""
    return [int(w) if w.isdigit() else w for w in _words(text)]


class _TextsMixin:
    """A text in each of the four languages, as fields ``<name>_<lang>``."""

    def _add_texts(self, name: str, label, *, textarea: bool = False, initial=None) -> None:
        for lang in TEXT_LANGUAGES:
            self.fields[f"{name}_{lang}"] = forms.CharField(
                label=f"{label} ({LANGUAGE_LABELS[lang]})",
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}) if textarea else forms.TextInput,
                initial=(initial or {}).get(lang, ""),
            )

    def _texts(self, name: str) -> dict[str, str]:
        return {
            lang: self.cleaned_data[f"{name}_{lang}"].strip()
            for lang in TEXT_LANGUAGES
            if self.cleaned_data.get(f"{name}_{lang}", "").strip()
        }


class PoolForm(PortalForm):
    code = forms.SlugField(label=_label(CapacityPool, "code"), max_length=50)
    name = forms.CharField(label=_label(CapacityPool, "name"), max_length=200)
    share_percent = forms.DecimalField(
        label=_label(CapacityPool, "share_percent"), min_value=0, max_value=100
    )
    period_start = forms.DateField(label=_label(CapacityPool, "period_start"), widget=DateInput())
    period_end = forms.DateField(label=_label(CapacityPool, "period_end"), widget=DateInput())

    def __init__(self, *args, pool: CapacityPool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool = pool
        for value, label in Resource.choices:
            self.fields[f"capacity_{value}"] = forms.DecimalField(
                label=label, min_value=0, required=False
            )
        if pool is not None:
            del self.fields["code"]
            for name in ("name", "share_percent", "period_start", "period_end"):
                self.fields[name].initial = getattr(pool, name)
            for value in Resource.values:
                self.fields[f"capacity_{value}"].initial = pool.capacity.get(value)

    def data_for_service(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data[name]
            for name in ("code", "name", "share_percent", "period_start", "period_end")
            if name in self.fields
        }
        data["share_percent"] = str(data["share_percent"])
        data["capacity"] = {
            value: str(self.cleaned_data[f"capacity_{value}"])
            for value in Resource.values
            if self.cleaned_data.get(f"capacity_{value}") is not None
        }
        return data


class ModeForm(_TextsMixin, PortalForm):
    code = forms.SlugField(label=_label(AccessMode, "code"), max_length=50)
    pool = forms.ChoiceField(label=_label(AccessMode, "pool"))
    durations_months = forms.CharField(
        label=_label(AccessMode, "durations_months"),
        help_text=gettext_lazy("Whole months, separated by commas, e.g. 1, 2, 3."),
    )
    reviews = _checkboxes(ReviewKind.choices, _label(AccessMode, "reviews"))
    has_cutoffs = forms.BooleanField(label=_label(AccessMode, "has_cutoffs"), required=False)
    first_come = forms.BooleanField(label=_label(AccessMode, "first_come"), required=False)
    decision_days = forms.IntegerField(label=_label(AccessMode, "decision_days"), min_value=1)
    clock_starts = forms.ChoiceField(
        label=_label(AccessMode, "clock_starts"), choices=ClockStart.choices
    )
    tranche_policy = forms.ChoiceField(
        label=_label(AccessMode, "tranche_policy"), choices=TranchePolicy.choices
    )
    for_kinds = _checkboxes(OrganisationKind.choices, _label(AccessMode, "for_kinds"))
    for_sizes = _checkboxes(SIZE_CHOICES, _label(AccessMode, "for_sizes"))
    eligible_countries = forms.CharField(
        label=_label(AccessMode, "eligible_countries"),
        required=False,
        help_text=gettext_lazy("ISO country codes, separated by commas; empty for any country."),
    )
    is_active = forms.BooleanField(label=_label(AccessMode, "is_active"), required=False)

    def __init__(self, *args, mode: AccessMode | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.mode = mode
        self.fields["pool"].choices = [
            (p.code, p.name) for p in CapacityPool.objects.order_by("-period_start", "code")
        ]
        self._add_texts("name", _label(AccessMode, "name"), initial=mode and mode.name)
        self._add_texts(
            "description",
            _label(AccessMode, "description"),
            textarea=True,
            initial=mode and mode.description,
        )
        for value, label in Resource.choices:
            bounds = (mode.limits.get(value) if mode else None) or {}
            self.fields[f"limit_{value}_min"] = forms.DecimalField(
                label=gettext_lazy("%(resource)s, minimum") % {"resource": label},
                min_value=0,
                required=False,
                initial=bounds.get("min"),
            )
            self.fields[f"limit_{value}_max"] = forms.DecimalField(
                label=gettext_lazy("%(resource)s, maximum") % {"resource": label},
                min_value=0,
                required=False,
                initial=bounds.get("max"),
                help_text=gettext_lazy("Empty: the mode does not grant this resource."),
            )
        if mode is not None:
            del self.fields["code"]
            self.fields["pool"].initial = mode.pool.code
            self.fields["durations_months"].initial = ", ".join(
                str(m) for m in mode.durations_months
            )
            self.fields["eligible_countries"].initial = ", ".join(mode.eligible_countries)
            for name in (
                "reviews",
                "has_cutoffs",
                "first_come",
                "decision_days",
                "clock_starts",
                "tranche_policy",
                "for_kinds",
                "for_sizes",
                "is_active",
            ):
                self.fields[name].initial = getattr(mode, name)
        else:
            self.fields["is_active"].initial = True

    def text_fields(self, name: str):
        return [self[f"{name}_{lang}"] for lang in TEXT_LANGUAGES]

    def limit_fields(self):
        return [(self[f"limit_{v}_min"], self[f"limit_{v}_max"]) for v in Resource.values]

    def data_for_service(self) -> dict[str, Any]:
        data = self.cleaned_data
        limits = {}
        for value in Resource.values:
            low, high = data.get(f"limit_{value}_min"), data.get(f"limit_{value}_max")
            if high is not None:
                limits[value] = {"min": str(low or 0), "max": str(high)}
            elif low is not None:
                limits[value] = {"min": str(low)}  # the service says the maximum is missing
        result = {
            "name": self._texts("name"),
            "description": self._texts("description"),
            "pool": data["pool"],
            "limits": limits,
            "durations_months": _months(data["durations_months"]),
            "reviews": data["reviews"],
            "has_cutoffs": data["has_cutoffs"],
            "first_come": data["first_come"],
            "decision_days": data["decision_days"],
            "clock_starts": data["clock_starts"],
            "tranche_policy": data["tranche_policy"],
            "for_kinds": data["for_kinds"],
            "for_sizes": data["for_sizes"],
            "eligible_countries": [c.upper() for c in _words(data["eligible_countries"])],
            "is_active": data["is_active"],
        }
        if "code" in self.fields:
            result["code"] = data["code"]
        return result


class CallForm(_TextsMixin, PortalForm):
    code = forms.SlugField(label=_label(Call, "code"), max_length=50)
    mode = forms.ChoiceField(label=_label(Call, "mode"))
    opens_at = forms.DateTimeField(
        label=_label(Call, "opens_at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    closes_at = forms.DateTimeField(
        label=_label(Call, "closes_at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("Empty: open continuously."),
    )
    cutoffs = forms.CharField(
        label=_label(Call, "cutoffs"),
        required=False,
        help_text=gettext_lazy(
            "Dates as YYYY-MM-DD, separated by commas; only for modes with cut-offs."
        ),
    )

    def __init__(self, *args, call: Call | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.call = call
        self.fields["mode"].choices = [
            (m.code, m.name.get("en") or m.code) for m in AccessMode.objects.order_by("code")
        ]
        self._add_texts("title", _label(Call, "title"), initial=call and call.title)
        self._add_texts(
            "description",
            _label(Call, "description"),
            textarea=True,
            initial=call and call.description,
        )
        if call is not None:
            del self.fields["code"]
            self.fields["mode"].initial = call.mode.code
            self.fields["opens_at"].initial = call.opens_at
            self.fields["closes_at"].initial = call.closes_at
            self.fields["cutoffs"].initial = ", ".join(call.cutoffs)

    def text_fields(self, name: str):
        return [self[f"{name}_{lang}"] for lang in TEXT_LANGUAGES]

    def data_for_service(self) -> dict[str, Any]:
        data = self.cleaned_data
        result = {
            "mode": data["mode"],
            "title": self._texts("title"),
            "description": self._texts("description"),
            "opens_at": data["opens_at"],
            "closes_at": data["closes_at"],
            "cutoffs": _words(data["cutoffs"]),
        }
        if "code" in self.fields:
            result["code"] = data["code"]
        return result
