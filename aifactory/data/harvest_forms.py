"""The operators' form for a harvest source: a DCAT-AP address or a file, the organisation that
publishes the harvested datasets, and how often to harvest. The service validates the rest."""

from django import forms
from django.utils.translation import gettext_lazy as _

from aifactory.accounts.models import Organisation
from aifactory.core.forms import PortalForm


class HarvestSourceForm(PortalForm):
    name = forms.SlugField(
        label=_("Name"),
        max_length=80,
        help_text=_("Lower-case letters, digits, - and _; it cannot change later."),
    )
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    url = forms.URLField(
        label=_("Address of the DCAT-AP document"),
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text=_(
            "An https address of RDF/XML, Turtle or JSON-LD, such as a udata portal's "
            "catalog.rdf or a CKAN DCAT endpoint."
        ),
    )
    file = forms.FileField(
        label=_("Or a DCAT-AP file"),
        required=False,
        help_text=_("Instead of an address: the file is kept and read at every run."),
    )
    publisher = forms.ModelChoiceField(
        label=_("Publisher of the harvested datasets"),
        queryset=Organisation.objects.order_by("legal_name"),
    )
    interval_hours = forms.IntegerField(
        label=_("Harvest every (hours)"), min_value=1, max_value=24 * 366, initial=24
    )
    is_active = forms.BooleanField(
        label=_("Active (harvested on schedule)"), required=False, initial=True
    )

    def __init__(self, *args, source=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        if source is None:
            return
        del self.fields["name"]
        self.fields["title"].initial = source.title
        self.fields["url"].initial = source.url
        self.fields["publisher"].initial = source.publisher_id
        self.fields["interval_hours"].initial = source.interval_hours
        self.fields["is_active"].initial = source.is_active
        if source.file_key:
            self.fields["file"].help_text = _(
                "A file is kept for this source; upload another to replace it, or give an "
                "address instead."
            )

    def data_for_service(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("url", "file")}
        if self.cleaned_data.get("url"):
            data["url"] = self.cleaned_data["url"]
        if self.cleaned_data.get("file"):
            data["file"] = self.cleaned_data["file"]
        return data
