"""Forms of the compute pages. They parse input only; the services validate and decide.

The submission form is built for one person: the projects they may submit to (those with a live
allocation), the clusters of the chosen project's allocations, the chosen cluster's partitions and,
when a template is chosen, one field per template parameter, named ``params.<name>`` so the
service's errors (``params.data``) land next to the field they are about.

The operators' cluster forms name their fields as services.clusters names them in its errors
(``rates.gpu_hour``, ``config.workdir_root``), for the same reason.
"""

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import PortalForm

from . import job_templates
from .models import Backend, JobState
from .services.clusters import CONFIG_KEYS, SERVER_ONLY_KEYS

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
    datasets = forms.CharField(
        label=_("Datasets"),
        required=False,
        max_length=2000,
        help_text=_(
            "Short names of the datasets the job reads, separated by spaces (name@2 for version "
            "2). The job finds them in AIFACTORY_DATASETS."
        ),
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
        # Browsers send a textarea's lines ended by CRLF; bash would read "sleep 8\r".
        for name, value in data.items():
            if isinstance(value, str) and "\r" in value:
                data[name] = value.replace("\r\n", "\n").replace("\r", "\n")
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
            "datasets": (data.get("datasets") or "").replace(",", " ").split(),
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


# --- the operators' cluster pages ----------------------------------------------------------------

CONFIG = "config."
YES_NO = [("", _("the backend's default")), ("true", _("yes")), ("false", _("no"))]
# Help for the settings operators set most; the key names themselves are the labels (the CLI,
# the API and the docs use the same names).
CONFIG_HELP = {
    "mode": _("rest: slurmrestd with a token per user; cli: the Slurm commands on this machine."),
    "admin_user": _("The cluster user whose token reads the status of all jobs."),
    "workdir_root": _("Required: the folder on the cluster in which each job gets its own."),
    "cluster_name": _("The cluster's name in Slurm (ClusterName), for sacct."),
    "max_jobs": _("How many jobs run at the same time (default 2)."),
    "run_as": _("The user jobs run as when the portal runs as root (default nobody)."),
    "allow_in_production": _("The local backend refuses to run in production unless this is yes."),
    "oidc_username_claim": _(
        "The identity provider's claim that carries people's username here, e.g. "
        "preferred_username; empty: operators map them."
    ),
}
BACKEND_LEGENDS = {
    Backend.LOCAL: _("Settings of the local backend"),
    Backend.SLURM: _("Settings of the Slurm backend"),
}
FIGURES = {
    "rates.gpu_hour": ("rate_gpu_hour", _("Billing units per GPU hour")),
    "rates.cpu_hour": ("rate_cpu_hour", _("Billing units per CPU core hour")),
    "power.gpu_watts": ("gpu_watts", _("Power per GPU (W)")),
    "power.node_watts": ("node_watts", _("Power per node, without GPUs (W)")),
    "pue": ("pue", _("PUE")),
    "grid": ("grid_g_co2_per_kwh", _("Grid carbon intensity (g CO2e per kWh)")),
    "sync_seconds": ("sync_seconds", _("Status sync interval (s)")),
}


def _web_keys(backend: str) -> dict:
    """The backend's settings operators set on the web: all but the server-only ones."""
    return {k: v for k, v in CONFIG_KEYS[backend].items() if k not in SERVER_ONLY_KEYS}


def _config_field(key: str, kind) -> forms.Field:
    common = {"label": key, "required": False, "help_text": CONFIG_HELP.get(key, "")}
    if isinstance(kind, tuple):
        return forms.ChoiceField(
            choices=[("", _("the backend's default"))] + [(v, v) for v in kind], **common
        )
    if kind is bool:
        return forms.ChoiceField(choices=YES_NO, **common)
    return forms.CharField(max_length=500, **common)


class ClusterForm(PortalForm):
    """A new cluster (``cluster=None``: name and backend are asked) or an existing one's settings
    and figures. The backend settings are one field each, named ``config.<key>`` as the service
    names them in its errors; a new cluster shows the settings of every backend and uses those of
    the backend chosen. Fields left empty keep the default (new) or the value (existing).
    The server-only settings (SERVER_ONLY_KEYS) are no fields: the edit page shows them, and a
    change keeps them as they are."""

    name = forms.CharField(
        label=_("Name"),
        max_length=50,
        help_text=_("Lower-case letters, digits, - and _; it cannot change later."),
    )
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    backend = forms.ChoiceField(label=_("Backend"), choices=Backend.choices)
    is_active = forms.BooleanField(
        label=_("Active (offered for new jobs)"), required=False, initial=True
    )

    def __init__(self, *args, cluster=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        for name, (_attr, label) in FIGURES.items():
            if name.startswith("rates.") or name == "pue":
                self.fields[name] = forms.DecimalField(label=label, required=False)
            else:
                self.fields[name] = forms.IntegerField(label=label, required=False)
        backends = [cluster.backend] if cluster else list(Backend.values)
        for backend in backends:
            for key, kind in _web_keys(backend).items():
                self.fields[CONFIG + key] = _config_field(key, kind)
        if cluster is None:
            del self.fields["is_active"]
            return
        del self.fields["name"], self.fields["backend"]
        self.fields["title"].initial = cluster.title
        self.fields["is_active"].initial = cluster.is_active
        for name, (attr, _label) in FIGURES.items():
            self.fields[name].initial = getattr(cluster, attr)
        for key, value in (cluster.config or {}).items():
            if CONFIG + key in self.fields:
                initial = ("true" if value else "false") if isinstance(value, bool) else value
                self.fields[CONFIG + key].initial = initial

    def fieldsets(self) -> list:
        """(legend, fields) for the template: the cluster, its figures, each backend's settings."""
        general = [self[n] for n in ("name", "title", "backend", "is_active") if n in self.fields]
        figures = [self[n] for n in FIGURES]
        sets = [(_("Cluster"), general), (_("Billing and energy"), figures)]
        if self.cluster:
            keys = _web_keys(self.cluster.backend)
            legend = BACKEND_LEGENDS[self.cluster.backend]
            return [*sets, (legend, [self[CONFIG + key] for key in keys])]
        # A new cluster: each backend's own settings, then those every backend has (once).
        shared = set.intersection(*(set(_web_keys(b)) for b in Backend.values))
        for backend in Backend.values:
            own = [self[CONFIG + key] for key in _web_keys(backend) if key not in shared]
            sets.append((BACKEND_LEGENDS[backend], own))
        if shared:
            common = [self[CONFIG + k] for k in _web_keys(Backend.values[0]) if k in shared]
            sets.append((_("Settings of every backend"), common))
        return sets

    def server_settings(self) -> list[tuple[str, Any]]:
        """(key, value) of the cluster's server-only settings, for the page to show."""
        if self.cluster is None:
            return []
        config = self.cluster.config or {}
        keys = CONFIG_KEYS[self.cluster.backend]
        return [(key, config[key]) for key in keys if key in SERVER_ONLY_KEYS and key in config]

    def _config(self, backend: str) -> dict:
        config = {}
        if self.cluster is not None:  # kept as they are: only the server changes them
            current = self.cluster.config or {}
            config = {k: v for k, v in current.items() if k in SERVER_ONLY_KEYS}
        for key, kind in _web_keys(backend).items():
            value = self.cleaned_data.get(CONFIG + key)
            if value in (None, ""):
                continue
            value = value.strip() if isinstance(value, str) else value
            config[key] = {"true": True, "false": False}[value] if kind is bool else value
        return config

    def _figures(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in FIGURES}
        given = {name: value for name, value in data.items() if value is not None}
        out: dict = {}
        for group in ("rates", "power"):
            part = {
                name.split(".", 1)[1]: str(value)
                for name, value in given.items()
                if name.startswith(group + ".")
            }
            if part:
                out[group] = part
        for name in ("pue", "grid", "sync_seconds"):
            if name in given:
                out[name] = str(given[name])
        return out

    def creation(self) -> dict:
        """The keyword arguments of services.cluster_create."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "title": data.get("title", ""),
            "backend": data["backend"],
            "config": self._config(data["backend"]),
            **self._figures(),
        }

    def changes(self) -> dict:
        """The keyword arguments of services.cluster_update (besides the cluster)."""
        return {
            "title": self.cleaned_data.get("title", ""),
            "config": self._config(self.cluster.backend),
            "is_active": bool(self.cleaned_data.get("is_active")),
            **self._figures(),
        }


PARTITION_FIELDS = (
    "nodes",
    "gpus_per_node",
    "gpu_type",
    "cpus_per_node",
    "mem_gb_per_node",
    "max_time_minutes",
    "is_default",
)


class PartitionForm(PortalForm):
    """A new partition of a cluster, or an existing one's figures (its name stays)."""

    name = forms.CharField(label=_("Name"), max_length=50)
    nodes = forms.IntegerField(label=_("Nodes"), initial=1)
    gpus_per_node = forms.IntegerField(label=_("GPUs per node"), initial=0)
    gpu_type = forms.CharField(label=_("GPU type"), max_length=50, required=False)
    cpus_per_node = forms.IntegerField(label=_("CPU cores per node"), initial=1)
    mem_gb_per_node = forms.IntegerField(label=_("Memory per node (GB)"), initial=1)
    max_time_minutes = forms.IntegerField(label=_("Longest time limit (minutes)"), initial=2880)
    is_default = forms.BooleanField(
        label=_("Default partition"),
        required=False,
        help_text=_("Jobs that name no partition go here; the mark moves from the others."),
    )

    def __init__(self, *args, partition=None, **kwargs):
        super().__init__(*args, **kwargs)
        if partition is not None:
            del self.fields["name"]
            for name in PARTITION_FIELDS:
                self.fields[name].initial = getattr(partition, name)

    def values(self) -> dict:
        """The keyword arguments of services.partition_set (besides the cluster and the name)."""
        data = self.cleaned_data
        return {name: data[name] for name in PARTITION_FIELDS}


class ClusterAccountForm(PortalForm):
    """Map a person, by their e-mail address, to their username on the cluster."""

    person = forms.EmailField(label=_("Person (e-mail address)"), max_length=254)
    username = forms.CharField(
        label=_("Cluster username"),
        max_length=64,
        help_text=_("Their Unix account on the cluster; their jobs run as it."),
    )

    def clean_person(self):
        email = self.cleaned_data["person"]
        user = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise ValidationError(_("No one with this e-mail address has an account here."))
        return user
