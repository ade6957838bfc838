"""The quality page of a dataset: its publisher's members declare the schema, the key columns
and their own checks; saving checks the newest version again."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from aifactory.core.forms import call_service
from aifactory.core.permissions import require

from . import services
from .datasets_selectors import dataset_get
from .quality_forms import QualityForm


def _detail_url(dataset) -> str:
    try:
        return reverse("data:dataset_detail", args=[dataset.slug])
    except NoReverseMatch:
        return reverse("data:dataset_quality_edit", args=[dataset.slug])


@login_required
@require_http_methods(["GET", "POST"])
def dataset_quality_edit(request, slug):
    dataset = dataset_get(request.user, slug)
    require(request.user, "dataset.edit", dataset)
    version = dataset.newest_ready_version()
    initial = {
        "declared_schema": dataset.declared_schema,
        "key_columns": ", ".join(dataset.key_columns or []),
        "checks": dataset.checks,
    }
    form = QualityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, _result = call_service(
            request,
            services.dataset_checks_set,
            form=form,
            actor=request.user,
            dataset=dataset,
            declared_schema=form.cleaned_data["declared_schema"],
            key_columns=form.cleaned_data["key_columns"],
            checks=form.cleaned_data["checks"],
        )
        if ok:
            messages.success(request, _("Saved; the newest version was checked again."))
            return redirect(_detail_url(dataset))
    columns = []
    if version is not None:
        for dist in version.distributions.all():
            for col in dist.schema or []:
                if col["name"] not in [c["name"] for c in columns]:
                    columns.append(col)
    return render(
        request,
        "data/quality_edit.html",
        {
            "dataset": dataset,
            "version": version,
            "form": form,
            "columns": columns,
            "detail_url": _detail_url(dataset),
            "check_kinds": sorted(services.CHECK_KINDS),
        },
        status=422 if request.method == "POST" else 200,
    )
