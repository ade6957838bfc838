"""Forms of the project pages. They parse input only; the services validate and decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import PortalForm

from .models import ChangeKind, MemberRole, Resource


class ProjectForm(PortalForm):
    """The project page holds several forms; each prefixes its field ids with its own name."""

    id_prefix = "project"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class ChangeRequestForm(ProjectForm):
    """One form for the three kinds: the fields that do not belong to the chosen kind are
    ignored. New members are e-mail addresses of people on the hub, one a line."""

    id_prefix = "change"

    kind = forms.ChoiceField(label=_("What do you need?"), choices=ChangeKind.choices)
    gpu_hours = forms.DecimalField(label=_("More GPU hours"), required=False, min_value=0)
    cpu_core_hours = forms.DecimalField(label=_("More CPU core hours"), required=False, min_value=0)
    storage_tb = forms.DecimalField(label=_("More storage (TB)"), required=False, min_value=0)
    end = forms.DateField(
        label=_("New end date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    members = forms.CharField(
        label=_("New members (e-mail addresses, one a line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))

    def details(self) -> dict:
        data = self.cleaned_data
        kind = data["kind"]
        if kind == ChangeKind.RESOURCES:
            return {
                "resources": {
                    key: float(data[key])
                    for key in Resource.values
                    if data.get(key) not in (None, "")
                }
            }
        if kind == ChangeKind.EXTENSION:
            return {"end": data["end"].isoformat() if data.get("end") else ""}
        emails = [line.strip() for line in (data.get("members") or "").splitlines()]
        return {"members": [{"email": e, "role": MemberRole.MEMBER} for e in emails if e]}


class DecisionForm(ProjectForm):
    id_prefix = "decision"

    note = forms.CharField(
        label=_("Note or reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Sent to the principal investigator; a refusal needs a reason."),
    )


class MemberForm(ProjectForm):
    id_prefix = "member"

    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[
            (MemberRole.MEMBER, MemberRole.MEMBER.label),
            (MemberRole.MANAGER, MemberRole.MANAGER.label),
        ],
    )


class RoleForm(ProjectForm):
    id_prefix = "role"

    role = forms.ChoiceField(label=_("Role"), choices=MemberRole.choices)
