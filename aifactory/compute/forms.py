"""Forms of the compute pages. They parse input only; the services validate and decide.

The submission form is built for one person: the projects they may submit to (those with a live
allocation), the clusters of the chosen project's allocations, the chosen cluster's partitions and,
when a template is chosen, one field per template parameter, named ``params.<name>`` so the
service's errors (``params.data``) land next to the field they are about.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import PortalForm

from . import job_templates
from .models import JobState

PARAM = "params."
DEFAULTS = {"gpus": 0, "cpus": 1, "mem_mb": 4096, "time_limit_minutes": 60}


class JobFilterForm(PortalForm):
    project = forms.ChoiceField(label=_("Project"), required=False)
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("any"))] + JobState.choices
    )

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("any"))] + [(p.code, p.code) for p in projects]

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {"project": data.get("project", ""), "state": data.get("state", "")}


def _param_field(param: job_templates.Param) -> forms.Field:
    common = {
        "label": param.name,
        "help_text": param.help,
        "required": param.required,
        "initial": param.default,
    }
    if param.kind == "int":
        return forms.IntegerField(min_value=param.minimum, max_value=param.maximum, **common)
    if param.kind == "float":
        return forms.FloatField(min_value=param.minimum, max_value=param.maximum, **common)
    if param.kind == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in param.choices], **common)
    if param.kind == "text":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), strip=False, **common)
    return forms.CharField(**common)


class JobForm(PortalForm):
    """``allocations``: the person's live allocations (project and cluster chosen from them);
    ``partitions``: the chosen cluster's partition names; ``template``: the chosen template."""

    project = forms.ChoiceField(label=_("Project"))
    cluster = forms.ChoiceField(label=_("Cluster"))
    partition = forms.ChoiceField(label=_("Partition"), required=False)
    name = forms.CharField(label=_("Name"), required=False, max_length=100)
    template = forms.ChoiceField(
        label=_("Template"),
        required=False,
        help_text=_("A ready-made job with parameters, or your own script."),
    )
    script = forms.CharField(
        label=_("Script"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_("Runs with bash unless it starts with #!."),
    )
    gpus = forms.IntegerField(label=_("GPUs"), min_value=0, initial=DEFAULTS["gpus"])
    cpus = forms.IntegerField(label=_("CPU cores"), min_value=1, initial=DEFAULTS["cpus"])
    mem_mb = forms.IntegerField(label=_("Memory (MB)"), min_value=1, initial=DEFAULTS["mem_mb"])
    time_limit_minutes = forms.IntegerField(
        label=_("Time limit (minutes)"), min_value=1, initial=DEFAULTS["time_limit_minutes"]
    )

    def __init__(self, *args, projects=(), clusters=(), partitions=(), template="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(p.code, f"{p.code} — {p.title}") for p in projects]
        self.fields["cluster"].choices = [(c.name, c.title or c.name) for c in clusters]
        self.fields["partition"].choices = [("", _("the cluster's default"))] + [
            (name, name) for name in partitions
        ]
        self.fields["template"].choices = [("", _("my own script"))] + [
            (t.name, str(t.title)) for t in job_templates.templates()
        ]
        self.template = None
        if template:
            try:
                self.template = job_templates.template(template)
            except ValidationError:  # an unknown name: the field's own check reports it
                self.template = None
        if self.template is not None:
            for param in self.template.params:
                self.fields[PARAM + param.name] = _param_field(param)
        self._live_preview()

    def _live_preview(self) -> None:
        """HTMX: a new project, cluster or template redraws the form (its choices change); a new
        number redraws only the cost preview, so what is being typed elsewhere is never lost."""
        url = reverse("compute:job_new")
        common = {
            "hx-post": url,
            "hx-trigger": "change",
            "hx-include": "closest form",
            "hx-vals": '{"preview": "1"}',
            "hx-swap": "outerHTML",
            # One preview at a time: a newer change aborts the older request, so an answer
            # for stale values never arrives last.
            "hx-sync": "closest form:replace",
        }
        for name in ("project", "cluster", "template"):
            self.fields[name].widget.attrs.update(common, **{"hx-target": "#job-form"})
        for name in ("gpus", "cpus", "time_limit_minutes"):
            self.fields[name].widget.attrs.update(
                common, **{"hx-target": "#job-preview", "hx-select": "#job-preview"}
            )

    def param_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith(PARAM)]

    def clean(self):
        data = super().clean()
        if not data.get("template") and not (data.get("script") or "").strip():
            self.add_error("script", _("Give a script or choose a template."))
        return data

    def submission(self) -> dict:
        """The keyword arguments of services.job_submit from the valid form."""
        data = self.cleaned_data
        kwargs = {
            "partition": data.get("partition") or "",
            "name": data.get("name") or "",
            "gpus": data["gpus"],
            "cpus": data["cpus"],
            "mem_mb": data["mem_mb"],
            "time_limit_minutes": data["time_limit_minutes"],
        }
        if data.get("template"):
            kwargs["template"] = data["template"]
            kwargs["params"] = {
                name.removeprefix(PARAM): value
                for name, value in data.items()
                if name.startswith(PARAM) and value not in (None, "")
            }
        else:
            kwargs["script"] = data["script"]
        return kwargs
