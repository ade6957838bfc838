"""Forms of the support-case pages. They parse input only; the services validate and decide."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from aifactory.core.forms import PortalForm
from aifactory.core.taxonomy import JourneyStage, Sector

from .models import CaseStatus, CloseReason, Visibility
from .selectors import OPEN


def _blank(label) -> list[tuple[str, str]]:
    return [("", label)]


class CaseForm(PortalForm):
    """Ask the factory. The length limits are the services' (checked there, with the count),
    so the browser does not cut a long text silently."""

    organisation = forms.ChoiceField(label=_("For which organisation"))
    subject = forms.CharField(
        label=_("Subject"),
        required=False,
        help_text=_("A few words; we take the first line of your need if you leave it empty."),
    )
    need = forms.CharField(
        label=_("Your need"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Describe your business and what you need, in English, German, French or "
            "Luxembourgish. We attach the offerings that match it, so your advisor starts from "
            "the same page."
        ),
    )
    sector = forms.ChoiceField(label=_("Sector"), required=False)

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = [(str(o.pk), o.legal_name) for o in organisations]
        self.fields["sector"].choices = _blank(_("The organisation's sector")) + list(
            Sector.choices
        )
        self.fields["need"].strip = False  # the service strips and counts


class CaseActionForm(PortalForm):
    """The case page holds several of these forms; each names its fields' ids after itself
    (``message_body``, ``note_body``...), so ids stay unique and stable for tests and labels."""

    id_prefix = "case"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class MessageForm(CaseActionForm):
    id_prefix = "message"
    body = forms.CharField(label=_("Your message"), widget=forms.Textarea(attrs={"rows": 4}))
    await_customer = forms.BooleanField(
        label=_("Then wait for the customer's answer"), required=False
    )


class NoteForm(CaseActionForm):
    id_prefix = "note"
    body = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))
    visibility = forms.ChoiceField(
        label=_("Who sees it"), choices=Visibility.choices, initial=Visibility.INTERNAL
    )


class StatusForm(CaseActionForm):
    id_prefix = "status"
    status = forms.ChoiceField(label=_("New status"), choices=CaseStatus.choices)
    reason = forms.ChoiceField(
        label=_("Reason for closing"),
        required=False,
        choices=[(v, label) for v, label in CloseReason.choices if v],
    )


class AssignForm(CaseActionForm):
    id_prefix = "assign"
    assignee = forms.ChoiceField(label=_("Advisor"), required=False)

    def __init__(self, *args, staff=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = _blank(_("Nobody")) + [
            (str(p.pk), p.display_name) for p in staff
        ]


class TriageForm(CaseActionForm):
    id_prefix = "triage"
    stage = forms.ChoiceField(label=_("Journey stage"), choices=JourneyStage.choices)
    sector = forms.ChoiceField(label=_("Sector"), choices=Sector.choices)


class LinkForm(CaseActionForm):
    id_prefix = "link"
    offering = forms.CharField(
        label=_("Offering"),
        help_text=_("Its id in the catalogue, e.g. svc-readiness-diagnostic."),
        max_length=100,
    )


class InboxFilterForm(PortalForm):
    """The advisor inbox's filters; invalid values are ignored, the list is never an error."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[(OPEN, pgettext_lazy("cases", "open")), *CaseStatus.choices, ("", _("all"))],
    )
    stage = forms.ChoiceField(label=_("Journey stage"), required=False)
    sector = forms.ChoiceField(label=_("Sector"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    mine = forms.BooleanField(label=_("Assigned to me"), required=False)
    unassigned = forms.BooleanField(label=_("Unassigned"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = _blank(_("all")) + list(JourneyStage.choices)
        self.fields["sector"].choices = _blank(_("all")) + list(Sector.choices)

    def filters(self) -> dict:
        if not self.is_valid():
            return {"status": OPEN}
        data = self.cleaned_data
        return {
            "status": data["status"] if "status" in self.data else OPEN,
            "stage": data["stage"],
            "sector": data["sector"],
            "overdue": data["overdue"],
            "mine": data["mine"],
            "unassigned": data["unassigned"],
        }
