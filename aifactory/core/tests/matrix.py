"""The building blocks of the authorization matrix (core/tests/test_authorization.py).

Each app adds its own rules in ``<app>/tests/matrix_rules.py``: a ``RULES`` dict and, when its
rules need records, a ``setup(world)`` that creates them through the services.
"""

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps

from aifactory.accounts import services
from aifactory.accounts.models import Membership
from aifactory.core.roles import OrgRole

ROLES = [
    "anonymous",
    "outsider",
    "member",
    "manager",
    "owner",
    "advisor",
    "reviewer",
    "operator",
    "administrator",
]
STAFF = ["advisor", "reviewer", "operator", "administrator"]
SIGNED_IN = [r for r in ROLES if r != "anonymous"]


def _rule_modules():
    for config in apps.get_app_configs():
        name = f"{config.name}.tests.matrix_rules"
        if config.name.startswith("aifactory.") and importlib.util.find_spec(name):
            yield importlib.import_module(name)


class _Setups:
    """The apps' setup functions, found on first use (the app registry must be ready)."""

    def __iter__(self):
        return iter([m.setup for m in _rule_modules() if hasattr(m, "setup")])


_SETUPS = _Setups()


def app_rules() -> dict:
    rules: dict = {}
    for module in _rule_modules():
        clash = rules.keys() & module.RULES.keys()
        assert not clash, f"{module.__name__} repeats rules: {clash}"
        rules.update(module.RULES)
    return rules


class World:
    """Organisation A (owner, manager, member), organisation B (the outsider's), and the staff."""

    def __init__(self):
        def person(name, staff_role=""):
            user = services.user_create(
                email=f"{name}@matrix.test",
                password="matrix-Pass-123",
                staff_role=staff_role,
                email_verified=True,
            )
            services.terms_accept(user=user)
            return user

        self.users = {role: person(role, role if role in STAFF else "") for role in SIGNED_IN}
        self.users["anonymous"] = None
        self.host = person("host")
        self.org = services.organisation_create(
            actor=self.users["owner"],
            data={"legal_name": "Matrix A", "country": "LU", "kind": "sme"},
        )
        Membership.objects.create(
            organisation=self.org, user=self.users["manager"], role=OrgRole.MANAGER
        )
        Membership.objects.create(
            organisation=self.org, user=self.users["member"], role=OrgRole.MEMBER
        )
        self.other_org = services.organisation_create(
            actor=self.users["outsider"],
            data={"legal_name": "Matrix B", "country": "LU", "kind": "startup"},
        )
        self.host_org = services.organisation_create(
            actor=self.host, data={"legal_name": "Matrix Host", "country": "LU", "kind": "public"}
        )
        self.member_membership = Membership.objects.get(
            organisation=self.org, user=self.users["member"]
        )
        self.invitation, self.invitation_token = services.invitation_create(
            actor=self.users["owner"], organisation=self.org, email="invitee@matrix.test"
        )
        self.owner_token, _ = services.token_create(user=self.users["owner"], name="owner's")
        for setup in _SETUPS:
            setup(self)

    def invitation_id_for(self, role):
        email = self.users[role].email if self.users[role] else "nobody@matrix.test"
        invitation, _token = services.invitation_create(
            actor=self.host, organisation=self.host_org, email=email
        )
        return invitation.pk

    def invitation_for(self, role):
        """A fresh invitation addressed to this role's person, in an organisation they are not in."""
        email = self.users[role].email if self.users[role] else "nobody@matrix.test"
        _inv, token = services.invitation_create(
            actor=self.host, organisation=self.host_org, email=email
        )
        return token


@dataclass
class Rule:
    method: str
    path: str  # formatted with the World, e.g. "/api/v1/organisations/{w.org.pk}"
    expect: dict[str, int]
    body: Any = None  # dict, or a callable (world, role) -> dict
    shows_org: dict[str, bool] = field(
        default_factory=dict
    )  # list endpoints: is organisation A listed?
    # Actions that change state: the change must happen for exactly these roles and no other.
    effect: Callable[[World, str], bool] | None = None
    done_by: frozenset[str] = frozenset()


def by_role(default: int, **overrides: int) -> dict[str, int]:
    return {role: overrides.get(role, default) for role in ROLES}


def expect(default: int, *answers: dict[str, int]) -> dict[str, int]:
    """``default`` for every role, then the answers in turn (a later one wins)."""
    merged: dict[str, int] = {}
    for answer in answers:
        merged.update(answer)
    return by_role(default, **merged)


def api_expect(default: int, *answers: dict[str, int]) -> dict[str, int]:
    """As ``expect``, anonymous callers of the API getting 401 unless an answer says otherwise."""
    return expect(default, {"anonymous": 401}, *answers)


def only(code: int, roles) -> dict[str, int]:
    return {r: code for r in roles}


API = "/api/v1"
ORG = API + "/organisations/{w.org.pk}"
ANON_401 = {"anonymous": 401}
VIEWERS = {r: 200 for r in ["member", "manager", "owner", *STAFF]}
MANAGERS = {"manager": 200, "owner": 200, "administrator": 200}
LOGIN = {"anonymous": 302}  # pages send anonymous visitors to the sign-in page


MANAGING = frozenset({"manager", "owner", "administrator"})
EVERYONE = frozenset(SIGNED_IN)
