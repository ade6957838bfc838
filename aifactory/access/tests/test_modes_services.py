"""Access modes, pools and calls through the services: validation, the call state machine,
eligibility, request checks, pool usage, permissions and the audit trail."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aifactory.access.models import Allocation, AllocationStatus, CallStatus, Project
from aifactory.access.services import modes as services
from aifactory.core.errors import InvalidTransition
from aifactory.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def pool_data(**changes):
    data = {
        "code": "eurohpc-test",
        "name": "EuroHPC share",
        "share_percent": 50,
        "capacity": {"gpu_hours": 100_000, "storage_tb": 10.5},
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
    }
    data.update(changes)
    return data


def mode_data(**changes):
    data = {
        "code": "fast-lane",
        "name": {"en": "Fast Lane"},
        "pool": "eurohpc-test",
        "limits": {"gpu_hours": {"min": 0, "max": 50_000}},
        "durations_months": [1, 2, 3],
        "reviews": ["technical"],
        "decision_days": 4,
    }
    data.update(changes)
    return data


@pytest.fixture
def operator(make_user):
    return make_user(staff_role="operator")


@pytest.fixture
def pool(operator):
    return services.pool_create(actor=operator, data=pool_data())


@pytest.fixture
def mode(operator, pool):
    return services.mode_create(actor=operator, data=mode_data())


def call_data(**changes):
    data = {"code": "fast-2026", "mode": "fast-lane", "title": "Fast Lane 2026"}
    data["opens_at"] = "2026-01-05T09:00"
    data.update(changes)
    return data


@pytest.fixture
def call(operator, mode):
    return services.call_create(actor=operator, data=call_data())


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def test_an_operator_creates_a_pool_mode_and_call_each_audited(operator, call):
    assert call.status == CallStatus.DRAFT and call.mode.pool.code == "eurohpc-test"
    assert call.title == {"en": "Fast Lane 2026"}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"pool.create", "access_mode.create", "call.create"} <= actions


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"limits": {"gpu_hours": {"min": 10, "max": 5}}}, "limits"),
        ({"limits": {"bananas": {"max": 5}}}, "limits"),
        ({"limits": {"gpu_hours": {"max": -1}}}, "limits"),
        ({"durations_months": []}, "durations_months"),
        ({"durations_months": [0, 3]}, "durations_months"),
        ({"durations_months": [37]}, "durations_months"),
        ({"reviews": ["astrology"]}, "reviews"),
        ({"decision_days": 0}, "decision_days"),
        ({"for_kinds": ["guild"]}, "for_kinds"),
        ({"for_sizes": ["huge"]}, "for_sizes"),
        ({"eligible_countries": ["XX"]}, "eligible_countries"),
        ({"pool": "nowhere"}, "pool"),
        ({"code": "Not A Slug"}, "code"),
        ({"colour": "blue"}, "colour"),
        ({"clock_starts": "cutoff"}, "clock_starts"),
    ],
)
def test_mode_validation_names_the_field_and_writes_nothing(operator, pool, changes, field):
    from aifactory.access.models import AccessMode

    with pytest.raises(ValidationError) as excinfo:
        services.mode_create(actor=operator, data=mode_data(**changes))
    assert field in errors_of(excinfo)
    assert not AccessMode.objects.exists()


def test_a_missing_required_field_is_named(operator, pool):
    data = mode_data()
    del data["decision_days"]
    with pytest.raises(ValidationError) as excinfo:
        services.mode_create(actor=operator, data=data)
    assert errors_of(excinfo) == {"decision_days": ["This field is required."]}


def test_pool_validation(operator):
    with pytest.raises(ValidationError) as excinfo:
        services.pool_create(
            actor=operator,
            data=pool_data(share_percent=120, capacity={"gpu_hours": "lots"}, period_end="soon"),
        )
    assert set(errors_of(excinfo)) == {"share_percent", "capacity", "period_end"}
    with pytest.raises(ValidationError) as excinfo:
        services.pool_create(actor=operator, data=pool_data(period_end="2025-12-31"))
    assert set(errors_of(excinfo)) == {"period_end"}


def test_a_taken_code_is_a_field_error(operator, pool):
    with pytest.raises(ValidationError) as excinfo:
        services.pool_create(actor=operator, data=pool_data())
    assert "code" in errors_of(excinfo)


def test_update_changes_only_the_given_fields_and_audits_the_change(operator, mode):
    services.mode_update(actor=operator, mode=mode, data={"decision_days": 5})
    mode.refresh_from_db()
    assert mode.decision_days == 5 and mode.durations_months == [1, 2, 3]
    event = AuditEvent.objects.get(action="access_mode.update")
    assert event.changes == {"decision_days": [4, 5]}
    with pytest.raises(ValidationError) as excinfo:
        services.mode_update(actor=operator, mode=mode, data={"durations_months": [1, 40]})
    assert "durations_months" in errors_of(excinfo)


def test_call_state_machine(operator, call):
    with pytest.raises(InvalidTransition):
        services.call_close(actor=operator, call=call)  # draft cannot be closed
    call = services.call_open(actor=operator, call=call)
    assert call.status == CallStatus.OPEN
    with pytest.raises(InvalidTransition) as excinfo:
        services.call_open(actor=operator, call=call)
    assert excinfo.value.status == 409
    call = services.call_close(actor=operator, call=call)
    assert call.status == CallStatus.CLOSED
    for transition in (services.call_open, services.call_close):
        with pytest.raises(InvalidTransition):
            transition(actor=operator, call=call)
    with pytest.raises(InvalidTransition):
        services.call_update(actor=operator, call=call, data={"title": "Renamed"})
    assert [e.action for e in AuditEvent.objects.filter(action__in=["call.open", "call.close"])]


def test_cutoffs_only_for_modes_with_cutoffs(operator, mode, call):
    with pytest.raises(ValidationError) as excinfo:
        services.call_update(actor=operator, call=call, data={"cutoffs": ["2026-03-01"]})
    assert "cutoffs" in errors_of(excinfo)
    services.mode_update(actor=operator, mode=mode, data={"has_cutoffs": True})
    call = services.call_update(
        actor=operator, call=call, data={"cutoffs": ["2026-06-01", "2026-03-01", "2026-03-01"]}
    )
    assert call.cutoffs == ["2026-03-01", "2026-06-01"]
    with pytest.raises(ValidationError) as excinfo:
        services.call_update(actor=operator, call=call, data={"cutoffs": ["1 March"]})
    assert "cutoffs" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.mode_update(actor=operator, mode=mode, data={"has_cutoffs": False})
    assert "has_cutoffs" in errors_of(excinfo)


def test_a_call_closes_after_it_opens(operator, mode):
    with pytest.raises(ValidationError) as excinfo:
        services.call_create(actor=operator, data=call_data(closes_at="2025-12-31T17:00"))
    assert "closes_at" in errors_of(excinfo)


def test_only_operators_edit(make_user, pool, mode, call):
    for role in ("", "advisor", "reviewer"):
        person = make_user(staff_role=role)
        with pytest.raises(PermissionDenied):
            services.mode_update(actor=person, mode=mode, data={"decision_days": 9})
        with pytest.raises(PermissionDenied):
            services.pool_create(actor=person, data=pool_data(code="other"))
        with pytest.raises(PermissionDenied):
            services.call_open(actor=person, call=call)
    administrator = make_user(staff_role="administrator")
    services.call_open(actor=administrator, call=call)


def test_eligibility_names_each_failed_rule(operator, mode, make_org):
    services.mode_update(
        actor=operator,
        mode=mode,
        data={"for_kinds": ["research"], "for_sizes": ["micro"], "eligible_countries": ["LU"]},
    )
    mode.refresh_from_db()
    lab = make_org(kind="research", staff_headcount=3, annual_turnover_eur=100_000)
    assert services.mode_eligibility(mode, lab) == (True, [])
    company = make_org(kind="large", country="DE", staff_headcount=900)
    ok, reasons = services.mode_eligibility(mode, company)
    assert not ok and len(reasons) == 3
    assert reasons[0].startswith("Kind of organisation") and "Research organisation" in reasons[0]
    assert reasons[1].startswith("Size class") and "micro" in reasons[1]
    assert reasons[2].startswith("Country") and "DE" in reasons[2]
    services.mode_update(actor=operator, mode=mode, data={"is_active": False})
    mode.refresh_from_db()
    ok, reasons = services.mode_eligibility(mode, lab)
    assert not ok and reasons == ["This access mode takes no applications at present."]


def test_request_problems(operator, mode):
    services.mode_update(
        actor=operator,
        mode=mode,
        data={"limits": {"gpu_hours": {"min": 100, "max": 50_000}, "storage_tb": {"max": 2}}},
    )
    mode.refresh_from_db()
    assert services.request_problems(mode, {"gpu_hours": 50_000, "storage_tb": 1.5}, 3) == {}
    problems = services.request_problems(
        mode, {"gpu_hours": 60_000, "cpu_core_hours": 10, "fish": 1}, 6
    )
    assert problems["gpu_hours"] == ["At most 50,000 in this access mode."]
    assert problems["cpu_core_hours"] == ["This access mode does not grant this resource."]
    assert problems["fish"] == ["Unknown resource."]
    assert "1, 2, 3" in problems["duration_months"][0]
    assert services.request_problems(mode, {}, None) == {
        "gpu_hours": ["At least 100 in this access mode."],
        "duration_months": ["Choose a duration."],
    }
    assert "gpu_hours" in services.request_problems(mode, {"gpu_hours": "many"}, 1)
    assert "gpu_hours" in services.request_problems(mode, {"gpu_hours": -5}, 1)


def test_pool_usage_counts_active_allocations_only(pool, make_org):
    organisation = make_org()
    project = Project.objects.create(code="p1", title="P1", organisation=organisation)

    def allocate(resources, status=AllocationStatus.ACTIVE, on=pool):
        Allocation.objects.create(
            project=project,
            pool=on,
            resources=resources,
            start=date(2026, 1, 1),
            end=date(2026, 6, 30),
            status=status,
        )

    assert services.pool_usage(pool) == {
        "gpu_hours": {"capacity": 100_000, "committed": 0, "left": 100_000},
        "storage_tb": {"capacity": 10.5, "committed": 0, "left": 10.5},
    }
    allocate({"gpu_hours": 30_000, "storage_tb": 2})
    allocate({"gpu_hours": 12_500, "cpu_core_hours": 1_000})
    allocate({"gpu_hours": 99_999}, status=AllocationStatus.ENDED)
    allocate({"gpu_hours": 99_999}, on=None)
    assert services.pool_usage(pool) == {
        "gpu_hours": {"capacity": 100_000, "committed": 42_500, "left": 57_500},
        "cpu_core_hours": {"capacity": 0, "committed": 1_000, "left": -1_000},
        "storage_tb": {"capacity": 10.5, "committed": 2, "left": 8.5},
    }


def test_the_demo_loads_idempotently():
    from aifactory.access.demo import load_demo_access
    from aifactory.access.models import AccessMode, Call, CapacityPool

    first = load_demo_access()
    assert "2 pools, 5 modes, 5 calls created" in first
    assert load_demo_access().startswith("demo access: 0 pools, 0 modes, 0 calls created")
    assert CapacityPool.objects.count() == 2 and AccessMode.objects.count() == 5
    assert set(Call.objects.values_list("status", flat=True)) == {"open"}
    large = AccessMode.objects.get(code="large-scale")
    assert large.has_cutoffs and large.durations_months == [3, 6, 12]
    assert large.reviews == ["technical", "peer"] and large.limits["gpu_hours"]["min"] > 50_000
    assert len(Call.objects.get(mode=large).cutoffs) == 4
    assert AccessMode.objects.get(code="playground").decision_days == 2
    assert AccessMode.objects.get(code="fast-lane").limits["gpu_hours"]["max"] == 50_000


def test_the_demo_cutoffs_always_lie_ahead():
    from aifactory.access.demo import _next_cutoffs

    assert _next_cutoffs(date(2026, 11, 29)) == [
        date(2026, 12, 1),
        date(2027, 3, 1),
        date(2027, 6, 1),
        date(2027, 9, 1),
    ]
    assert _next_cutoffs(date(2026, 3, 1))[0] == date(2026, 6, 1)
