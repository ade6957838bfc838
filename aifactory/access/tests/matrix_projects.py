"""Authorization rules of the access app (projects), merged in matrix_rules.py.

A project of organisation A: its owner is the PI, its member a plain project member; the
organisation's manager is no project member but oversees it; operators and administrators see
and decide everything; the outsider, the advisor and the reviewer do not see it (404)."""

from datetime import date

from aifactory.access.models import ChangeRequest, MemberRole, Project, ProjectMember
from aifactory.access.services import projects as services
from aifactory.core.tests.matrix import ANON_401, API, LOGIN, ROLES, Rule, expect, only

VIEWERS = ["owner", "member", "manager", "operator", "administrator"]
DECIDERS = ["operator", "administrator"]
UNSEEN = {"outsider": 404, "advisor": 404, "reviewer": 404}
PAGE = "/projects/{w.project.code}/"
API_PROJECT = API + "/projects/{w.project.code}"


def setup(world):
    operator = world.users["operator"]
    world.project = services.project_create(
        actor=operator,
        organisation=world.org,
        title="Matrix project",
        members=[(world.users["owner"], MemberRole.PI), (world.users["member"], MemberRole.MEMBER)],
        allocation={
            "resources": {"gpu_hours": 1200},
            "start": date(2026, 1, 1),
            "end": date(2026, 12, 31),
            "tranche_policy": "monthly_carry",
        },
    )
    world.project_change = services.change_request_create(
        actor=world.users["owner"],
        project=world.project,
        kind="resources",
        details={"resources": {"gpu_hours": 100}},
        reason="matrix",
    )


def _change_status(w) -> str:
    return ChangeRequest.objects.get(pk=w.project_change.pk).status


def _requested(w, role):
    return ChangeRequest.objects.filter(reason=f"matrix {role}").exists()


def _approved(w, role):
    return _change_status(w) == "approved"


def _refused(w, role):
    return _change_status(w) == "refused"


def _host_added(w, role):
    return ProjectMember.objects.filter(project=w.project, user=w.host).exists()


def _member_promoted(w, role):
    return ProjectMember.objects.get(project=w.project, user=w.users["member"]).role == "manager"


def _member_gone(w, role):
    return not ProjectMember.objects.filter(project=w.project, user=w.users["member"]).exists()


def _imported(w, role):
    return Project.objects.filter(external_source="matrix").exists()


def _external(w, role):
    return {
        "source": "matrix",
        "external_id": "M-1",
        "organisation": str(w.org.pk),
        "title": "Matrix external",
        "pi": "owner@matrix.test",
        "resources": {"gpu_hours": 10},
        "start": "2026-01-01",
        "end": "2026-03-31",
    }


MANAGE = frozenset({"owner", *DECIDERS})
PAGE_FORBIDDEN = {"member": 403, "manager": 403}
SHOWS = {r: r in VIEWERS for r in ROLES if r != "anonymous"}

RULES: dict[str, Rule] = {
    # --- portal pages ------------------------------------------------------------------------
    "access:project_list": Rule("get", "/projects/", expect(200, LOGIN), shows_org=SHOWS),
    "access:project_detail": Rule("get", PAGE, expect(404, LOGIN, only(200, VIEWERS))),
    "access:change_request_queue": Rule(
        "get", "/access/change-requests/", expect(403, LOGIN, only(200, DECIDERS))
    ),
    "access:change_request_create": Rule(
        "post",
        PAGE + "change-requests/",
        expect(404, LOGIN, only(403, VIEWERS), {"owner": 302}),
        body=lambda w, role: {"kind": "extension", "end": "2027-03-31", "reason": f"matrix {role}"},
        effect=_requested,
        done_by=frozenset({"owner"}),
    ),
    "access:change_request_approve": Rule(
        "post",
        PAGE + "change-requests/{w.project_change.pk}/approve/",
        expect(404, LOGIN, only(403, VIEWERS), only(302, DECIDERS)),
        body={"note": "ok"},
        effect=_approved,
        done_by=frozenset(DECIDERS),
    ),
    "access:change_request_refuse": Rule(
        "post",
        PAGE + "change-requests/{w.project_change.pk}/refuse/",
        expect(404, LOGIN, only(403, VIEWERS), only(302, DECIDERS)),
        body={"note": "no"},
        effect=_refused,
        done_by=frozenset(DECIDERS),
    ),
    "access:project_member_add": Rule(
        "post",
        PAGE + "members/",
        expect(404, LOGIN, only(403, VIEWERS), only(302, MANAGE)),
        body={"email": "host@matrix.test", "role": "member"},
        effect=_host_added,
        done_by=MANAGE,
    ),
    "access:project_member_role": Rule(
        "post",
        PAGE + "members/{w.users[member].pk}/role/",
        expect(404, LOGIN, only(403, VIEWERS), only(302, MANAGE)),
        body={"role": "manager"},
        effect=_member_promoted,
        done_by=MANAGE,
    ),
    "access:project_member_remove": Rule(
        "post",
        PAGE + "members/{w.users[member].pk}/remove/",
        expect(404, LOGIN, only(403, VIEWERS), only(302, MANAGE)),
        effect=_member_gone,
        done_by=MANAGE,
    ),
    # --- API ---------------------------------------------------------------------------------
    "api:projects_list": Rule("get", API + "/projects", expect(200, ANON_401), shows_org=SHOWS),
    "api:projects_read": Rule("get", API_PROJECT, expect(404, ANON_401, only(200, VIEWERS))),
    "api:members_list": Rule(
        "get", API_PROJECT + "/members", expect(404, ANON_401, only(200, VIEWERS))
    ),
    "api:members_add": Rule(
        "post",
        API_PROJECT + "/members",
        expect(404, ANON_401, only(403, VIEWERS), only(201, MANAGE)),
        body={"email": "host@matrix.test", "role": "member"},
        effect=_host_added,
        done_by=MANAGE,
    ),
    "api:members_role": Rule(
        "patch",
        API_PROJECT + "/members/{w.users[member].pk}",
        expect(404, ANON_401, only(403, VIEWERS), only(200, MANAGE)),
        body={"role": "manager"},
        effect=_member_promoted,
        done_by=MANAGE,
    ),
    # The same URL as members_role (DELETE), so not a URL name of its own.
    "api:members_remove": Rule(
        "delete",
        API_PROJECT + "/members/{w.users[member].pk}",
        expect(404, ANON_401, only(403, VIEWERS), only(204, MANAGE)),
        effect=_member_gone,
        done_by=MANAGE,
    ),
    "api:change_requests_list": Rule(
        "get", API_PROJECT + "/change-requests", expect(404, ANON_401, only(200, VIEWERS))
    ),
    "api:change_requests_create": Rule(
        "post",
        API_PROJECT + "/change-requests",
        expect(404, ANON_401, only(403, VIEWERS), {"owner": 201}),
        body=lambda w, role: {
            "kind": "extension",
            "details": {"end": "2027-03-31"},
            "reason": f"matrix {role}",
        },
        effect=_requested,
        done_by=frozenset({"owner"}),
    ),
    "api:change_requests_approve": Rule(
        "post",
        API_PROJECT + "/change-requests/{w.project_change.pk}/approve",
        expect(404, ANON_401, only(403, VIEWERS), only(200, DECIDERS)),
        body={"note": "ok"},
        effect=_approved,
        done_by=frozenset(DECIDERS),
    ),
    "api:change_requests_refuse": Rule(
        "post",
        API_PROJECT + "/change-requests/{w.project_change.pk}/refuse",
        expect(404, ANON_401, only(403, VIEWERS), only(200, DECIDERS)),
        body={"reason": "no"},
        effect=_refused,
        done_by=frozenset(DECIDERS),
    ),
    "api:change_requests_pending": Rule(
        "get", API + "/projects/change-requests", expect(403, ANON_401, only(200, DECIDERS))
    ),
    "api:projects_import": Rule(
        "post",
        API + "/projects/import-external",
        expect(403, ANON_401, only(201, DECIDERS)),
        body=_external,
        effect=_imported,
        done_by=frozenset(DECIDERS),
    ),
}
