"""The portal pages of access modes, pools and calls."""

import pytest
from django.test import Client

from aifactory.access.demo import load_demo_access
from aifactory.access.models import AccessMode, Allocation, Call, CapacityPool, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    load_demo_access()


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_anyone_sees_which_mode_fits_and_the_open_calls(demo):
    page = client_for().get("/access/").content.decode()
    for name in ("Playground", "Fast Lane", "Large Scale", "AI for Science", "National access"):
        assert name in page
    assert "50,000" in page and "within 4 working days" in page
    assert "within 10 working days after the cut-off" in page
    assert "first come, first served" in page
    assert "in LU" in page  # the national mode's eligibility
    assert "Manage modes, pools and calls" not in page
    AccessMode.objects.filter(code="national").update(is_active=False)
    Call.objects.filter(mode__code="fast-lane").update(status="closed")
    page = client_for().get("/access/").content.decode()
    assert "National access" not in page and 'href="#mode-fast-lane"' not in page


def test_the_page_is_translated(demo):
    client = client_for()
    client.cookies["django_language"] = "de"
    page = client.get("/access/", headers={"Accept-Language": "de"}).content.decode()
    assert "Nationaler Zugang" in page


def test_an_operator_edits_a_mode_and_sees_field_errors(demo, make_user):
    client = client_for(make_user(staff_role="operator"))
    form = client.get("/access/modes/fast-lane/edit/")
    assert form.status_code == 200 and 'value="1, 2, 3"' in form.content.decode()
    data = {
        "pool": AccessMode.objects.get(code="fast-lane").pool.code,
        "name_en": "Fast Lane",
        "durations_months": "1, 2, 3, 40",
        "decision_days": "4",
        "clock_starts": "submission",
        "tranche_policy": "none",
        "limit_gpu_hours_min": "0",
        "limit_gpu_hours_max": "60000",
        "is_active": "on",
        "reviews": ["technical"],
    }
    response = client.post("/access/modes/fast-lane/edit/", data)
    assert response.status_code == 200
    assert "Give a non-empty list of whole months" in response.content.decode()
    data["durations_months"] = "1, 2, 3"
    response = client.post("/access/modes/fast-lane/edit/", data)
    assert response.status_code == 302
    mode = AccessMode.objects.get(code="fast-lane")
    assert mode.limits == {"gpu_hours": {"min": 0, "max": 60000}}
    assert mode.name == {"en": "Fast Lane"}


def test_an_operator_creates_opens_and_closes_a_call(demo, make_user):
    client = client_for(make_user(staff_role="operator"))
    response = client.post(
        "/access/calls/new/",
        {
            "code": "fast-spring",
            "mode": "fast-lane",
            "title_en": "Fast Lane spring",
            "opens_at": "2026-03-01T09:00",
            "cutoffs": "2026-04-01",
        },
    )
    assert "This call&#x27;s access mode has no cut-off dates." in response.content.decode()
    assert not Call.objects.filter(code="fast-spring").exists()
    response = client.post(
        "/access/calls/new/",
        {
            "code": "fast-spring",
            "mode": "fast-lane",
            "title_en": "Fast Lane spring",
            "opens_at": "2026-03-01T09:00",
        },
    )
    assert response.status_code == 302 and Call.objects.get(code="fast-spring").status == "draft"
    manage = client.get("/access/manage/").content.decode()
    assert "/access/calls/fast-spring/open/" in manage
    client.post("/access/calls/fast-spring/open/")
    assert Call.objects.get(code="fast-spring").status == "open"
    client.post("/access/calls/fast-spring/close/")
    assert Call.objects.get(code="fast-spring").status == "closed"
    response = client.post("/access/calls/fast-spring/close/", follow=True)
    assert "Only an open call can be closed" in response.content.decode()


def test_the_pool_page_shows_capacity_committed_and_left(demo, make_user, make_org):
    pool = CapacityPool.objects.get(code__startswith="eurohpc")
    project = Project.objects.create(code="p1", title="P1", organisation=make_org())
    Allocation.objects.create(
        project=project,
        pool=pool,
        resources={"gpu_hours": 40_000},
        start="2026-01-01",
        end="2026-03-31",
    )
    page = client_for(make_user(staff_role="advisor")).get(f"/access/pools/{pool.code}/")
    text = page.content.decode()
    assert "3,500,000" in text and "40,000" in text and "3,460,000" in text
    assert client_for(make_user()).get(f"/access/pools/{pool.code}/").status_code == 403


def test_an_operator_edits_a_pool(demo, make_user):
    client = client_for(make_user(staff_role="operator"))
    pool = CapacityPool.objects.get(code__startswith="national")
    response = client.post(
        f"/access/pools/{pool.code}/edit/",
        {
            "name": "National share",
            "share_percent": "40",
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
            "capacity_gpu_hours": "2800000",
        },
    )
    assert response.status_code == 302
    pool.refresh_from_db()
    assert pool.capacity == {"gpu_hours": 2_800_000} and str(pool.share_percent) == "40.00"
