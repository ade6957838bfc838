"""Reads of projects, filtered by what the asking person may see (core.permissions, "project.*").

Members see their projects; managers and owners of an organisation see its projects; operators
and administrators see every project. A project someone may not see answers 404, so codes and
ids reveal nothing."""

import contextlib
import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from aifactory.accounts.models import Membership
from aifactory.core.permissions import allowed
from aifactory.core.roles import OrgRole

from .models import ChangeRequest, ChangeStatus, Project, ProjectMember


def projects_visible(user) -> QuerySet[Project]:
    qs = Project.objects.select_related("organisation")
    if allowed(user, "project.list_all"):
        return qs
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    managed = Membership.objects.filter(
        user=user, role__in=[OrgRole.OWNER, OrgRole.MANAGER]
    ).values("organisation_id")
    return qs.filter(Q(members__user=user) | Q(organisation_id__in=managed)).distinct()


def projects_mine(user) -> QuerySet[Project]:
    """The projects the person is a member of (the portal's "my projects")."""
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.select_related("organisation").filter(members__user=user)


def project_get(user, key) -> Project:
    """By id or code; 404 when missing or not visible."""
    key = str(key).strip()
    lookup = Q(code=key)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(key))
    project = projects_visible(user).filter(lookup).first()
    if project is None:
        raise Http404("project")
    return project


def project_member_get(project: Project, user_id) -> ProjectMember:
    member = project.members.select_related("user").filter(user_id=user_id).first()
    if member is None:
        raise Http404("member")
    return member


def change_request_get(user, project: Project, change_id) -> ChangeRequest:
    change = project.change_requests.filter(pk=change_id).first()
    if change is None:
        raise Http404("change request")
    return change


def change_requests_pending(user) -> QuerySet[ChangeRequest]:
    """What operators decide: the open change requests of every project, oldest first."""
    if not allowed(user, "project.decide_change"):
        return ChangeRequest.objects.none()
    return (
        ChangeRequest.objects.filter(status=ChangeStatus.REQUESTED)
        .select_related("project", "project__organisation", "requested_by", "allocation")
        .order_by("created_at")
    )
