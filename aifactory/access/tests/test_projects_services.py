"""Project services: creation, members, change requests, external allocations, audit and mail."""

import re
from datetime import date

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from aifactory.access.models import (
    Allocation,
    ChangeRequest,
    ChangeStatus,
    MemberRole,
    Project,
    ProjectMember,
)
from aifactory.access.services import projects as services
from aifactory.core.errors import InvalidTransition, ServiceError
from aifactory.core.models import AuditEvent

from .projects_helpers import *  # noqa: F403 - the fixtures
from .projects_helpers import external, open_project


def _create(team, **overrides):
    kwargs = {
        "actor": team["operator"],
        "organisation": team["org"],
        "title": "Climate LLM",
        "members": [(team["pi"], MemberRole.PI)],
        "allocation": {
            "resources": {"gpu_hours": 100},
            "start": date(2026, 1, 1),
            "end": date(2026, 3, 31),
            "tranche_policy": "none",
        },
    }
    kwargs.update(overrides)
    return services.project_create(**kwargs)


# --- creation ----------------------------------------------------------------------------------


def test_project_create_codes_slurm_account_audit_and_mail(
    team, pool, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project = open_project(team, pool=pool)
    assert re.fullmatch(r"climate-llm-fine-tuning-[0-9a-f]{4}", project.code)
    allocation = project.allocations.get()
    assert re.fullmatch(r"[a-z0-9_]{1,30}", allocation.slurm_account)
    assert allocation.slurm_account.endswith(project.code[-4:])
    assert allocation.pool == pool and allocation.cluster == "meluxina"
    assert dict(project.members.values_list("user__email", "role")) == {
        "pi@lab.example": "pi",
        "manager@lab.example": "manager",
        "member@lab.example": "member",
    }
    assert AuditEvent.objects.filter(action="project.create", object_id=str(project.pk)).exists()
    assert [m.to for m in mail.outbox] == [["pi@lab.example"]]
    assert allocation.slurm_account in mail.outbox[0].body


def test_long_and_non_latin_titles_give_valid_unique_accounts(team):
    title = "Über-große Sprachmodelle für die Luxemburger Finanzaufsicht und mehr " * 2
    accounts = {_create(team, title=title[:200]).allocations.get().slurm_account for _ in range(3)}
    assert len(accounts) == 3
    assert all(re.fullmatch(r"[a-z0-9_]{1,30}", a) for a in accounts)
    assert _create(team, title="日本語").code.startswith("project-")


def test_only_operators_create_projects(team):
    with pytest.raises(PermissionDenied):
        _create(team, actor=team["pi"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "  "}, "title"),
        ({"members": []}, "members"),
        ({"members": [("pi", "manager")]}, "members"),
        (
            {"allocation": {"resources": {}, "start": "2026-01-01", "end": "2026-02-01"}},
            "allocation.resources",
        ),
        (
            {
                "allocation": {
                    "resources": {"gpu_hours": -1},
                    "start": "2026-01-01",
                    "end": "2026-02-01",
                }
            },
            "allocation.resources.gpu_hours",
        ),
        (
            {"allocation": {"resources": {"tpu": 1}, "start": "2026-01-01", "end": "2026-02-01"}},
            "allocation.resources.tpu",
        ),
        (
            {
                "allocation": {
                    "resources": {"gpu_hours": 1},
                    "start": "2026-13-01",
                    "end": "2026-02-01",
                }
            },
            "allocation.start",
        ),
        (
            {
                "allocation": {
                    "resources": {"gpu_hours": 1},
                    "start": "2026-03-01",
                    "end": "2026-02-01",
                }
            },
            "allocation.end",
        ),
        (
            {
                "allocation": {
                    "resources": {"gpu_hours": 1},
                    "start": "2026-01-01",
                    "end": "2026-02-01",
                    "tranche_policy": "weekly",
                }
            },
            "allocation.tranche_policy",
        ),
        (
            {
                "allocation": {
                    "resources": {"gpu_hours": 1},
                    "start": "2026-01-01",
                    "end": "2026-02-01",
                    "pool": "nope",
                }
            },
            "allocation.pool",
        ),
    ],
)
def test_project_create_bad_input_names_the_field_and_writes_nothing(team, overrides, field):
    if overrides.get("members") == [("pi", "manager")]:
        overrides = {"members": [(team["pi"], MemberRole.MANAGER)]}
    with pytest.raises(ValidationError) as exc:
        _create(team, **overrides)
    assert field in exc.value.message_dict
    assert not Project.objects.exists() and not Allocation.objects.exists()


def test_two_pis_are_refused(team):
    with pytest.raises(ValidationError) as exc:
        _create(team, members=[(team["pi"], "pi"), (team["manager"], "pi")])
    assert "members" in exc.value.message_dict


# --- members -----------------------------------------------------------------------------------


def test_members_add_change_role_remove(team, project):
    member = services.project_member_add(
        actor=team["pi"], project=project, user=team["newcomer"], role="member"
    )
    services.project_member_set_role(actor=team["operator"], member=member, role="manager")
    assert ProjectMember.objects.get(pk=member.pk).role == "manager"
    services.project_member_remove(actor=team["pi"], member=member)
    assert not project.members.filter(user=team["newcomer"]).exists()
    actions = set(
        AuditEvent.objects.filter(object_id=str(project.pk)).values_list("action", flat=True)
    )
    assert {"project.member_add", "project.member_role", "project.member_remove"} <= actions


def test_the_pi_stays_and_the_role_is_handed_over(team, project):
    pi = project.members.get(user=team["pi"])
    with pytest.raises(ServiceError):
        services.project_member_remove(actor=team["operator"], member=pi)
    with pytest.raises(ServiceError):
        services.project_member_set_role(actor=team["operator"], member=pi, role="member")
    manager = project.members.get(user=team["manager"])
    services.project_member_set_role(actor=team["pi"], member=manager, role="pi")
    assert dict(project.members.values_list("user__email", "role"))["pi@lab.example"] == "manager"
    assert project.members.filter(role="pi").count() == 1
    with pytest.raises(ValidationError):
        services.project_member_add(
            actor=team["operator"], project=project, user=team["newcomer"], role="pi"
        )


def test_members_are_run_by_the_pi_and_operators_only(team, project):
    for who in ("manager", "member", "org_manager", "outsider"):
        with pytest.raises(PermissionDenied):
            services.project_member_add(
                actor=team[who], project=project, user=team["newcomer"], role="member"
            )
    services.project_member_add(
        actor=team["operator"], project=project, user=team["newcomer"], role="member"
    )
    with pytest.raises(ServiceError):
        services.project_member_add(
            actor=team["operator"], project=project, user=team["newcomer"], role="member"
        )


# --- change requests ---------------------------------------------------------------------------


def test_more_resources_approved_future_tranches_only(
    team, project, django_capture_on_commit_callbacks
):
    allocation = project.allocations.get()
    past = list(allocation.tranches.filter(index__lte=2).values_list("amounts", flat=True))
    change = services.change_request_create(
        actor=team["manager"],
        project=project,
        kind="resources",
        details={"resources": {"gpu_hours": 600}},
        reason="Bigger model",
    )
    assert change.status == ChangeStatus.REQUESTED and change.allocation == allocation
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_approve(
            actor=team["operator"], change_request=change, note="OK", today=date(2026, 4, 10)
        )
    allocation.refresh_from_db()
    assert allocation.resources["gpu_hours"] == 1800
    assert allocation.resources["storage_tb"] == 10
    assert list(allocation.tranches.filter(index__lte=2).values_list("amounts", flat=True)) == past
    assert sum(t.amounts["gpu_hours"] for t in allocation.tranches.all()) == 1800
    assert [m.to for m in mail.outbox] == [["pi@lab.example"]]
    assert AuditEvent.objects.filter(action="change_request.approve").exists()
    with pytest.raises(InvalidTransition):
        services.change_request_approve(actor=team["operator"], change_request=change)
    with pytest.raises(InvalidTransition):
        services.change_request_refuse(actor=team["operator"], change_request=change, reason="late")


def test_extension_moves_the_end(team, project):
    change = services.change_request_create(
        actor=team["pi"],
        project=project,
        kind="extension",
        details={"end": "2027-04-30"},
        reason="Delays",
    )
    services.change_request_approve(
        actor=team["operator"], change_request=change, today=date(2026, 12, 5)
    )
    allocation = project.allocations.get()
    assert allocation.end == date(2027, 4, 30)
    assert allocation.tranches.order_by("index").last().end == date(2027, 4, 30)
    assert sum(t.amounts["gpu_hours"] for t in allocation.tranches.all()) == 1200


def test_extension_must_move_the_end_later(team, project):
    with pytest.raises(ValidationError) as exc:
        services.change_request_create(
            actor=team["pi"],
            project=project,
            kind="extension",
            details={"end": "2026-06-30"},
            reason="x",
        )
    assert "details.end" in exc.value.message_dict


def test_new_members_are_added_on_approval(team, project):
    change = services.change_request_create(
        actor=team["pi"],
        project=project,
        kind="members",
        details={"members": [{"email": "NEWCOMER@lab.example", "role": "manager"}]},
        reason="Postdoc",
    )
    assert change.details == {"members": [{"email": "newcomer@lab.example", "role": "manager"}]}
    services.change_request_approve(actor=team["operator"], change_request=change)
    assert project.members.get(user=team["newcomer"]).role == "manager"


@pytest.mark.parametrize(
    ("kind", "details", "field"),
    [
        ("gift", {}, "kind"),
        ("resources", {"resources": {"gpu_hours": "many"}}, "details.resources.gpu_hours"),
        ("extension", {"end": "soon"}, "details.end"),
        ("members", {"members": ["nobody@nowhere.example"]}, "details.members[0].email"),
        ("members", {"members": [{"email": "member@lab.example"}]}, "details.members[0].email"),
        (
            "members",
            {"members": [{"email": "newcomer@lab.example", "role": "pi"}]},
            "details.members[0].role",
        ),
    ],
)
def test_change_request_bad_input(team, project, kind, details, field):
    with pytest.raises(ValidationError) as exc:
        services.change_request_create(
            actor=team["pi"], project=project, kind=kind, details=details, reason="r"
        )
    assert field in exc.value.message_dict
    assert not ChangeRequest.objects.exists()


def test_who_may_request_and_decide(team, project):
    for who in ("member", "org_manager", "outsider", "operator"):
        with pytest.raises(PermissionDenied):
            services.change_request_create(
                actor=team[who],
                project=project,
                kind="extension",
                details={"end": "2027-03-31"},
                reason="r",
            )
    change = services.change_request_create(
        actor=team["pi"],
        project=project,
        kind="extension",
        details={"end": "2027-03-31"},
        reason="r",
    )
    for who in ("pi", "manager"):
        with pytest.raises(PermissionDenied):
            services.change_request_approve(actor=team[who], change_request=change)


def test_refuse_needs_a_reason_and_mails_the_pi(team, project, django_capture_on_commit_callbacks):
    change = services.change_request_create(
        actor=team["manager"],
        project=project,
        kind="extension",
        details={"end": "2027-03-31"},
        reason="r",
    )
    with pytest.raises(ValidationError) as exc:
        services.change_request_refuse(actor=team["operator"], change_request=change, reason=" ")
    assert "reason" in exc.value.message_dict
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_refuse(
            actor=team["operator"], change_request=change, reason="No capacity left"
        )
    change.refresh_from_db()
    assert change.status == ChangeStatus.REFUSED and change.decision_note == "No capacity left"
    assert mail.outbox[0].to == ["pi@lab.example"] and "No capacity left" in mail.outbox[0].body
    assert project.allocations.get().end == date(2027, 1, 31)


# --- external allocations ----------------------------------------------------------------------


def test_import_creates_then_updates_by_source_and_external_id(
    team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project, created = services.external_allocation_import(
            actor=team["operator"], data=external()
        )
    assert created and project.external_source == "eurohpc" and project.organisation == team["org"]
    allocation = project.allocations.get()
    assert allocation.external_id == "EHPC-AI-2026-001" and allocation.tranches.count() == 1
    assert project.members.get(role="pi").user == team["pi"]
    assert mail.outbox[0].to == ["pi@lab.example"]
    again, created = services.external_allocation_import(
        actor=team["operator"],
        data=external(
            organisation=str(team["org"].pk),
            resources={"gpu_hours": 7000},
            end="2026-10-31",
            pi="manager@lab.example",
            tranche_policy="monthly_expire",
            members=[],
        ),
    )
    assert not created and again.pk == project.pk
    allocation = again.allocations.get()
    assert allocation.resources == {"gpu_hours": 7000} and allocation.end == date(2026, 10, 31)
    assert allocation.tranches.count() == 8
    assert dict(again.members.values_list("user__email", "role")) == {
        "pi@lab.example": "manager",
        "manager@lab.example": "pi",
        "member@lab.example": "member",
    }
    assert Project.objects.count() == 1
    assert AuditEvent.objects.filter(action="project.update_external").exists()


def test_import_reports_every_error_by_field_and_writes_nothing(team):
    bad = external(
        source="",
        organisation="LU00000000",
        pi="ghost@nowhere.example",
        members=[
            {"email": "ghost2@nowhere.example"},
            {"email": "member@lab.example", "role": "boss"},
        ],
        resources={"gpu_hours": -5},
        start="yesterday",
        end="2026-13-01",
        colour="blue",
    )
    with pytest.raises(ValidationError) as exc:
        services.external_allocation_import(actor=team["operator"], data=bad)
    errors = exc.value.message_dict
    assert {
        "source",
        "organisation",
        "pi",
        "members[0].email",
        "members[1].role",
        "resources.gpu_hours",
        "start",
        "end",
        "colour",
    } <= set(errors)
    assert not Project.objects.exists()
    with pytest.raises(ValidationError) as exc:
        services.external_allocation_import(
            actor=team["operator"], data=external(start="2026-09-01")
        )
    assert "end" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.external_allocation_import(actor=team["operator"], data=["not", "an", "object"])
    assert not Project.objects.exists()


def test_import_is_for_operators(team):
    with pytest.raises(PermissionDenied):
        services.external_allocation_import(actor=team["pi"], data=external())


# --- the capacity pool -------------------------------------------------------------------------


def _on_pool(team, pool, gpu_hours, title="Climate LLM"):
    return _create(
        team,
        title=title,
        allocation={
            "resources": {"gpu_hours": gpu_hours, "storage_tb": 50},
            "start": date(2026, 1, 1),
            "end": date(2026, 3, 31),
            "tranche_policy": "none",
            "pool": pool,
        },
    )


def test_a_project_on_a_pool_must_fit_what_is_left(team, pool):
    pool.capacity = {"gpu_hours": 1000}  # storage is not limited by this pool
    pool.save()
    _on_pool(team, pool, 600)
    with pytest.raises(ValidationError) as exc:
        _on_pool(team, pool, 500, title="Second")
    assert list(exc.value.message_dict) == ["allocation.resources.gpu_hours"]
    assert "400" in exc.value.message_dict["allocation.resources.gpu_hours"][0]
    assert Project.objects.count() == 1 and Allocation.objects.count() == 1
    _on_pool(team, pool, 400, title="Second")  # exactly what is left
    assert Allocation.objects.count() == 2


def _more(team, project, gpu_hours):
    return services.change_request_create(
        actor=team["pi"],
        project=project,
        kind="resources",
        details={"resources": {"gpu_hours": gpu_hours}},
        reason="Bigger model",
    )


def test_more_resources_must_fit_the_pool(team, pool):
    pool.capacity = {"gpu_hours": 1000}
    pool.save()
    project = _on_pool(team, pool, 900)
    change = _more(team, project, 200)
    with pytest.raises(ValidationError) as exc:
        services.change_request_approve(actor=team["operator"], change_request=change)
    assert list(exc.value.message_dict) == ["details.resources.gpu_hours"]
    change.refresh_from_db()
    allocation = project.allocations.get()
    assert change.status == ChangeStatus.REQUESTED and allocation.resources["gpu_hours"] == 900
    assert not AuditEvent.objects.filter(action="change_request.approve").exists()
    services.change_request_approve(
        actor=team["operator"], change_request=_more(team, project, 100)
    )
    allocation.refresh_from_db()
    assert allocation.resources["gpu_hours"] == 1000


@pytest.mark.django_db(transaction=True)
def test_two_approvals_cannot_both_take_the_last_hours(team, pool):
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    pool.capacity = {"gpu_hours": 1000}
    pool.save()
    changes = [_more(team, _on_pool(team, pool, 400, title=title), 150) for title in ("One", "Two")]
    results, barrier = [], threading.Barrier(2)

    def approve(change):
        try:
            barrier.wait()
            services.change_request_approve(actor=team["operator"], change_request=change)
            results.append("ok")
        except ValidationError as exc:
            results.append(list(exc.message_dict))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(c,)) for c in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [["details.resources.gpu_hours"], "ok"]
    total = sum(a.resources["gpu_hours"] for a in Allocation.objects.filter(pool=pool))
    assert total == 950
