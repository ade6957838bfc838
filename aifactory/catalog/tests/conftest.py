import pytest

from aifactory.catalog import services


def record(**changes):
    """A good import record; keys set to None are left out."""
    base = {
        "id": "sol-bakery-forecast",
        "type": "solution",
        "title": {"en": "Demand forecasting for bakeries"},
        "description": {"en": "Predicts tomorrow's sales per product from the till data."},
        "sectors": ["crafts", "retail"],
        "tags": ["forecasting", "food waste"],
        "languages": ["en", "fr"],
        "stage": ["build"],
        "provider": "Backstuff S.à r.l.",
        "url": "https://backstuff.example.lu",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def draft_data(org, **changes):
    data = {
        "type": "solution",
        "title": {"de": "Angebotsassistent für Schreinereien"},
        "description": {"de": "Erstellt Angebote aus Aufmaß und Materialliste."},
        "stages": ["build"],
        "sectors": ["crafts"],
        "provider_organisation_id": org.pk,
    }
    data.update(changes)
    return data


@pytest.fixture
def operator(make_user):
    return make_user(staff_role="operator")


@pytest.fixture
def provider(make_user, make_org, add_member):
    """A provider organisation with its owner, a manager and a plain member."""
    owner = make_user()
    org = make_org(owner=owner, legal_name="Holzwierk S.à r.l.")
    manager, member = make_user(), make_user()
    add_member(org, manager, "manager")
    add_member(org, member, "member")
    return {"org": org, "owner": owner, "manager": manager, "member": member}


@pytest.fixture
def draft(provider):
    return services.offering_create(actor=provider["manager"], data=draft_data(provider["org"]))
