"""Reads of readiness assessments, filtered by what the asking person may see.

Members see their organisations' assessments; advisors, operators and administrators see all.
An assessment the person may not see answers 404, so its id reveals nothing.
"""

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from aifactory.accounts.models import Organisation
from aifactory.core.permissions import allowed, require

from .models import Assessment, AssessmentStatus


def assessments_visible(
    user, *, organisation: Organisation | None = None, status: str = ""
) -> QuerySet[Assessment]:
    qs = Assessment.objects.select_related("organisation", "created_by").order_by("-created_at")
    if organisation is not None:
        require(user, "readiness.view", organisation)
        qs = qs.filter(organisation=organisation)
    elif not allowed(user, "readiness.list_all"):
        if not getattr(user, "is_authenticated", False):
            return qs.none()
        qs = qs.filter(organisation__memberships__user=user)
    if status:
        qs = qs.filter(status=status)
    return qs


def assessment_get(user, assessment_id) -> Assessment:
    try:
        assessment = Assessment.objects.select_related("organisation", "created_by").get(
            pk=assessment_id
        )
    except (Assessment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if not allowed(user, "readiness.view", assessment):
        raise Http404
    return assessment


def organisation_for_readiness(user, organisation_id) -> Organisation:
    """An organisation whose assessments the person may see (403 otherwise, as its profile)."""
    organisation = get_object_or_404(Organisation, pk=organisation_id)
    require(user, "readiness.view", organisation)
    return organisation


def latest_completed(user, organisation: Organisation, *, before=None) -> Assessment | None:
    """The organisation's most recent completed assessment (before another one, to compare)."""
    qs = assessments_visible(user, organisation=organisation, status=AssessmentStatus.COMPLETED)
    if before is not None:
        qs = qs.filter(completed_at__lt=before.completed_at)
    return qs.order_by("-completed_at").first()


def open_draft(user, organisation: Organisation) -> Assessment | None:
    qs = assessments_visible(user, organisation=organisation, status=AssessmentStatus.DRAFT)
    return qs.first()


def organisations_to_assess(user) -> QuerySet[Organisation]:
    """The organisations the person fills in assessments for: their own."""
    if not getattr(user, "is_authenticated", False):
        return Organisation.objects.none()
    return Organisation.objects.filter(memberships__user=user).order_by("legal_name")
