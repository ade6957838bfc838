"""The decision service: accepted (the project and its allocation), accepted with reduced
resources, rejected; the reviews it waits for, the pool's capacity, wrong states, the record
it leaves (decision, events, audit, e-mails) and the service-time clock."""

import threading
from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from aifactory.access import services
from aifactory.access.applications_selectors import application_clock
from aifactory.access.models import (
    Allocation,
    Application,
    ApplicationEvent,
    ApplicationStatus,
    Decision,
    Project,
    Tranche,
)
from aifactory.core.errors import InvalidTransition, NotAllowed, ServiceError
from aifactory.core.models import AuditEvent

from .applications_helpers import COMPLETE, make_call, make_mode
from .reviews_helpers import *  # noqa: F403 - the fixtures
from .reviews_helpers import FAIR, GOOD, apply, assess, eligible, in_peer_review, review_by

S = ApplicationStatus
NEXT_FEB = date(timezone.localdate().year + 1, 2, 1)


@pytest.fixture
def assessed(submitted, operator):
    """Fast Lane: eligible and technically assessed, ready for the decision."""
    eligible(submitted, operator)
    assess(submitted, operator)
    submitted.refresh_from_db()
    return submitted


def decide(app, actor, outcome="accepted", **kwargs):
    decision = services.application_decide(actor=actor, application=app, outcome=outcome, **kwargs)
    app.refresh_from_db()
    return decision


def nothing_written(app, status):
    app.refresh_from_db()
    assert app.status == status and app.outcome == "" and app.decided_at is None
    assert not Decision.objects.filter(application=app).exists()
    assert not Project.objects.exists() and not Allocation.objects.exists()
    assert not AuditEvent.objects.filter(action="application.decide").exists()
    assert not app.events.filter(to_status=S.DECIDED).exists()


# --- accepted ----------------------------------------------------------------------------------


def test_accept_opens_the_project_with_the_team_and_the_allocation(
    applicant, org, pool, operator, make_user, settings
):
    settings.ACCESS_DEFAULT_CLUSTER = "meluxina"
    settings.ACCESS_DEFAULT_PARTITION = "gpu"
    manager = make_user("manager@example.org")
    mode = make_mode(pool, code="monthly", tranche_policy="monthly_expire")
    app = services.application_create(
        actor=applicant,
        call=make_call(mode),
        organisation=org,
        data=dict(COMPLETE, start_date=NEXT_FEB.isoformat(), duration_months=3),
    )
    for email, role in [
        (manager.email, "manager"),
        ("member@example.org", "member"),
        ("nobody@example.org", "member"),
    ]:
        services.application_member_add(actor=applicant, application=app, email=email, role=role)
    services.application_submit(actor=applicant, application=app)
    member = make_user("member@example.org")  # signed up after being named
    eligible(app, operator)
    assess(app, operator)

    decision = decide(app, operator)

    assert (decision.outcome, decision.granted, decision.decided_by) == (
        "accepted",
        {"gpu_hours": 20000, "storage_tb": 5},
        operator,
    )
    assert decision.reason == ""
    assert (app.status, app.outcome) == (S.DECIDED, "accepted") and app.decided_at
    project = Project.objects.get(application=app)
    assert (project.title, project.organisation) == (app.title, org)
    assert dict(project.members.values_list("user__email", "role")) == {
        applicant.email: "pi",
        manager.email: "manager",
        member.email: "member",
    }
    allocation = project.allocations.get()
    assert allocation.resources == decision.granted
    assert (allocation.start, allocation.end) == (NEXT_FEB, NEXT_FEB.replace(month=4, day=30))
    assert (allocation.pool, allocation.tranche_policy) == (pool, "monthly_expire")
    assert (allocation.cluster, allocation.partition) == ("meluxina", "gpu")
    assert allocation.slurm_account and len(allocation.slurm_account) <= 30
    tranches = list(allocation.tranches.all())
    assert [t.start.month for t in tranches] == [2, 3, 4]
    assert sum(t.amounts["gpu_hours"] for t in tranches) == 20000
    note = app.events.last().note
    assert project.code in note and "nobody@example.org" in note


def test_cluster_and_partition_given_by_the_operator(assessed, operator):
    decide(assessed, operator, cluster="slurm-main", partition="a100")
    allocation = Allocation.objects.get(project__application=assessed)
    assert (allocation.cluster, allocation.partition, allocation.tranche_policy) == (
        "slurm-main",
        "a100",
        "none",
    )
    assert Tranche.objects.filter(allocation=allocation).count() == 1


def test_accepted_grants_what_was_requested(assessed, operator):
    with pytest.raises(ValidationError) as exc:
        decide(assessed, operator, granted={"gpu_hours": 10000, "storage_tb": 5})
    assert "granted" in exc.value.message_dict
    nothing_written(assessed, S.TECHNICAL_REVIEW)
    decision = decide(assessed, operator, granted={"gpu_hours": "20000", "storage_tb": 5})
    assert decision.granted == {"gpu_hours": 20000, "storage_tb": 5}


def test_allocation_period():
    app = Application(start_date=date(2026, 3, 1), duration_months=3)
    assert services.allocation_period(app, today=date(2026, 2, 1)) == (
        date(2026, 3, 1),
        date(2026, 5, 31),
    )
    # A start that has passed by the decision becomes the day of the decision.
    assert services.allocation_period(app, today=date(2026, 3, 15)) == (
        date(2026, 3, 15),
        date(2026, 6, 14),
    )
    app = Application(start_date=date(2026, 11, 1), duration_months=12)
    assert services.allocation_period(app, today=date(2026, 1, 1))[1] == date(2027, 10, 31)


def test_the_pi_without_an_account_stops_the_acceptance(applicant, complete_application, operator):
    own = complete_application.members.get()
    services.application_member_remove(
        actor=applicant, application=complete_application, member_id=own.pk
    )
    services.application_member_add(
        actor=applicant, application=complete_application, email="pi@elsewhere.example", role="pi"
    )
    app = services.application_submit(actor=applicant, application=complete_application)
    eligible(app, operator)
    assess(app, operator)
    with pytest.raises(ServiceError) as exc:
        decide(app, operator)
    assert exc.value.field == "members" and "pi@elsewhere.example" in exc.value.message
    nothing_written(app, S.TECHNICAL_REVIEW)


# --- accepted with reduced resources -----------------------------------------------------------


def test_accepted_reduced(assessed, operator):
    decision = decide(
        assessed,
        operator,
        "accepted_reduced",
        granted={"gpu_hours": 15000, "storage_tb": 5},
        reason="The scaling evidence covers 15,000 hours.",
    )
    assert decision.granted == {"gpu_hours": 15000, "storage_tb": 5}
    assert assessed.outcome == "accepted_reduced"
    allocation = Allocation.objects.get(project__application=assessed)
    assert allocation.resources == decision.granted
    note = assessed.events.last().note
    assert "The scaling evidence covers 15,000 hours." in note and "15000" in note


@pytest.mark.parametrize(
    "granted, reason, field",
    [
        ({"gpu_hours": 15000}, "", "reason"),
        ({"gpu_hours": 15000}, "   ", "reason"),
        ({"gpu_hours": 25000, "storage_tb": 5}, "r", "granted.gpu_hours"),
        ({"gpu_hours": 15000, "cpu_core_hours": 10}, "r", "granted.cpu_core_hours"),
        ({"gpu_hours": 15000, "tpu_hours": 10}, "r", "granted.tpu_hours"),
        ({"gpu_hours": -1}, "r", "granted.gpu_hours"),
        ({"gpu_hours": "lots"}, "r", "granted.gpu_hours"),
        ({"gpu_hours": 20000, "storage_tb": 5}, "r", "granted"),  # nothing reduced
        ({"gpu_hours": 0, "storage_tb": 0}, "r", "granted"),  # nothing granted
        ({}, "r", "granted"),
        (None, "r", "granted"),
        ([15000], "r", "granted"),
        ({"gpu_hours": 15000}, "x" * 5001, "reason"),
    ],
)
def test_bad_reduced_grant_is_named_and_nothing_written(assessed, operator, granted, reason, field):
    with pytest.raises(ValidationError) as exc:
        decide(assessed, operator, "accepted_reduced", granted=granted, reason=reason)
    assert field in exc.value.message_dict
    nothing_written(assessed, S.TECHNICAL_REVIEW)


def test_a_resource_left_out_is_not_granted(assessed, operator):
    decision = decide(
        assessed, operator, "accepted_reduced", granted={"gpu_hours": 20000}, reason="No storage."
    )
    assert decision.granted == {"gpu_hours": 20000}


# --- rejected ----------------------------------------------------------------------------------


def test_rejected_needs_a_reason_and_opens_no_project(assessed, operator):
    with pytest.raises(ValidationError) as exc:
        decide(assessed, operator, "rejected")
    assert list(exc.value.message_dict) == ["reason"]
    with pytest.raises(ValidationError) as exc:
        decide(assessed, operator, "rejected", reason="No.", granted={"gpu_hours": 1})
    assert "granted" in exc.value.message_dict
    nothing_written(assessed, S.TECHNICAL_REVIEW)
    decision = decide(assessed, operator, "rejected", reason="Out of scope.")
    assert (decision.outcome, decision.granted, decision.reason) == (
        "rejected",
        {},
        "Out of scope.",
    )
    assert (assessed.status, assessed.outcome) == (S.DECIDED, "rejected")
    assert not Project.objects.exists()
    assert assessed.events.last().note == "Out of scope."


def test_a_rejection_does_not_wait_for_the_reviews(submitted, applicant, org, pool, operator):
    app = eligible(submitted, operator)  # no technical assessment yet
    assert decide(app, operator, "rejected", reason="Duplicate.").outcome == "rejected"
    peer = eligible(
        apply(applicant, org, make_call(make_mode(pool, code="p", reviews=["peer"]))), operator
    )
    assert decide(peer, operator, "rejected", reason="Duplicate.").outcome == "rejected"


def test_unknown_outcome(assessed, operator):
    for outcome in ("maybe", "", None):
        with pytest.raises(ValidationError) as exc:
            decide(assessed, operator, outcome)
        assert "outcome" in exc.value.message_dict
    nothing_written(assessed, S.TECHNICAL_REVIEW)


# --- what an acceptance waits for --------------------------------------------------------------


def test_acceptance_waits_for_the_technical_assessment(submitted, operator):
    app = eligible(submitted, operator)
    assert services.decision_problems(app) == ["The technical assessment is missing."]
    with pytest.raises(InvalidTransition) as exc:
        decide(app, operator)
    assert "technical assessment is missing" in exc.value.message
    nothing_written(app, S.TECHNICAL_REVIEW)


@pytest.fixture
def in_peer(applicant, org, pool, operator):
    call = make_call(make_mode(pool, code="large", reviews=["technical", "peer"]))
    return in_peer_review(applicant, org, call, operator)


def test_acceptance_waits_for_enough_peer_reviews(in_peer, operator, make_reviewer, settings):
    settings.ACCESS_MIN_PEER_REVIEWS = 2
    review_by(in_peer, operator, make_reviewer(), GOOD)
    assert services.decision_problems(in_peer) == ["1 of at least 2 peer reviews are submitted."]
    with pytest.raises(InvalidTransition):
        decide(in_peer, operator)
    nothing_written(in_peer, S.PEER_REVIEW)
    # A reviewer with a conflict does not count, and does not hold the decision up either.
    out = services.peer_reviewer_assign(
        actor=operator, application=in_peer, reviewer=make_reviewer()
    )
    services.review_declare_conflict(actor=out.reviewer, review=out, conflict=True, note="Cousin.")
    assert len(services.decision_problems(in_peer)) == 1
    review_by(in_peer, operator, make_reviewer(), FAIR)
    assert services.decision_problems(in_peer) == []
    assert decide(in_peer, operator).outcome == "accepted"


def test_acceptance_waits_for_every_assigned_review(in_peer, operator, make_reviewer, settings):
    settings.ACCESS_MIN_PEER_REVIEWS = 2
    review_by(in_peer, operator, make_reviewer(), GOOD)
    review_by(in_peer, operator, make_reviewer(), GOOD)
    late = review_by(in_peer, operator, make_reviewer())  # declared, not scored
    assert services.decision_problems(in_peer) == [
        "1 assigned peer review(s) are not submitted yet."
    ]
    with pytest.raises(InvalidTransition):
        decide(in_peer, operator)
    nothing_written(in_peer, S.PEER_REVIEW)
    services.peer_reviewer_unassign(actor=operator, review=late)
    assert decide(in_peer, operator).outcome == "accepted"


def test_a_peer_only_mode_needs_no_technical_assessment(
    applicant, org, pool, operator, make_reviewer, settings
):
    settings.ACCESS_MIN_PEER_REVIEWS = 1
    call = make_call(make_mode(pool, code="science", reviews=["peer"]))
    app = eligible(apply(applicant, org, call), operator)
    assert app.status == S.PEER_REVIEW
    assert services.decision_problems(app) == ["0 of at least 1 peer reviews are submitted."]
    review_by(app, operator, make_reviewer(), GOOD)
    assert services.decision_problems(app) == []
    assert decide(app, operator).outcome == "accepted"


def test_acceptance_waits_for_the_peer_review_stage(applicant, org, pool, operator):
    call = make_call(make_mode(pool, code="large", reviews=["technical", "peer"]))
    app = eligible(apply(applicant, org, call), operator)
    assert services.decision_problems(app) == [
        "The technical assessment is missing.",
        "The application has not been through peer review yet.",
    ]
    unconfirmed = apply(applicant, org, call)
    assert services.decision_problems(unconfirmed) == [
        "The application has not been through its reviews yet."
    ]
    for pending in (app, unconfirmed):
        with pytest.raises(InvalidTransition):
            decide(pending, operator)
    assert not Decision.objects.exists()


def test_a_mode_without_reviews_is_decided_after_the_eligibility_confirmation(
    applicant, org, pool, operator
):
    playground = make_call(make_mode(pool, code="playground", reviews=[]))
    app = apply(applicant, org, playground)
    assert services.decision_problems(app) == ["Confirm the eligibility first."]
    with pytest.raises(InvalidTransition):
        decide(app, operator)
    nothing_written(app, S.ELIGIBILITY_CHECK)
    app = eligible(app, operator)
    assert services.decision_problems(app) == []
    decide(app, operator)
    assert (app.status, app.outcome) == (S.DECIDED, "accepted")
    assert app.events.last().from_status == S.ELIGIBILITY_CHECK
    assert Project.objects.filter(application=app).exists()


# --- capacity ----------------------------------------------------------------------------------


def test_a_grant_above_what_the_pool_has_left_is_refused(assessed, operator, pool):
    pool.capacity = {"gpu_hours": 30000}
    pool.save()
    other = Project.objects.create(code="other", title="Other", organisation=assessed.organisation)
    Allocation.objects.create(
        project=other,
        pool=pool,
        resources={"gpu_hours": 15000},
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
    )
    events = ApplicationEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        decide(assessed, operator)
    assert list(exc.value.message_dict) == ["granted.gpu_hours"]
    assert "15000" in exc.value.message_dict["granted.gpu_hours"][0]
    assert ApplicationEvent.objects.count() == events
    assert not Decision.objects.exists()
    assert Project.objects.count() == 1 and Allocation.objects.count() == 1
    assessed.refresh_from_db()
    assert assessed.status == S.TECHNICAL_REVIEW
    # Exactly what is left fits.
    decide(assessed, operator, "accepted_reduced", granted={"gpu_hours": 15000}, reason="Full.")
    assert assessed.outcome == "accepted_reduced"


def test_a_resource_the_pool_does_not_hold_is_not_limited(applicant, org, call, operator):
    # The pool holds GPU hours only; storage granted before must not block the next grant.
    from aifactory.access.reviews_selectors import decision_context

    first, second = (eligible(apply(applicant, org, call), operator) for _ in range(2))
    for app in (first, second):
        assess(app, operator)
    decide(first, operator)
    storage = [r for r in decision_context(second)["resources"] if r["resource"] == "storage_tb"]
    assert storage[0]["fits"] is True and storage[0]["committed"] == 5
    decide(second, operator)
    assert second.outcome == "accepted"


@pytest.mark.django_db(transaction=True)
def test_two_decisions_cannot_both_take_the_last_hours(make_user, make_org):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    from aifactory.access.models import CapacityPool

    pool = CapacityPool.objects.create(
        code="tight",
        name="Tight",
        share_percent=1,
        capacity={"gpu_hours": 30000},
        period_start=date(2026, 1, 1),
        period_end=date(2027, 12, 31),
    )
    operator = make_user(staff_role="operator")
    apps = []
    for code in ("fast-lane", "national"):  # two modes on one pool: only the pool is shared
        applicant = make_user()
        org = make_org(owner=applicant, kind="startup")
        app = eligible(apply(applicant, org, make_call(make_mode(pool, code=code))), operator)
        assess(app, operator)
        apps.append(app)
    results, barrier = [], threading.Barrier(2)

    def accept(app):
        try:
            barrier.wait()
            services.application_decide(actor=operator, application=app, outcome="accepted")
            results.append("ok")
        except ValidationError as exc:
            results.append(list(exc.message_dict))
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [["granted.gpu_hours"], "ok"]
    assert Allocation.objects.count() == 1


# --- wrong states, permissions -----------------------------------------------------------------


def test_deciding_twice_is_409(assessed, operator):
    decide(assessed, operator, "rejected", reason="No.")
    for outcome in ("accepted", "rejected"):
        with pytest.raises(InvalidTransition) as exc:
            decide(assessed, operator, outcome, reason="Again.")
        assert exc.value.status == 409
    assert Decision.objects.count() == 1


def test_wrong_states_are_409(application, applicant, org, operator):
    revision = services.application_request_revision(
        actor=operator, application=apply(applicant, org, application.call), note="More."
    )
    withdrawn = services.application_withdraw(
        actor=applicant, application=apply(applicant, org, application.call)
    )
    for app in (application, revision, withdrawn):
        status = app.status
        for outcome, reason in (("accepted", ""), ("rejected", "No.")):
            with pytest.raises(InvalidTransition) as exc:
                decide(app, operator, outcome, reason=reason)
            assert exc.value.status == 409
        assert app.status == status
    assert not Decision.objects.exists()


def test_only_operators_decide(assessed, applicant, make_reviewer):
    for person in (applicant, make_reviewer()):
        with pytest.raises(PermissionDenied):
            decide(assessed, person)
    nothing_written(assessed, S.TECHNICAL_REVIEW)


def test_the_system_decides_without_a_person(assessed):
    decision = decide(assessed, None)
    assert decision.decided_by is None
    assert AuditEvent.objects.get(action="application.decide").actor_repr == "system"


# --- the record: audit, events, e-mails, clock -------------------------------------------------


def test_audit_events_and_mails(
    assessed, operator, applicant, make_user, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(
            assessed,
            operator,
            "accepted_reduced",
            granted={"gpu_hours": 12000, "storage_tb": 5},
            reason="Half the hours suffice.",
        )
    project = Project.objects.get(application=assessed)
    audit = AuditEvent.objects.get(action="application.decide")
    assert audit.changes["outcome"] == "accepted_reduced"
    assert audit.changes["decision"] == str(decision.pk)
    assert AuditEvent.objects.filter(action="application.decided").count() == 1
    assert AuditEvent.objects.filter(action="project.create").count() == 1
    event = assessed.events.last()
    assert (event.from_status, event.to_status, event.actor) == (
        S.TECHNICAL_REVIEW,
        S.DECIDED,
        operator,
    )
    assert "Half the hours suffice." in event.note and project.code in event.note
    decided = [m for m in mail.outbox if "decision" in m.subject]
    assert [m.to for m in decided] == [[applicant.email]]
    assert "Outcome: accepted with reduced resources" in decided[0].body
    assert project.code in decided[0].body
    allocation_mail = [m for m in mail.outbox if project.code in m.subject]
    assert [m.to for m in allocation_mail] == [[applicant.email]]


def test_no_mail_when_the_decision_fails(
    assessed, operator, pool, django_capture_on_commit_callbacks
):
    pool.capacity = {"gpu_hours": 100}
    pool.save()
    mail.outbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError),
    ):
        decide(assessed, operator)
    assert callbacks == [] and mail.outbox == []


def test_the_decision_mail_goes_to_the_pi_in_their_language(
    applicant, complete_application, operator, make_user, django_capture_on_commit_callbacks
):
    pi = make_user("pi@example.org")
    pi.preferred_language = "fr"
    pi.save()
    own = complete_application.members.get()
    services.application_member_remove(
        actor=applicant, application=complete_application, member_id=own.pk
    )
    services.application_member_add(
        actor=applicant, application=complete_application, email=pi.email, role="pi"
    )
    app = services.application_submit(actor=applicant, application=complete_application)
    eligible(app, operator)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decide(app, operator, "rejected", reason="Out of scope.")
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {applicant.email, pi.email}
    assert "Outcome: rejected" in by_address[applicant.email].body
    assert "Outcome: rejected" not in by_address[pi.email].body  # in French
    assert "Out of scope." in by_address[pi.email].body


def test_the_clock_stops_at_the_decision(assessed, operator):
    decide(assessed, operator)
    at_decision = application_clock(assessed, now=assessed.decided_at)
    later = application_clock(assessed, now=assessed.decided_at + timedelta(days=60))
    assert later.running is False
    assert later.elapsed_days == at_decision.elapsed_days
    assert later.state == "on_time"


# --- a new round after a revision, reviewers who decide, team members by confirmed address -------


def test_after_a_revision_the_fast_lane_needs_a_new_assessment(assessed, applicant, operator):
    services.application_request_revision(actor=operator, application=assessed, note="More.")
    services.application_submit(actor=applicant, application=assessed)
    eligible(assessed, operator)
    assessed.refresh_from_db()
    assert assessed.status == S.TECHNICAL_REVIEW
    assert services.decision_problems(assessed) == ["The technical assessment is missing."]
    with pytest.raises(InvalidTransition):
        decide(assessed, operator)
    nothing_written(assessed, S.TECHNICAL_REVIEW)
    assess(assessed, operator)
    assert decide(assessed, operator).outcome == "accepted"


def test_a_peer_reviewer_cannot_decide_even_as_an_administrator(
    in_peer, operator, make_user, make_reviewer, settings
):
    settings.ACCESS_MIN_PEER_REVIEWS = 1
    admin = make_user(staff_role="administrator")
    review_by(in_peer, operator, admin, GOOD)
    for outcome, reason in (("accepted", ""), ("rejected", "No.")):
        with pytest.raises(NotAllowed) as exc:
            decide(in_peer, admin, outcome, reason=reason)
        assert exc.value.status == 403 and "peer reviewer" in exc.value.message
    nothing_written(in_peer, S.PEER_REVIEW)
    assert decide(in_peer, operator).outcome == "accepted"


def test_a_team_member_is_linked_by_a_confirmed_address_only(
    applicant, org, call, operator, make_user
):
    app = services.application_create(actor=applicant, call=call, organisation=org, data=COMPLETE)
    make_user("early@example.org", verified=False)  # someone signed up with the address
    early = services.application_member_add(
        actor=applicant, application=app, email="early@example.org", role="member"
    )
    assert early.user is None
    services.application_member_add(
        actor=applicant, application=app, email="late@example.org", role="member"
    )
    services.application_submit(actor=applicant, application=app)
    make_user("late@example.org", verified=False)
    eligible(app, operator)
    assess(app, operator)
    decide(app, operator)
    project = Project.objects.get(application=app)
    assert list(project.members.values_list("user__email", flat=True)) == [applicant.email]
    note = app.events.last().note
    assert "early@example.org" in note and "late@example.org" in note


def test_the_pi_with_an_unconfirmed_address_stops_the_acceptance(
    applicant, complete_application, operator, make_user
):
    own = complete_application.members.get()
    services.application_member_remove(
        actor=applicant, application=complete_application, member_id=own.pk
    )
    services.application_member_add(
        actor=applicant, application=complete_application, email="pi@elsewhere.example", role="pi"
    )
    make_user("pi@elsewhere.example", verified=False)
    app = services.application_submit(actor=applicant, application=complete_application)
    eligible(app, operator)
    assess(app, operator)
    with pytest.raises(ServiceError) as exc:
        decide(app, operator)
    assert exc.value.field == "members" and "confirmed" in exc.value.message
    nothing_written(app, S.TECHNICAL_REVIEW)


def test_decidable_states():
    assert {S.ELIGIBILITY_CHECK, S.TECHNICAL_REVIEW, S.PEER_REVIEW} == services.DECIDABLE
