"""Two owners acting at the same moment must never leave an organisation without an owner.

Each test holds both requests at the same point, after they have counted the owners and before
they write, by locking the audit table from a third connection; then it lets them go together.
Only PostgreSQL runs requests side by side; SQLite takes one writer at a time.
"""

import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, transaction

from aifactory.accounts import services
from aifactory.core.errors import InvalidTransition
from aifactory.core.models import AuditEvent
from aifactory.core.roles import OrgRole

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers, so the two requests cannot overlap",
    ),
]


def waiting_for_locks() -> int:
    with connection.cursor() as cursor:
        # Within a transaction the activity view is a snapshot unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def side_by_side(*calls):
    """Run the calls in threads, each on its own connection, while the audit table is locked;
    unlock once all of them are waiting. Returns each call's result or exception."""
    results: list = ["not finished"] * len(calls)

    def run(i, call):
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each call raised
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {AuditEvent._meta.db_table} IN EXCLUSIVE MODE")
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while waiting_for_locks() < len(calls) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting_for_locks() == len(calls), f"the calls never reached the lock: {results}"
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    return results


@pytest.fixture
def two_owners(make_user, make_org, add_member):
    first, second = make_user(), make_user()
    organisation = make_org(owner=first)
    add_member(organisation, second, OrgRole.OWNER)
    return organisation, first, second


def owners_left(organisation) -> int:
    return organisation.memberships.filter(role=OrgRole.OWNER).count()


def succeeded(results) -> int:
    """How many calls went through; the others must have been refused, not crashed."""
    refused = [r for r in results if isinstance(r, InvalidTransition | PermissionDenied)]
    done = [r for r in results if not isinstance(r, BaseException | str)]
    assert len(refused) + len(done) == len(results), results
    return len(done)


def test_two_owners_leaving_at_once(two_owners):
    organisation, first, second = two_owners
    results = side_by_side(
        lambda: services.membership_leave(actor=first, organisation=organisation),
        lambda: services.membership_leave(actor=second, organisation=organisation),
    )
    assert succeeded(results) == 1
    assert owners_left(organisation) == 1


def test_two_owners_stepping_down_at_once(two_owners):
    organisation, first, second = two_owners
    mine = organisation.memberships.get(user=first)
    theirs = organisation.memberships.get(user=second)
    results = side_by_side(
        lambda: services.membership_set_role(actor=first, membership=mine, role=OrgRole.MEMBER),
        lambda: services.membership_set_role(actor=second, membership=theirs, role=OrgRole.MEMBER),
    )
    assert succeeded(results) == 1
    assert owners_left(organisation) == 1


def test_two_owners_removing_each_other_at_once(two_owners):
    organisation, first, second = two_owners
    mine = organisation.memberships.get(user=first)
    theirs = organisation.memberships.get(user=second)
    results = side_by_side(
        lambda: services.membership_remove(actor=first, membership=theirs),
        lambda: services.membership_remove(actor=second, membership=mine),
    )
    assert succeeded(results) == 1
    assert owners_left(organisation) == 1
