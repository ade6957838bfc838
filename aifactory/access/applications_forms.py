"""Forms of the application pages; the services check everything again."""

from django import forms
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import DateInput, PortalForm
from aifactory.core.taxonomy import Sector

from .models import MemberRole, Resource
from .services.applications import AI_ACT_RISKS

RESOURCE_FIELDS = tuple(Resource.values)


class ApplicationStartForm(PortalForm):
    call = forms.ChoiceField(label=_("Call"))
    organisation = forms.ChoiceField(label=_("Organisation"))

    def __init__(self, *args, calls=(), organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["call"].choices = [
            (str(c.pk), getattr(c, "display_title", "") or c.code) for c in calls
        ]
        self.fields["organisation"].choices = [(str(o.pk), o.legal_name) for o in organisations]


class ApplicationForm(PortalForm):
    """The whole form, every field optional: a draft is saved as it is; submission checks it."""

    # 1. The project
    title = forms.CharField(label=_("Title"), required=False, max_length=200)
    abstract = forms.CharField(label=_("Abstract"), required=False, widget=forms.Textarea)
    objectives = forms.CharField(
        label=_("Objectives and expected impact"), required=False, widget=forms.Textarea
    )
    sector = forms.ChoiceField(
        label=_("Sector"), required=False, choices=[("", "—"), *Sector.choices]
    )
    # 2. AI Act, model and data
    ai_act_risk = forms.ChoiceField(
        label=_("AI Act risk category"),
        required=False,
        choices=[("", "—"), *AI_ACT_RISKS.items()],
    )
    ai_act_reasons = forms.CharField(
        label=_("Reasons for this category"), required=False, widget=forms.Textarea
    )
    model_type = forms.CharField(label=_("Model type"), required=False, max_length=200)
    model_size = forms.CharField(label=_("Model size"), required=False, max_length=100)
    datasets = forms.CharField(
        label=_("Datasets to be used"), required=False, widget=forms.Textarea
    )
    personal_data = forms.BooleanField(label=_("Personal data is involved"), required=False)
    legal_basis = forms.CharField(
        label=_("Legal basis for the personal data"), required=False, widget=forms.Textarea
    )
    # 3. Resources
    gpu_hours = forms.DecimalField(label=_("GPU hours"), required=False, min_value=0)
    cpu_core_hours = forms.DecimalField(label=_("CPU core hours"), required=False, min_value=0)
    storage_tb = forms.DecimalField(label=_("Storage (TB)"), required=False, min_value=0)
    duration_months = forms.IntegerField(
        label=_("Duration (months)"), required=False, min_value=1, max_value=120
    )
    start_date = forms.DateField(label=_("Start date"), required=False, widget=DateInput())
    system = forms.CharField(label=_("Target system / partition"), required=False, max_length=100)
    # 4. Justification, ethics
    justification = forms.CharField(
        label=_("Justification and benchmark evidence"), required=False, widget=forms.Textarea
    )
    ethics_note = forms.CharField(
        label=_("Ethics and safety"), required=False, widget=forms.Textarea
    )

    SECTIONS = (
        (_("The project"), ("title", "abstract", "objectives", "sector")),
        (
            _("AI Act, model and data"),
            (
                "ai_act_risk",
                "ai_act_reasons",
                "model_type",
                "model_size",
                "datasets",
                "personal_data",
                "legal_basis",
            ),
        ),
        (
            _("Resources"),
            (*RESOURCE_FIELDS, "duration_months", "start_date", "system"),
        ),
        (_("Justification and ethics"), ("justification", "ethics_note")),
    )

    @classmethod
    def initial_from(cls, application) -> dict:
        initial = {
            name: getattr(application, name)
            for name in cls.base_fields
            if name not in RESOURCE_FIELDS
        }
        initial.update({k: v for k, v in (application.requested or {}).items()})
        return initial

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]

    def data_for_service(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in RESOURCE_FIELDS}
        data["requested"] = {
            k: str(self.cleaned_data[k])
            for k in RESOURCE_FIELDS
            if self.cleaned_data.get(k) is not None
        }
        return data

    def add_error(self, field, error):
        # The services name resources "requested.<resource>"; show them by their fields.
        if isinstance(field, str) and field.startswith("requested."):
            field = field.split(".", 1)[1]
        if field == "requested":
            field = "gpu_hours"
        if field is not None and field not in self.fields:
            field = None
        super().add_error(field, error)


class MemberForm(PortalForm):
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=MemberRole.choices)


class AttachmentForm(PortalForm):
    file = forms.FileField(label=_("Evidence (PDF)"))


class ReasonForm(PortalForm):
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea)


class EligibilityForm(PortalForm):
    eligible = forms.TypedChoiceField(
        label=_("Eligible"),
        choices=[("yes", _("Eligible")), ("no", _("Not eligible"))],
        coerce=lambda v: v == "yes",
    )
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea)


class RevisionForm(PortalForm):
    note = forms.CharField(label=_("What should the applicant change?"), widget=forms.Textarea)


class QueueFilterForm(PortalForm):
    status = forms.ChoiceField(label=_("Status"), required=False)
    overdue = forms.BooleanField(label=_("Near or past the target only"), required=False)

    def __init__(self, *args, **kwargs):
        from .models import ApplicationStatus

        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All open")), *ApplicationStatus.choices]
