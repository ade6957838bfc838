"""The operators' pages for harvesting: the sources with their last run, a form to add or change
one, "harvest now" (in the background), and a source's runs with their errors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.core.forms import call_service
from aifactory.core.htmx import redirect_to
from aifactory.core.permissions import require

from . import harvest_selectors as selectors
from . import services
from .harvest_forms import HarvestSourceForm


@login_required
def source_list(request):
    sources = selectors.sources_visible(request.user)
    return render(request, "data/harvest_list.html", {"sources": list(sources)})


def _form(request, form, *, title, source=None, status=200):
    context = {"form": form, "title": title, "source": source}
    return render(request, "data/harvest_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def source_new(request):
    require(request.user, "harvest.manage")
    form = HarvestSourceForm(request.POST or None, request.FILES or None)
    title = _("New harvest source")
    if request.method == "POST":
        if form.is_valid():
            ok, source = call_service(
                request,
                services.harvest_source_create,
                form=form,
                actor=request.user,
                data=form.data_for_service(),
            )
            if ok:
                messages.success(
                    request,
                    _("Harvest source %(name)s is added; harvest it now or wait for its turn.")
                    % {"name": source.name},
                )
                return redirect_to(request, reverse("data_harvest:source_runs", args=[source.name]))
        return _form(request, form, title=title, status=422)
    return _form(request, form, title=title)


@login_required
@require_http_methods(["GET", "POST"])
def source_edit(request, name):
    source = selectors.source_get(request.user, name)
    form = HarvestSourceForm(request.POST or None, request.FILES or None, source=source)
    title = _("Edit the harvest source %(name)s") % {"name": source.name}
    if request.method == "POST":
        if form.is_valid():
            ok, _source = call_service(
                request,
                services.harvest_source_update,
                form=form,
                actor=request.user,
                source=source,
                data=form.data_for_service(),
            )
            if ok:
                messages.success(request, _("Saved."))
                return redirect_to(request, reverse("data_harvest:source_list"))
        return _form(request, form, title=title, source=source, status=422)
    return _form(request, form, title=title, source=source)


@login_required
@require_POST
def source_run(request, name):
    source = selectors.source_get(request.user, name)
    services.harvest_source_run(actor=request.user, source=source)
    messages.success(
        request,
        _("%(name)s is being harvested in the background; reload this page to see the run.")
        % {"name": source.name},
    )
    return redirect_to(request, reverse("data_harvest:source_runs", args=[source.name]))


@login_required
def source_runs(request, name):
    source = selectors.source_get(request.user, name)
    runs = list(selectors.runs_of(request.user, source))
    language = get_language() or "en"
    datasets = [
        {"dataset": d, "title": d.text("title", language)}
        for d in source.datasets.order_by("gone_at", "slug")[:200]
    ]
    context = {"source": source, "runs": runs, "datasets": datasets}
    return render(request, "data/harvest_runs.html", context)
