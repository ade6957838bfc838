"""Reads of datasets and versions, filtered by what the asking person may see (core.permissions).

Published datasets that are not internal are listed for everybody; the publisher's members see
all of their organisation's datasets, drafts included; operators see every dataset's metadata. A
dataset someone may not see answers 404, so slugs and ids reveal nothing."""

import contextlib
import uuid

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import Http404

from aifactory.core.permissions import allowed, organisation_ids

from .models import LISTED, Dataset, DatasetVersion, Distribution, VersionStatus

__all__ = [
    "dataset_get",
    "datasets_filter",
    "datasets_visible",
    "is_publisher_member",
    "organisations_for_new_dataset",
    "publishers_of",
    "version_get",
    "versions_visible",
]


def datasets_visible(user) -> QuerySet[Dataset]:
    qs = Dataset.objects.select_related("publisher", "source")
    if allowed(user, "dataset.list_all"):
        return qs
    if getattr(user, "is_authenticated", False) and user.is_active:
        return qs.filter(LISTED | Q(publisher_id__in=organisation_ids(user)))
    return qs.listed()


def dataset_get(user, key) -> Dataset:
    """By slug or id; 404 when missing or not visible. An id wins over a slug spelled like it, so
    nobody can name a dataset after another's id and stand in for it."""
    key = str(key).strip()
    visible = datasets_visible(user)
    dataset = None
    with contextlib.suppress(ValueError):
        dataset = visible.filter(pk=uuid.UUID(key)).first()
    if dataset is None:
        dataset = visible.filter(slug=key).first()
    if dataset is None or not allowed(user, "dataset.view", dataset):
        raise Http404("dataset")
    return dataset


def datasets_filter(
    qs: QuerySet[Dataset],
    *,
    q: str = "",
    theme: str = "",
    file_format: str = "",
    access_rights: str = "",
    publisher: str = "",
    status: str = "",
) -> QuerySet[Dataset]:
    """The catalogue's filters; unknown values simply match nothing."""
    q = (q or "").strip()
    if q:
        qs = qs.annotate(
            _title=Cast("title", TextField()),
            _description=Cast("description", TextField()),
            _keywords=Cast("keywords", TextField()),
        )
        for word in q.split()[:8]:
            qs = qs.filter(
                Q(_title__icontains=word)
                | Q(_description__icontains=word)
                | Q(_keywords__icontains=word)
                | Q(slug__icontains=word)
                | Q(publisher__legal_name__icontains=word)
            )
    if theme:
        qs = qs.annotate(_themes=Cast("themes", TextField())).filter(
            _themes__contains=f'"{theme.strip().upper()}"'
        )
    if file_format:
        qs = qs.filter(
            pk__in=Distribution.objects.filter(
                format=file_format.strip().lower(), version__status=VersionStatus.READY
            ).values("version__dataset_id")
        )
    if access_rights:
        qs = qs.filter(access_rights=access_rights.strip())
    if publisher:
        publisher = publisher.strip()
        lookup = Q(publisher__legal_name__iexact=publisher)
        with contextlib.suppress(ValueError):
            lookup |= Q(publisher_id=uuid.UUID(publisher))
        qs = qs.filter(lookup)
    if status:
        qs = qs.filter(status=status.strip())
    return qs


def is_publisher_member(user, dataset: Dataset) -> bool:
    return allowed(user, "dataset.edit", dataset)


def versions_visible(user, dataset: Dataset) -> QuerySet[DatasetVersion]:
    """The dataset's versions, newest first; versions still fetching or failed only for the
    publisher's members."""
    qs = dataset.versions.prefetch_related("distributions").order_by("-number")
    if is_publisher_member(user, dataset):
        return qs
    return qs.ready()


def version_get(user, dataset: Dataset, number) -> DatasetVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise Http404("version") from None
    version = versions_visible(user, dataset).filter(number=number).first()
    if version is None:
        raise Http404("version")
    return version


def publishers_of(datasets: QuerySet[Dataset]) -> list:
    """The publishers of these datasets, each once, by name (the catalogue's publisher filter):
    one query, however many datasets there are."""
    from aifactory.accounts.models import Organisation

    publishers = Organisation.objects.filter(pk__in=datasets.values("publisher_id"))
    return sorted(publishers.only("pk", "legal_name"), key=lambda p: p.legal_name)


def organisations_for_new_dataset(user):
    """The organisations the person may create datasets for."""
    from aifactory.accounts.models import Organisation

    if not getattr(user, "is_authenticated", False):
        return Organisation.objects.none()
    return Organisation.objects.filter(pk__in=organisation_ids(user)).order_by("legal_name")
