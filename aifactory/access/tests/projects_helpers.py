"""Fixtures of the projects tests: an operator, an organisation with a PI, a manager and a
member, and a project opened through the service."""

from datetime import date

import pytest

from aifactory.access.models import CapacityPool, MemberRole
from aifactory.access.services import projects as services

__all__ = ["pool", "project", "team"]  # the fixtures; tests import open_project by name


@pytest.fixture
def pool(db):
    return CapacityPool.objects.create(
        code="national",
        name="National share",
        share_percent=50,
        capacity={"gpu_hours": 1_000_000},
        period_start=date(2026, 1, 1),
        period_end=date(2027, 12, 31),
    )


@pytest.fixture
def team(make_user, make_org, add_member):
    """People around one project: the PI owns the organisation; the outsider is elsewhere."""
    pi = make_user("pi@lab.example")
    org = make_org(owner=pi, legal_name="Lab S.A.", vat_number="LU15027442")
    manager = make_user("manager@lab.example")
    member = make_user("member@lab.example")
    org_manager = make_user("orgmanager@lab.example")
    for person in (manager, member):
        add_member(org, person)
    add_member(org, org_manager, role="manager")
    return {
        "org": org,
        "pi": pi,
        "manager": manager,
        "member": member,
        "org_manager": org_manager,
        "operator": make_user("operator@factory.example", staff_role="operator"),
        "outsider": make_user("outsider@elsewhere.example"),
        "newcomer": make_user("newcomer@lab.example"),
    }


def open_project(team, *, policy="monthly_carry", resources=None, start=None, end=None, pool=None):
    return services.project_create(
        actor=team["operator"],
        organisation=team["org"],
        title="Climate LLM fine-tuning",
        members=[
            (team["pi"], MemberRole.PI),
            (team["manager"], MemberRole.MANAGER),
            (team["member"], MemberRole.MEMBER),
        ],
        allocation={
            "resources": resources or {"gpu_hours": 1200, "storage_tb": 10},
            "start": start or date(2026, 2, 1),
            "end": end or date(2027, 1, 31),
            "pool": pool,
            "tranche_policy": policy,
            "cluster": "meluxina",
            "partition": "gpu",
        },
    )


@pytest.fixture
def project(team):
    return open_project(team)


def external(**overrides):
    data = {
        "source": "eurohpc",
        "external_id": "EHPC-AI-2026-001",
        "organisation": "LU15027442",
        "title": "Federated vision models",
        "pi": "pi@lab.example",
        "members": [{"email": "member@lab.example", "role": "member"}, "manager@lab.example"],
        "resources": {"gpu_hours": 5000},
        "start": "2026-03-01",
        "end": "2026-08-31",
        "cluster": "meluxina",
        "partition": "gpu",
    }
    data.update(overrides)
    return data
