"""Forms of the access pages; the services validate again and name the fields they refuse."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import DateInput, PortalForm

from .models import LegalBasis


class RequestForm(PortalForm):
    organisation = forms.ChoiceField(label=_("For the organisation"))
    project = forms.CharField(
        label=_("Project"),
        max_length=200,
        help_text=_("The compute project's code, or the name of the work the data is for."),
    )
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What you will do with the data, and who will handle it."),
    )
    duration_days = forms.IntegerField(label=_("For how many days"), min_value=1, initial=90)
    legal_basis = forms.ChoiceField(
        label=_("Legal basis (GDPR Article 6)"), choices=LegalBasis.choices, required=False
    )
    accept_conditions = forms.BooleanField(
        label=_("I accept the data-use conditions above for my organisation."), required=False
    )

    def __init__(self, *args, user=None, dataset=None, **kwargs):
        super().__init__(*args, **kwargs)
        memberships = user.memberships.select_related("organisation").order_by(
            "organisation__legal_name"
        )
        self.fields["organisation"].choices = [
            (str(m.organisation_id), m.organisation.legal_name) for m in memberships
        ]
        self.fields["duration_days"].max_value = settings.DATA_MAX_GRANT_DAYS
        self.fields["duration_days"].widget.attrs["max"] = settings.DATA_MAX_GRANT_DAYS
        if dataset is not None and not dataset.personal_data:
            del self.fields["legal_basis"]


class ApproveForm(PortalForm):
    conditions = forms.CharField(
        label=_("Conditions"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    expires_at = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=DateInput(),
        help_text=_("Empty: the duration asked for."),
    )


class ReasonForm(PortalForm):
    reason = forms.CharField(
        label=_("Reason"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class QueryForm(PortalForm):
    sql = forms.CharField(
        label=_("SQL"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
    )
