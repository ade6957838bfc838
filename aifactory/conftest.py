"""Shared fixtures: people, organisations and API clients, made through the services."""

import itertools
import os

import pytest
from django.test import Client

from aifactory.accounts import services
from aifactory.accounts.models import Membership
from aifactory.core.roles import OrgRole

pytest_plugins = ["aifactory.browser"]

PASSWORD = "correct-Horse-battery-9"

# Tests that never touch the database give the same answer on SQLite and PostgreSQL: scripts/test.sh
# sets this for its second pass (after the SQLite one), which then skips them and says so.
DATABASE_FREE_ONCE = os.environ.get("AIFACTORY_TEST_DATABASE_FREE_ONCE") == "1"
DB_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}


def pytest_collection_modifyitems(config, items):
    if not DATABASE_FREE_ONCE:
        return
    skip = pytest.mark.skip(
        reason="uses no database: run once, in the SQLite pass (AIFACTORY_TEST_DATABASE_FREE_ONCE)"
    )
    for item in items:
        if item.get_closest_marker("django_db") is None and not (
            DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(skip)


_counter = itertools.count(1)


@pytest.fixture
def make_user(db):
    def make(
        email: str | None = None,
        *,
        staff_role: str = "",
        verified: bool = True,
        terms: bool = True,
        password: str = PASSWORD,
    ):
        email = email or f"person{next(_counter)}@example.org"
        user = services.user_create(
            email=email, password=password, staff_role=staff_role, email_verified=verified
        )
        if terms:
            services.terms_accept(user=user)
        return user

    return make


@pytest.fixture
def make_org(db, make_user):
    def make(owner=None, **data):
        owner = owner or make_user()
        n = next(_counter)
        values = {
            "legal_name": f"Example {n} S.à r.l.",
            "country": "LU",
            "kind": "sme",
            "sectors": ["crafts"],
            "staff_headcount": 5,
            "annual_turnover_eur": 500_000,
        }
        values.update(data)
        return services.organisation_create(actor=owner, data=values)

    return make


@pytest.fixture
def add_member(db):
    def add(organisation, user, role=OrgRole.MEMBER):
        return Membership.objects.create(organisation=organisation, user=user, role=role)

    return add


class ApiClient:
    """Django's test client speaking JSON with a bearer token, as an API user would."""

    def __init__(self, user=None):
        self.client = Client()
        self.headers = {}
        if user is not None:
            _token, secret = services.token_create(user=user, name="tests")
            self.headers["Authorization"] = f"Bearer {secret}"

    def _call(self, method, path, json=None):
        kwargs = {"headers": self.headers}
        if json is not None:
            kwargs.update(data=json, content_type="application/json")
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)

    def get(self, path):
        return self._call("get", path)

    def post(self, path, json=None):
        return self._call("post", path, json if json is not None else {})

    def patch(self, path, json=None):
        return self._call("patch", path, json if json is not None else {})

    def delete(self, path):
        return self._call("delete", path)


@pytest.fixture
def api(db):
    return ApiClient


@pytest.fixture(autouse=True)
def _fresh_search_index():
    """Each test has its own database, so no test may see the index another one built."""
    from aifactory.catalog.index import reset_index

    reset_index()
    yield
    reset_index()


@pytest.fixture
def demo_catalogue(db):
    """The demo catalogue imported and embedded through the services, as `seed-demo` does."""
    import json

    from aifactory.catalog import services as catalog_services
    from aifactory.catalog.demo_catalogue import DEMO_FILE

    records = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    catalog_services.catalog_import(actor=None, records=records, is_demo=True)
    catalog_services.catalog_index_pending()
    return {r["id"]: r for r in records}


@pytest.fixture(autouse=True)
def _default_language():
    """A page request activates the visitor's language in this thread; the next test must not
    inherit it."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
