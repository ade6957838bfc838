"""Pages of datasets: the catalogue of datasets with its search and filters, a new dataset, a
dataset's page (metadata, versions with their files, quality, access, standards), editing, a new
version (files and/or addresses to fetch), publishing and archiving.

Published datasets that are not internal are visible to everybody, signed in or not; drafts and
internal datasets only to the publisher's members (and operators). A dataset a person may not see
answers 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.core.forms import call_service
from aifactory.core.htmx import redirect_to, render_page
from aifactory.core.permissions import allowed, require

from . import datasets_selectors as selectors
from . import services
from .datasets_forms import DatasetFilterForm, DatasetForm, VersionForm
from .models import Dataset, Theme, VersionStatus

LIST_LIMIT = 200
THEMES = dict(Theme.choices)


@require_http_methods(["GET"])
def dataset_list(request):
    user = request.user
    visible = selectors.datasets_visible(user)
    form = DatasetFilterForm(request.GET or None, publishers=selectors.publishers_of(visible))
    f = form.filters()
    datasets = selectors.datasets_filter(
        visible,
        q=f.get("q", ""),
        theme=f.get("theme", ""),
        file_format=f.get("format", ""),
        access_rights=f.get("access_rights", ""),
        publisher=f.get("publisher", ""),
    ).order_by("-issued_at", "-created_at")
    language = (get_language() or "en")[:2]
    shown = list(datasets[:LIST_LIMIT])
    for dataset in shown:
        dataset.display_title = dataset.text("title", language) or dataset.slug
    context = {
        "form": form,
        "datasets": shown,
        "limit": LIST_LIMIT,
        "can_create": selectors.organisations_for_new_dataset(user).exists(),
    }
    return render_page(request, "data/dataset_list.html", "data/_dataset_results.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_new(request):
    user = request.user
    organisations = list(selectors.organisations_for_new_dataset(user))
    if not organisations:
        raise PermissionDenied("dataset.create")
    form = DatasetForm(
        request.POST or None,
        organisations=organisations,
        initial={"organisation": str(organisations[0].pk), "access_rights": "internal"},
    )
    if request.method == "POST":
        if form.is_valid():
            organisation = next(
                o for o in organisations if str(o.pk) == form.cleaned_data["organisation"]
            )
            require(user, "dataset.create", organisation)
            ok, dataset = call_service(
                request,
                services.dataset_create,
                form=form,
                actor=user,
                organisation=organisation,
                data=form.data_for_service(),
            )
            if ok:
                messages.success(request, _("The dataset is created as a draft: add its data."))
                return redirect("data:version_new", dataset.slug)
        return render(request, "data/dataset_form.html", {"form": form, "new": True}, status=422)
    return render(request, "data/dataset_form.html", {"form": form, "new": True})


def _newest_ready(dataset: Dataset, versions):
    return next((v for v in versions if v.status == VersionStatus.READY), None)


@require_http_methods(["GET"])
def dataset_detail(request, slug):
    user = request.user
    dataset = selectors.dataset_get(user, slug)
    versions = list(selectors.versions_visible(user, dataset))
    can_edit = allowed(user, "dataset.edit", dataset)
    language = (get_language() or "en")[:2]
    context = {
        "dataset": dataset,
        "versions": versions,
        "version": _newest_ready(dataset, versions),
        "can_edit": can_edit,
        "can_govern": allowed(user, "dataset.govern", dataset),
        # The profile's values (min, max, frequent values…) are data: only for who may read it.
        "can_read": allowed(user, "dataset.read", dataset),
        "title": dataset.text("title", language) or dataset.slug,
        "description": dataset.text("description", language),
        "themes": [THEMES.get(code, code) for code in dataset.themes or []],
    }
    try:
        from . import requests_selectors

        access = requests_selectors.dataset_access_context(user, dataset)
    except (ImportError, AttributeError):  # the access pages are not installed in this build
        access = {}
    context.update(access)
    if not can_edit:  # a reference URL may carry a token: only the publisher's members see it
        for version in versions:
            version.references = []
    return render(request, "data/dataset_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_edit(request, slug):
    user = request.user
    dataset = selectors.dataset_get(user, slug)
    require(user, "dataset.edit", dataset)
    can_govern = allowed(user, "dataset.govern", dataset)
    form = DatasetForm(request.POST or None, dataset=dataset, can_govern=can_govern)
    if request.method == "POST":
        if form.is_valid():
            ok, _dataset = call_service(
                request,
                services.dataset_update,
                form=form,
                actor=user,
                dataset=dataset,
                data=form.data_for_service(),
            )
            if ok:
                messages.success(request, _("Saved."))
                return redirect("data:dataset_detail", dataset.slug)
        status = 422
    else:
        status = 200
    context = {"form": form, "dataset": dataset, "new": False}
    return render(request, "data/dataset_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def version_new(request, slug):
    """Files sent with the form are streamed to the storage by the service (Django keeps large
    ones in temporary files, read in chunks); addresses are fetched in the background."""
    user = request.user
    dataset = selectors.dataset_get(user, slug)
    require(user, "dataset.edit", dataset)
    form = VersionForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            files = request.FILES.getlist("files")
            urls = form.urls()
            note = form.cleaned_data["note"]
            if files and urls:
                form.add_error(None, _("Send either files or addresses, not both at once."))
            elif not files and not urls:
                form.add_error(None, _("Add at least one file or address."))
            elif files:
                ok, version = call_service(
                    request,
                    services.version_create,
                    form=form,
                    actor=user,
                    dataset=dataset,
                    files=[(f.name, f.chunks()) for f in files],
                    note=note,
                )
                if ok:
                    messages.success(
                        request,
                        _("Version %(number)d is stored; its quality is being measured.")
                        % {"number": version.number},
                    )
                    return redirect_to(request, reverse("data:dataset_detail", args=[dataset.slug]))
            else:
                ok, version = call_service(
                    request,
                    services.version_add_references,
                    form=form,
                    actor=user,
                    dataset=dataset,
                    urls=urls,
                    note=note,
                )
                if ok:
                    messages.success(
                        request,
                        _("Version %(number)d is being fetched.") % {"number": version.number},
                    )
                    return redirect_to(request, reverse("data:dataset_detail", args=[dataset.slug]))
        status = 422
    else:
        status = 200
    context = {"form": form, "dataset": dataset}
    return render(request, "data/dataset_version_new.html", context, status=status)


@login_required
@require_POST
def dataset_publish(request, slug):
    dataset = selectors.dataset_get(request.user, slug)
    require(request.user, "dataset.govern", dataset)
    ok, _dataset = call_service(
        request, services.dataset_publish, actor=request.user, dataset=dataset
    )
    if ok:
        messages.success(request, _("The dataset is published."))
    return redirect("data:dataset_detail", dataset.slug)


@login_required
@require_POST
def dataset_archive(request, slug):
    dataset = selectors.dataset_get(request.user, slug)
    require(request.user, "dataset.govern", dataset)
    ok, _dataset = call_service(
        request, services.dataset_archive, actor=request.user, dataset=dataset
    )
    if ok:
        messages.success(request, _("The dataset is archived."))
    return redirect("data:dataset_detail", dataset.slug)
