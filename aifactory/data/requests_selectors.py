"""Reads of access requests, grants and the access log, filtered by the permission rules.

Whatever a person may not see answers "not found", so the pages and the API never reveal that a
request, a grant or an internal dataset exists."""

import contextlib
import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from aifactory.core.permissions import allowed, organisation_ids, require
from aifactory.core.roles import OrgRole

from .datasets_selectors import dataset_get
from .models import (
    AccessLogEntry,
    AccessRequest,
    Dataset,
    Distribution,
    Grant,
    RequestStatus,
    VersionStatus,
)


def distribution_get(user, dataset_key, number: int, name: str) -> Distribution:
    dataset = dataset_get(user, dataset_key)
    distribution = (
        Distribution.objects.select_related("version__dataset__publisher")
        .filter(
            version__dataset=dataset,
            version__number=number,
            version__status=VersionStatus.READY,
            name=name,
        )
        .first()
    )
    if distribution is None:
        raise Http404("No such file.")
    return distribution


def _requests() -> QuerySet:
    return AccessRequest.objects.select_related(
        "dataset__publisher",
        "requester",
        "organisation",
        "decided_by",
        "grant__dataset",
        "grant__organisation",
    )


def _stewarded_orgs(user) -> list:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        user.memberships.filter(role__in=[OrgRole.OWNER, OrgRole.MANAGER]).values_list(
            "organisation_id", flat=True
        )
    )


def requests_mine(user) -> QuerySet:
    if not getattr(user, "is_authenticated", False):
        return AccessRequest.objects.none()
    return _requests().filter(requester=user)


def requests_to_decide(user) -> QuerySet:
    """Requests for the datasets this person is a data steward of."""
    return _requests().filter(dataset__publisher_id__in=_stewarded_orgs(user))


def requests_list(user, *, status: str = "", scope: str = "") -> QuerySet:
    """``scope``: "mine", "decide", or both (empty)."""
    if not getattr(user, "is_authenticated", False):
        return AccessRequest.objects.none()
    mine = Q(requester=user)
    decide = Q(dataset__publisher_id__in=_stewarded_orgs(user))
    where = {"mine": mine, "decide": decide}.get(scope, mine | decide)
    qs = _requests().filter(where)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at")


def request_get(user, pk) -> AccessRequest:
    req = None
    with contextlib.suppress(ValueError, TypeError):
        req = _requests().filter(pk=uuid.UUID(str(pk))).first()
    if req is None or not allowed(user, "data_request.view", req):
        raise Http404("No such request.")
    return req


def grants_of(user, dataset: Dataset) -> QuerySet:
    require(user, "dataset.govern", dataset)
    return dataset.grants.select_related(
        "organisation", "request__requester", "granted_by", "revoked_by"
    ).order_by("-created_at")


def grant_get(user, pk) -> Grant:
    grant = None
    with contextlib.suppress(ValueError, TypeError):
        grant = (
            Grant.objects.select_related("dataset__publisher", "organisation", "request")
            .filter(pk=uuid.UUID(str(pk)))
            .first()
        )
    if grant is None or not allowed(user, "dataset.govern", grant.dataset):
        raise Http404("No such grant.")
    return grant


def access_log(user, dataset: Dataset, *, action: str = "") -> QuerySet:
    require(user, "access_log.view", dataset)
    qs = AccessLogEntry.objects.filter(dataset=dataset).select_related(
        "user", "organisation", "version"
    )
    if action:
        qs = qs.filter(action=action)
    return qs


def dataset_access_context(user, dataset: Dataset) -> dict:
    """What the dataset page shows about access, under one key ``access`` (merged into the page's
    context, rendered by data/_access.html): the rights, whether this person can read and request,
    their organisations' requests and live grants, and for stewards the waiting count."""
    signed_in = bool(getattr(user, "is_authenticated", False))
    orgs = organisation_ids(user)
    my_requests = (
        list(
            _requests()
            .filter(dataset=dataset)
            .filter(Q(requester=user) | Q(organisation_id__in=orgs))
            .order_by("-created_at")[:10]
        )
        if signed_in
        else []
    )
    my_grants = (
        list(dataset.grants.live().filter(organisation_id__in=orgs).select_related("organisation"))
        if signed_in
        else []
    )
    is_steward = allowed(user, "dataset.govern", dataset)
    pending = dataset.requests.filter(status=RequestStatus.PENDING).count() if is_steward else 0
    waiting = any(r.status == RequestStatus.PENDING for r in my_requests)
    return {
        "access": {
            "access_rights": dataset.access_rights,
            "access_rights_label": dataset.get_access_rights_display(),
            "can_read": allowed(user, "dataset.read", dataset),
            "can_request": allowed(user, "dataset.request_access", dataset)
            and not waiting
            and not my_grants,
            "signed_in": signed_in,
            "my_requests": my_requests,
            "my_grants": my_grants,
            "is_steward": is_steward,
            "pending_count": pending,
            "dataset": dataset,
        }
    }
