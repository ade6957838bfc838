"""Forms of the review and decision pages. They parse input only; the services validate and
decide. Fields are named as the services name them ("scores.impact", "granted.gpu_hours"), so a
service's error lands next to its field."""

from django import forms
from django.conf import settings
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import PortalForm

from .models import Outcome, Resource, ReviewKind
from .reviews_selectors import reviews_visible
from .services.reviews import CRITERIA, RECOMMENDATIONS, TECHNICAL_CRITERIA

SCORES = [(str(n), str(n)) for n in range(1, 6)]


class ReviewForm(PortalForm):
    """Several of these forms share a page; each prefixes its ids with its own name, and a
    dotted field name becomes an id with underscores."""

    id_prefix = "review"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)

    def _dotted_ids(self) -> None:
        for name, field in self.fields.items():
            if "." in name:
                field.widget.attrs["id"] = f"{self.id_prefix}_{name.replace('.', '_')}"

    def bound(self, prefix: str) -> list:
        return [self[name] for name in self.fields if name.startswith(prefix)]


class ConflictForm(ReviewForm):
    id_prefix = "conflict"

    conflict = forms.TypedChoiceField(
        label=_("Do you have a conflict of interest with this application?"),
        choices=[("no", _("No")), ("yes", _("Yes"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Explain the conflict (required when there is one)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ScoreForm(ReviewForm):
    id_prefix = "score"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in CRITERIA.items():
            self.fields[f"scores.{key}"] = forms.ChoiceField(
                label=capfirst(label), choices=SCORES, widget=forms.RadioSelect
            )
        self.fields["comments"] = self.fields.pop("comments")  # after the scores
        self._dotted_ids()

    comments = forms.CharField(
        label=_("Comments"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )

    def scores(self) -> dict:
        return {key: self.cleaned_data[f"scores.{key}"] for key in CRITERIA}


class TechnicalForm(ReviewForm):
    id_prefix = "technical"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        texts = {
            f"assessment.{key}": forms.CharField(
                label=capfirst(label), required=False, widget=forms.Textarea(attrs={"rows": 3})
            )
            for key, label in TECHNICAL_CRITERIA.items()
        }
        self.fields = {**texts, **self.fields}
        self._dotted_ids()

    recommendation = forms.ChoiceField(
        label=_("Recommendation"), choices=[("", "—"), *RECOMMENDATIONS.items()]
    )
    comments = forms.CharField(
        label=_("Comments"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def assessment(self) -> dict:
        return {key: self.cleaned_data[f"assessment.{key}"] for key in TECHNICAL_CRITERIA}


class AssignForm(ReviewForm):
    id_prefix = "assign"

    reviewer = forms.EmailField(
        label=_("Reviewer's e-mail address"),
        help_text=_("A person on the hub with the reviewer role."),
        widget=forms.EmailInput(attrs={"list": "reviewer-choices", "autocomplete": "off"}),
    )


class DecisionForm(ReviewForm):
    """The outcome, the amounts granted per requested resource (the requested ones to start
    with), the reason, and where the allocation runs."""

    id_prefix = "decision"

    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[(o.value, o.label) for o in Outcome if o.value]
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        help_text=_("Required for a reduction or a rejection; the applicant reads it."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    cluster = forms.CharField(label=_("Cluster"), required=False, max_length=100)
    partition = forms.CharField(label=_("Partition"), required=False, max_length=100)

    def __init__(self, *args, requested=None, **kwargs):
        labels = dict(Resource.choices)
        requested = requested or {}
        kwargs.setdefault(
            "initial",
            {
                "cluster": settings.ACCESS_DEFAULT_CLUSTER,
                "partition": settings.ACCESS_DEFAULT_PARTITION,
                **{f"granted.{k}": v for k, v in requested.items()},
            },
        )
        super().__init__(*args, **kwargs)
        granted = {
            f"granted.{key}": forms.DecimalField(
                label=_("Granted: %(resource)s") % {"resource": labels.get(key, key)},
                required=False,
                min_value=0,
            )
            for key in requested
        }
        fields = dict(self.fields)
        self.fields = {"outcome": fields.pop("outcome"), **granted, **fields}
        self._dotted_ids()

    def granted(self) -> dict | None:
        """What the service is given: nothing for a rejection, else the amounts filled in."""
        if self.cleaned_data["outcome"] == Outcome.REJECTED:
            return None
        return {
            name.split(".", 1)[1]: str(value)
            for name, value in self.cleaned_data.items()
            if name.startswith("granted.") and value is not None
        }


def shown_reviews(user, application) -> list:
    """``reviews_visible`` with the scores and the assessment as (label, value) rows, in the
    rubric's order, and the recommendation's label, for the templates."""
    shown = reviews_visible(user, application)
    for item in shown:
        item.score_rows = [(label, item.scores.get(key)) for key, label in CRITERIA.items()]
        item.assessment_rows = [
            (label, item.assessment.get(key))
            for key, label in TECHNICAL_CRITERIA.items()
            if item.assessment.get(key)
        ]
        item.recommendation_label = RECOMMENDATIONS.get(item.recommendation, "")
        item.is_technical = item.review.kind == ReviewKind.TECHNICAL
        kind = str(item.review.get_kind_display())
        # Applicants read "peer review #2" where others read the reviewer's name.
        item.heading = (
            capfirst(item.reviewer)
            if item.reviewer.startswith(kind)
            else f"{capfirst(kind)} · {item.reviewer}"
        )
    return shown
