"""Forms of the dataset pages: the metadata (a title and description per language), the
catalogue's filters, and a new version (files and/or URLs). The services validate; the forms only
shape the input."""

from django import forms
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import DateInput, PortalForm

from .models import AccessRights, Frequency, Theme
from .services.datasets import LANGUAGES

LANGUAGE_NAMES = {
    "en": _("English"),
    "de": _("German"),
    "fr": _("French"),
    "lb": _("Luxembourgish"),
}
FORMATS = [
    ("", _("any format")),
    ("csv", "CSV"),
    ("tsv", "TSV"),
    ("parquet", "Parquet"),
    ("jsonl", "JSON Lines"),
    ("json", "JSON"),
    ("xlsx", "Excel"),
    ("other", _("other")),
]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").replace(",", "\n").splitlines() if line.strip()]


class DatasetForm(PortalForm):
    """The metadata of a dataset. ``organisations`` (new datasets only) are the publisher choices;
    ``can_govern`` False disables the stewards' fields (access rights, personal data, conditions).
    """

    organisation = forms.ChoiceField(label=_("Publisher"))
    slug = forms.SlugField(
        label=_("Short name"),
        required=False,
        max_length=100,
        help_text=_("Part of the address; made from the title when empty."),
    )
    keywords = forms.CharField(
        label=_("Keywords"), required=False, help_text=_("Separated by commas.")
    )
    themes = forms.MultipleChoiceField(
        label=_("Themes"),
        required=False,
        choices=Theme.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    contact_name = forms.CharField(label=_("Contact name"), required=False, max_length=200)
    contact_email = forms.CharField(label=_("Contact e-mail"), required=False, max_length=254)
    spatial = forms.CharField(
        label=_("Spatial coverage"),
        required=False,
        max_length=300,
        help_text=_("A country code such as LUX, or a place's address (URI)."),
    )
    temporal_start = forms.DateField(label=_("Covers from"), required=False, widget=DateInput)
    temporal_end = forms.DateField(label=_("Covers until"), required=False, widget=DateInput)
    frequency = forms.ChoiceField(
        label=_("Update frequency"), required=False, choices=[("", "—"), *Frequency.choices]
    )
    licence = forms.CharField(
        label=_("Licence"),
        required=False,
        max_length=300,
        help_text=_("A code of the EU licence list such as CC_BY_4_0, or a licence's address."),
    )
    access_rights = forms.ChoiceField(label=_("Access rights"), choices=AccessRights.choices)
    personal_data = forms.BooleanField(label=_("Contains personal data"), required=False)
    use_conditions = forms.CharField(
        label=_("Data-use conditions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What a data user accepts when requesting access to restricted data."),
    )
    conformance = forms.CharField(
        label=_("Conforms to"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Addresses of standards or schemas the data follows, one per line."),
    )
    provenance = forms.CharField(
        label=_("Provenance"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    landing_page = forms.URLField(
        label=_("Landing page"), required=False, max_length=1000, assume_scheme="https"
    )

    GOVERNED = ("access_rights", "personal_data", "use_conditions")

    def __init__(self, *args, organisations=None, can_govern=True, dataset=None, **kwargs):
        if dataset is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(dataset)
        super().__init__(*args, **kwargs)
        # Title and description per language come first.
        fields = {}
        for code in LANGUAGES:
            fields[f"title_{code}"] = forms.CharField(
                label=_("Title (%(language)s)") % {"language": LANGUAGE_NAMES[code]},
                required=False,
                max_length=300,
            )
        for code in LANGUAGES:
            fields[f"description_{code}"] = forms.CharField(
                label=_("Description (%(language)s)") % {"language": LANGUAGE_NAMES[code]},
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
        self.fields = {**fields, **self.fields}
        if organisations is None:
            del self.fields["organisation"]
            del self.fields["slug"]
        else:
            self.fields["organisation"].choices = [(str(o.pk), o.legal_name) for o in organisations]
        if not can_govern:
            for name in self.GOVERNED:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Only the publisher's data stewards change this.")

    @staticmethod
    def initial_for(dataset) -> dict:
        initial = {
            f: getattr(dataset, f)
            for f in (
                "contact_name",
                "contact_email",
                "spatial",
                "temporal_start",
                "temporal_end",
                "frequency",
                "licence",
                "access_rights",
                "personal_data",
                "use_conditions",
                "provenance",
                "landing_page",
                "themes",
            )
        }
        initial["keywords"] = ", ".join(dataset.keywords or [])
        initial["conformance"] = "\n".join(dataset.conformance or [])
        for code in LANGUAGES:
            initial[f"title_{code}"] = (dataset.title or {}).get(code, "")
            initial[f"description_{code}"] = (dataset.description or {}).get(code, "")
        return initial

    def data_for_service(self) -> dict:
        """The ``data`` dict of dataset_create / dataset_update."""
        c = self.cleaned_data
        data = {
            "title": {code: c[f"title_{code}"] for code in LANGUAGES if c.get(f"title_{code}")},
            "description": {
                code: c[f"description_{code}"] for code in LANGUAGES if c.get(f"description_{code}")
            },
            "keywords": _lines(c["keywords"]),
            "themes": c["themes"],
            "conformance": _lines(c["conformance"]),
        }
        for name in (
            "contact_name",
            "contact_email",
            "spatial",
            "temporal_start",
            "temporal_end",
            "frequency",
            "licence",
            "provenance",
            "landing_page",
            *self.GOVERNED,
        ):
            if not self.fields[name].disabled:
                data[name] = c[name]
        if "slug" in self.fields and c.get("slug"):
            data["slug"] = c["slug"]
        return data


class DatasetFilterForm(PortalForm):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    theme = forms.ChoiceField(
        label=_("Theme"), required=False, choices=[("", _("any theme")), *Theme.choices]
    )
    format = forms.ChoiceField(label=_("Format"), required=False, choices=FORMATS)
    access_rights = forms.ChoiceField(
        label=_("Access rights"),
        required=False,
        choices=[("", _("any access")), *AccessRights.choices],
    )
    publisher = forms.ChoiceField(label=_("Publisher"), required=False)

    def __init__(self, *args, publishers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["publisher"].choices = [("", _("any publisher"))] + [
            (str(p.pk), p.legal_name) for p in publishers
        ]

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UncheckedFilesField(forms.FileField):
    """Several files; the view reads them from ``request.FILES`` and the service checks each one
    (naming it), so the field itself checks nothing."""

    def clean(self, data, initial=None):
        return None


class VersionForm(PortalForm):
    """Files come from ``request.FILES`` as they are (the service checks and names each one)."""

    files = UncheckedFilesField(
        label=_("Files"),
        required=False,
        widget=MultipleFileInput(attrs={"multiple": True}),
        help_text=_("CSV, TSV, Parquet, JSON Lines, JSON or Excel are read; other files are kept."),
    )
    references = forms.CharField(
        label=_("Or addresses to fetch"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("https:// or s3:// addresses, one per line; fetched in the background."),
    )
    note = forms.CharField(
        label=_("What changed"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def urls(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data["references"].splitlines() if line.strip()
        ]
