"""The demo data: loaded through the services, idempotent, never in production by accident."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from aifactory.accounts import services
from aifactory.accounts.demo import ORGANISATIONS, PEOPLE
from aifactory.accounts.models import Membership, Organisation, User
from aifactory.core.models import AuditEvent
from aifactory.core.permissions import allowed
from aifactory.core.tests import processes

PRODUCTION = {
    "AIFACTORY_ENV": "production",
    "SECRET_KEY": "a-production-secret-key-of-more-than-32-characters",
    "ALLOWED_HOSTS": "hub.example.org",
}


def seed() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def counts() -> tuple[int, int, int]:
    return User.objects.count(), Organisation.objects.count(), Membership.objects.count()


def demo_org(legal_name: str) -> Organisation:
    return Organisation.objects.get(legal_name=legal_name)


@pytest.mark.django_db(transaction=True)
def test_seed_demo_refuses_production_unless_forced():
    refused = processes.run("seed-demo", **PRODUCTION)
    assert refused.returncode != 0
    assert "refusing to load the demo data in production" in refused.stderr
    assert "published" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not User.objects.exists()

    forced = processes.run("seed-demo", "--force", **PRODUCTION)
    assert forced.returncode == 0, forced.stderr
    assert User.objects.filter(email="admin@demo.aifactory.lu", is_demo=True).exists()


@pytest.mark.django_db
def test_seed_twice_then_rename_and_seed_again():
    out, err = seed()
    assert "13 people created, 6 organisations created, 3 memberships created" in out
    assert err == ""
    first = counts()
    assert first == (len(PEOPLE), len(ORGANISATIONS), sum(len(p[4]) for p in PEOPLE))
    assert all(o.is_demo for o in Organisation.objects.all())

    out, err = seed()
    assert "0 people created, 0 organisations created, 0 memberships created" in out
    assert (counts(), err) == (first, "")

    # Owners rename their organisations; the next run finds them by registration number.
    for data in ORGANISATIONS:
        organisation = demo_org(data["legal_name"])
        owner = Membership.objects.get(organisation=organisation, role="owner").user
        services.organisation_update(
            actor=owner,
            organisation=organisation,
            data={"legal_name": "Renamed " + data["legal_name"]},
        )
    out, err = seed()
    assert "0 organisations created" in out
    assert (counts(), err) == (first, "")


@pytest.mark.django_db
def test_an_older_demo_without_registration_number_is_found_by_name():
    founder = services.user_create(
        email="founder@orbital.demo", password=None, email_verified=True, is_demo=True
    )
    data = {**ORGANISATIONS[1], "registration_number": ""}
    services.organisation_create(actor=founder, data=data, is_demo=True)
    seed()
    assert Organisation.objects.filter(legal_name=data["legal_name"]).count() == 1
    assert Organisation.objects.count() == len(ORGANISATIONS)


@pytest.mark.django_db
def test_taken_records_are_warnings_and_real_ones_stay_untouched(make_user, make_org):
    """A real organisation with a demo registration number and a real person with a demo
    address: the demo skips them with a warning and loads the rest."""
    real_person = make_user("member@carpentry.demo")
    real_org = make_org(legal_name="Real Orbital S.A.", registration_number="B900002")

    out, err = seed()
    assert (
        "warning: demo person member@carpentry.demo: the address belongs to a real account" in err
    )
    assert "warning: demo organisation Demo Orbital Analytics S.A.: registration_number:" in err
    assert "12 people created, 5 organisations created" in out

    real_person.refresh_from_db()
    assert not real_person.is_demo and not real_person.memberships.exists()
    assert real_org.memberships.count() == 1  # only its real owner
    assert not User.objects.filter(
        email="engineer@orbital.demo", memberships__isnull=False
    ).exists()
    assert not Organisation.objects.filter(legal_name="Demo Orbital Analytics S.A.").exists()

    # And again: the same warnings, no crash, nothing new.
    before = counts()
    _out, again = seed()
    assert again.count("warning:") == err.count("warning:")
    assert counts() == before


@pytest.mark.django_db
def test_demo_memberships_are_added_by_the_owner_and_audited():
    seed()
    membership = Membership.objects.get(user__email="manager@carpentry.demo")
    event = AuditEvent.objects.get(action="membership.add", object_id=str(membership.pk))
    assert event.actor.email == "owner@carpentry.demo"
    assert event.changes == {"user": "manager@carpentry.demo", "role": "manager"}
    assert event.organisation_id == membership.organisation_id


def test_membership_add_rules(make_user, make_org, add_member):
    owner, manager, member, newcomer = (make_user() for _ in range(4))
    organisation = make_org(owner)
    add_member(organisation, manager, "manager")
    add_member(organisation, member, "member")

    with pytest.raises(PermissionDenied):
        services.membership_add(
            actor=member, organisation=organisation, user=newcomer, role="member"
        )
    with pytest.raises(PermissionDenied):
        services.membership_add(
            actor=manager, organisation=organisation, user=newcomer, role="owner"
        )
    with pytest.raises(ValidationError) as bad_role:
        services.membership_add(actor=owner, organisation=organisation, user=newcomer, role="boss")
    assert list(bad_role.value.message_dict) == ["role"]
    with pytest.raises(ValidationError) as existing:
        services.membership_add(actor=owner, organisation=organisation, user=member, role="manager")
    assert list(existing.value.message_dict) == ["user"]
    assert Membership.objects.get(organisation=organisation, user=member).role == "member"
    assert not Membership.objects.filter(user=newcomer).exists()

    assert not allowed(newcomer, "membership.view", organisation)
    added = services.membership_add(
        actor=manager, organisation=organisation, user=newcomer, role="manager"
    )
    assert (added.role, added.user) == ("manager", newcomer)
    assert AuditEvent.objects.get(action="membership.add").actor == manager
    # The new member's rights apply at once.
    assert allowed(newcomer, "membership.manage", organisation)
    admin = make_user(staff_role="administrator")
    other = make_user()
    services.membership_add(actor=admin, organisation=organisation, user=other, role="owner")
    assert Membership.objects.get(organisation=organisation, user=other).role == "owner"


def _row(html: str, text: str) -> str:
    return next(row for row in html.split("<tr") if text in row)


@pytest.mark.django_db
def test_demo_records_carry_a_badge(make_user, make_org):
    seed()
    make_org(legal_name="Real Bakery S.à r.l.")
    advisor = make_user(staff_role="advisor")
    client = Client()
    client.force_login(advisor)
    listing = client.get("/organisations/?all=1").content.decode()
    badge = '<span class="badge badge-muted">Demo</span>'
    assert badge in _row(listing, "Demo Fiduciaire Moselle")
    assert badge not in _row(listing, "Real Bakery S.à r.l.")

    carpentry = demo_org("Menuiserie Demo Schmit S.à r.l.")
    detail = client.get(f"/organisations/{carpentry.pk}/").content.decode()
    assert detail.count(badge) == 1 + 3  # the organisation and its three demo people

    client.cookies["django_language"] = "fr"
    # The middleware activates French for this thread; leave English for the tests after.
    with translation.override("en"):
        french = client.get("/organisations/?all=1")
    assert '<span class="badge badge-muted">Démo</span>' in french.content.decode()
