"""Every permission rule of the hub, in one place.

Views, API handlers, selectors and the CLI ask ``allowed(user, action, obj)`` or ``require(...)``;
none of them decides on its own. Rules look at the person's staff role and their membership role in
the object's organisation (reached through related names, so core imports no domain app).
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied

from .roles import OrgRole, StaffRole

ALL_STAFF = frozenset(r for r in StaffRole if r)


def staff_role(user) -> str:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ""
    if user.is_superuser:
        return StaffRole.ADMINISTRATOR
    return user.staff_role or ""


def is_staff_in(user, *roles: str) -> bool:
    role = staff_role(user)
    return bool(role) and (role in roles or role == StaffRole.ADMINISTRATOR)


def org_role(user, organisation) -> str | None:
    """The person's membership role in the organisation, or None."""
    if not getattr(user, "is_authenticated", False) or organisation is None:
        return None
    return _roles(user).get(organisation.pk)


def _roles(user) -> dict:
    """{organisation id: role} of a signed-in person, cached on the user for the request."""
    cache = getattr(user, "_org_roles", None)
    if cache is None:
        cache = dict(user.memberships.values_list("organisation_id", "role"))
        user._org_roles = cache
    return cache


def organisation_ids(user) -> list:
    """The ids of the organisations the person is a member of (none when signed out), from the
    same per-request cache as the roles."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(_roles(user))


def forget_roles(user) -> None:
    """Drop the per-request role cache after a membership change."""
    if hasattr(user, "_org_roles"):
        del user._org_roles


def _authenticated(user, obj=None) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def _member(user, org) -> bool:
    return org_role(user, org) is not None


def _manager(user, org) -> bool:
    return org_role(user, org) in (OrgRole.OWNER, OrgRole.MANAGER)


def _owner(user, org) -> bool:
    return org_role(user, org) == OrgRole.OWNER


def _any_staff(user, obj=None) -> bool:
    return is_staff_in(user, *ALL_STAFF)


def _admin(user, obj=None) -> bool:
    return is_staff_in(user, StaffRole.ADMINISTRATOR)


def _operator(user, obj=None) -> bool:
    return is_staff_in(user, StaffRole.OPERATOR)


def _token_owner(user, token) -> bool:
    return _authenticated(user) and token is not None and token.user_id == user.pk


def _invited(user, invitation) -> bool:
    """A verified account with the address the invitation was sent to."""
    return (
        _authenticated(user)
        and invitation is not None
        and user.email_verified
        and invitation.email.lower() == user.email.lower()
    )


def _provider_org(offering):
    return getattr(offering, "provider_organisation", None)


def _published(user, offering) -> bool:
    return getattr(offering, "status", None) == "published"


def _provider_member(user, offering) -> bool:
    return _member(user, _provider_org(offering))


def _provider_manager(user, offering) -> bool:
    return _manager(user, _provider_org(offering))


def _case_member(user, case) -> bool:
    return _member(user, getattr(case, "organisation", None))


def _case_staff(user, obj=None) -> bool:
    """The factory's front desk: advisors, and operators and administrators standing in."""
    return is_staff_in(user, StaffRole.ADVISOR, StaffRole.OPERATOR)


def _application_editor(user, application) -> bool:
    """The creator, the principal investigator and managers named on the application, and the
    managers and owners of its organisation."""
    if not _authenticated(user) or application is None:
        return False
    if application.created_by_id == user.pk or _manager(user, application.organisation):
        return _member(user, application.organisation)
    return application.members.filter(user=user, role__in=("pi", "manager")).exists()


def _assigned_reviewer(user, application) -> bool:
    """A peer reviewer assigned to the application who has not declared a conflict, and whose
    review was not closed (the application was withdrawn, decided before they wrote it, or
    resubmitted after a revision)."""
    if not _authenticated(user) or application is None:
        return False
    return (
        application.reviews.filter(reviewer_id=user.pk, kind="peer")
        .exclude(status__in=("conflict", "closed"))
        .exists()
    )


def _project_role(user, project) -> str | None:
    """The person's role in the project (pi, manager, member), or None."""
    if project is None or not _authenticated(user):
        return None
    return project.members.filter(user_id=user.pk).values_list("role", flat=True).first()


def _publisher_member(user, dataset) -> bool:
    return _member(user, getattr(dataset, "publisher", None))


def _steward(user, dataset) -> bool:
    """The publisher's data stewards: its managers and owners."""
    return _manager(user, getattr(dataset, "publisher", None))


def _granted(user, dataset) -> bool:
    """A live grant to one of the person's organisations (restricted datasets). A list of many
    datasets prefetches their grants (the live ones of the person's organisations will do), so
    this asks the database nothing per dataset."""
    if dataset is None or not _authenticated(user):
        return False
    orgs = _roles(user)
    if "grants" in getattr(dataset, "_prefetched_objects_cache", {}):
        return any(g.is_live and g.organisation_id in orgs for g in dataset.grants.all())
    return dataset.grants.live().filter(organisation_id__in=list(orgs)).exists()


def _dataset_listed(user, dataset) -> bool:
    return dataset is not None and dataset.is_listed


def _dataset_readable(user, dataset) -> bool:
    if dataset is None or dataset.status != "published":
        return False
    rights = dataset.access_rights
    return (
        rights == "public"
        or (rights == "registered" and _authenticated(user))
        or (rights == "restricted" and _granted(user, dataset))
    )


def _either(*rules: Callable[..., bool]) -> Callable[..., bool]:
    return lambda user, obj=None: any(rule(user, obj) for rule in rules)


RULES: dict[str, Callable[..., bool]] = {
    # Organisations: members see their own; every staff role sees all (advisors need the profile).
    "organisation.create": _authenticated,
    "organisation.view": _either(_member, _any_staff),
    "organisation.update": _either(_manager, _admin),
    "organisation.list_all": _any_staff,
    # Memberships and invitations: managers and owners run their team; administrators can help.
    "membership.view": _either(_member, _any_staff),
    "membership.manage": _either(_manager, _admin),
    "membership.grant_owner": _either(_owner, _admin),
    "invitation.manage": _either(_manager, _admin),
    "invitation.accept": _invited,
    # API tokens are personal: not even an administrator may use or revoke someone else's.
    "token.manage": _token_owner,
    # The factory's own tools.
    "audit.view": _either(_operator, _admin),
    "staff.assign_role": _admin,
    "user.deactivate": _admin,
    # Catalogue: published offerings are public; the provider organisation's managers and owners
    # propose and edit their listings (the object of "offering.create" is that organisation);
    # operators edit any listing, moderate and import.
    "offering.view": _either(_published, _provider_member, _any_staff),
    "offering.list_all": _any_staff,
    "offering.create": _either(_manager, _operator),
    "offering.edit": _either(_provider_manager, _operator),
    "offering.moderate": _operator,
    "catalog.import": _operator,
    # Support cases (advisor app). Members of the case's organisation see it with its shared
    # entries, write messages and may withdraw or reopen it; advisors, operators and
    # administrators see every case with its internal notes and run it (triage, assignment,
    # notes, linked offerings, status). The object of "case.create" is the organisation.
    "case.create": _member,
    "case.view": _either(_case_member, _case_staff),
    "case.list_all": _case_staff,
    "case.view_internal": _case_staff,
    "case.message": _either(_case_member, _case_staff),
    "case.withdraw": _either(_case_member, _case_staff),
    "case.reopen": _either(_case_member, _case_staff),
    "case.manage": _case_staff,
    # Readiness assessments (advisor app).
    # The object is the organisation or one of its assessments. Its members (any role) start,
    # fill in and complete them; advisors, operators and administrators read every one, to
    # advise, but do not answer for the organisation.
    "readiness.fill": lambda user, obj=None: _member(user, getattr(obj, "organisation", obj)),
    "readiness.view": lambda user, obj=None: (
        _member(user, getattr(obj, "organisation", obj))
        or is_staff_in(user, StaffRole.ADVISOR, StaffRole.OPERATOR)
    ),
    "readiness.list_all": lambda user, obj=None: is_staff_in(
        user, StaffRole.ADVISOR, StaffRole.OPERATOR
    ),
    # Access modes, pools and calls (access app).
    # Active modes and their open or closed calls are public; operators see draft calls and
    # inactive modes, and alone edit modes, pools and calls. Pools (capacity) are for the staff.
    "access_mode.view": lambda user, obj=None: (
        getattr(obj, "is_active", False) or is_staff_in(user, StaffRole.OPERATOR)
    ),
    "access_mode.manage": _operator,
    "call.view": lambda user, obj=None: (
        (getattr(obj, "status", "draft") != "draft" and obj.mode.is_active)
        or is_staff_in(user, StaffRole.OPERATOR)
    ),
    "call.manage": _operator,
    "pool.view": _any_staff,
    "pool.manage": _operator,
    # Applications, reviews and decisions (access app).
    # Applications: members of the applicant organisation see its applications; the creator, the
    # principal investigator, the application's managers and the organisation's managers edit,
    # submit and withdraw them; operators and administrators see every one and run eligibility
    # and revision requests. Peer reviewers see the applications assigned to them (until they
    # declare a conflict of interest or their review is closed). The object of
    # "application.create" is the organisation.
    "application.create": _member,
    "application.view": _either(
        lambda user, app=None: _member(user, getattr(app, "organisation", None)),
        _application_editor,
        _assigned_reviewer,
        _operator,
    ),
    "application.list_all": _operator,
    "application.edit": _either(_application_editor, _admin),
    "application.manage": _operator,
    # Reviews and decisions: operators write the technical assessment, assign peer reviewers, rank
    # a cut-off's applications and decide. Only people with the reviewer role can be assigned, and
    # only the assigned reviewer declares conflicts and scores their review (object: the Review).
    "review.assess": _operator,
    "review.assign": _operator,
    "review.be_assigned": lambda user, obj=None: is_staff_in(user, StaffRole.REVIEWER),
    "review.list_mine": lambda user, obj=None: is_staff_in(user, StaffRole.REVIEWER),
    "review.write": lambda user, review=None: (
        _authenticated(user) and review is not None and review.reviewer_id == user.pk
    ),
    "application.rank": _operator,
    "application.decide": _operator,
    # Projects, allocations and change requests (access app).
    # Members of a project see it; its PI and managers ask for changes; the PI (and operators)
    # run its members; managers and owners of the project's organisation see its projects;
    # operators and administrators see every project, open them, decide and import external
    # allocations.
    "project.view": lambda user, obj=None: (
        _project_role(user, obj) is not None
        or _manager(user, getattr(obj, "organisation", None))
        or _operator(user)
    ),
    "project.list_all": _operator,
    "project.create": _operator,
    "project.request_change": lambda user, obj=None: _project_role(user, obj) in ("pi", "manager"),
    "project.manage_members": lambda user, obj=None: (
        _project_role(user, obj) == "pi" or _operator(user)
    ),
    "project.decide_change": _operator,
    "allocation.import": _operator,
    # Compute (compute app). Any signed-in person sees the clusters and their partitions (to pick
    # one); operators configure them and map people to cluster usernames. Members of a project with
    # a live allocation submit jobs to it (the object is the project; the allocation is checked by
    # the service); a project's members see its jobs, their logs and usage; the job's owner, the
    # project's PI and managers and operators cancel a job.
    "cluster.view": _authenticated,
    "cluster.manage": _operator,
    "job.submit": lambda user, project=None: _project_role(user, project) is not None,
    "job.view": lambda user, job=None: (
        (job is not None and _project_role(user, job.project) is not None) or _operator(user)
    ),
    "job.cancel": lambda user, job=None: (
        job is not None
        and (
            job.user_id == getattr(user, "pk", None)
            or _project_role(user, job.project) in ("pi", "manager")
            or _operator(user)
        )
        and _authenticated(user)
    ),
    "job.list_all": _operator,
    # Data (data app). A dataset's metadata is public once published, unless it is internal; its
    # publisher's members see and edit their drafts and add versions; the publisher's data stewards
    # (managers and owners) publish, set access rights, decide access requests, revoke grants and
    # read the access log. Reading the data (download, preview, query, jobs) follows the access
    # rights: public, registered (signed in), restricted (a live grant to one's organisation),
    # internal (the publisher's members). Operators see every dataset's metadata and run harvesting,
    # but read no restricted or internal data. The object of "dataset.create" is the organisation.
    "dataset.view": _either(_dataset_listed, _publisher_member, _operator),
    "dataset.list_all": _operator,
    "dataset.create": _member,
    "dataset.edit": _publisher_member,
    "dataset.govern": _steward,
    "dataset.read": _either(_dataset_readable, _publisher_member),
    "dataset.request_access": lambda user, dataset=None: (
        _authenticated(user)
        and dataset is not None
        and dataset.status == "published"
        and dataset.access_rights == "restricted"
        and not _publisher_member(user, dataset)
    ),
    "data_request.view": lambda user, req=None: (
        req is not None
        and _authenticated(user)
        and (
            req.requester_id == user.pk
            or _manager(user, req.organisation)
            or _steward(user, req.dataset)
        )
    ),
    "data_request.withdraw": lambda user, req=None: (
        req is not None and _authenticated(user) and req.requester_id == user.pk
    ),
    "data_request.decide": lambda user, req=None: req is not None and _steward(user, req.dataset),
    "access_log.view": _steward,
    "harvest.manage": _operator,
    # Django's admin site: read-only views for administrators; changes go through the services.
    "admin.view": _admin,
}


def allowed(user, action: str, obj: Any = None) -> bool:
    try:
        rule = RULES[action]
    except KeyError:
        raise LookupError(f"no permission rule named {action!r}") from None
    return bool(rule(user, obj))


def require(user, action: str, obj: Any = None) -> None:
    if not allowed(user, action, obj):
        raise PermissionDenied(action)


def require_actor(actor, action: str, obj: Any = None) -> None:
    """As ``require``, where ``actor=None`` is the system: a command run on the server, a demo
    loader. Web views and the API always pass the signed-in person, so they never get past this
    without the rule."""
    if actor is not None:
        require(actor, action, obj)
