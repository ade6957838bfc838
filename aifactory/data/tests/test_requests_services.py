"""Access requests through the services: validation, the state machine, grants, mail."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aifactory.core.errors import InvalidTransition, NotAllowed, NotFound, ServiceError
from aifactory.core.permissions import allowed
from aifactory.data import services
from aifactory.data.models import Grant, RequestStatus
from aifactory.data.tests.data_helpers import data_storage, publisher  # noqa: F401
from aifactory.data.tests.requests_helpers import dataset_make, request_make


@pytest.fixture
def restricted(publisher):  # noqa: F811
    return dataset_make(publisher["org"])


def _field(exc_info) -> set[str]:
    return set(exc_info.value.message_dict)


def test_request_copies_the_conditions_and_mails_the_stewards(
    publisher,  # noqa: F811
    restricted,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        req = request_make(restricted, publisher["outsider"], publisher["other_org"])
    assert req.status == RequestStatus.PENDING
    assert req.conditions_accepted == restricted.use_conditions
    assert req.legal_basis == ""
    to = sorted(a for m in mailoutbox for a in m.to)
    assert to == ["owner@publisher.example", "steward@publisher.example"]
    assert "outsider@other.example" in mailoutbox[0].body


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"duration_days": 0}, "duration_days"),
        ({"duration_days": 366}, "duration_days"),
        ({"duration_days": "x"}, "duration_days"),
        ({"accept_conditions": False}, "accept_conditions"),
        ({"purpose": "  "}, "purpose"),
        ({"project": ""}, "project"),
    ],
)
def test_request_validation(publisher, restricted, fields, field):  # noqa: F811
    with pytest.raises(ValidationError) as exc:
        request_make(restricted, publisher["outsider"], publisher["other_org"], **fields)
    assert _field(exc) == {field}


def test_the_longest_grant_is_a_setting(publisher, restricted, settings):  # noqa: F811
    settings.DATA_MAX_GRANT_DAYS = 10
    with pytest.raises(ValidationError):
        request_make(restricted, publisher["outsider"], publisher["other_org"], duration_days=11)
    assert request_make(restricted, publisher["outsider"], publisher["other_org"], duration_days=10)


def test_personal_data_needs_a_legal_basis(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], personal_data=True)
    with pytest.raises(ValidationError) as exc:
        request_make(dataset, publisher["outsider"], publisher["other_org"], legal_basis="")
    assert _field(exc) == {"legal_basis"}
    with pytest.raises(ValidationError):
        request_make(dataset, publisher["outsider"], publisher["other_org"], legal_basis="whim")
    req = request_make(
        dataset, publisher["outsider"], publisher["other_org"], legal_basis="consent"
    )
    assert req.legal_basis == "consent"


def test_only_for_an_organisation_of_ones_own(publisher, restricted, make_org):  # noqa: F811
    with pytest.raises(ValidationError) as exc:
        request_make(restricted, publisher["outsider"], make_org())
    assert _field(exc) == {"organisation"}


def test_what_cannot_be_requested(publisher):  # noqa: F811
    org, outsider, other = publisher["org"], publisher["outsider"], publisher["other_org"]
    with pytest.raises(ServiceError) as exc:
        request_make(dataset_make(org, access_rights="public"), outsider, other)
    assert exc.value.status == 409
    # Internal and draft datasets are not even visible to others.
    with pytest.raises(NotFound):
        request_make(dataset_make(org, access_rights="internal"), outsider, other)
    with pytest.raises(NotFound):
        request_make(dataset_make(org, status="draft"), outsider, other)
    with pytest.raises(NotAllowed):
        request_make(dataset_make(org), publisher["member"], org)


def test_one_waiting_request_per_organisation(publisher, restricted, make_user, add_member):  # noqa: F811
    request_make(restricted, publisher["outsider"], publisher["other_org"])
    colleague = make_user()
    add_member(publisher["other_org"], colleague)
    with pytest.raises(ServiceError) as exc:
        request_make(restricted, colleague, publisher["other_org"])
    assert exc.value.status == 409 and not isinstance(exc.value, NotFound)


def test_approve_grants_until_the_duration(
    publisher,  # noqa: F811
    restricted,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    outsider = publisher["outsider"]
    req = request_make(restricted, outsider, publisher["other_org"], duration_days=30)
    assert not allowed(outsider, "dataset.read", restricted)
    with django_capture_on_commit_callbacks(execute=True):
        grant = services.request_approve(
            actor=publisher["steward"], request=req, conditions="Cite the source."
        )
    req.refresh_from_db()
    assert req.status == RequestStatus.APPROVED and req.decided_by == publisher["steward"]
    assert grant.organisation == publisher["other_org"] and grant.request == req
    expected = timezone.now() + timedelta(days=30)
    assert abs((grant.expires_at - expected).total_seconds()) < 60
    assert allowed(outsider, "dataset.read", restricted)
    assert [m.to for m in mailoutbox] == [["outsider@other.example"]]
    assert "Cite the source." in mailoutbox[0].body
    # A second organisation request while the grant lives is pointless.
    with pytest.raises(ServiceError):
        request_make(restricted, outsider, publisher["other_org"])


def test_the_expiry_may_be_earlier_never_later(publisher, restricted):  # noqa: F811
    req = request_make(restricted, publisher["outsider"], publisher["other_org"], duration_days=10)
    steward = publisher["steward"]
    too_late = timezone.localdate() + timedelta(days=20)
    with pytest.raises(ValidationError) as exc:
        services.request_approve(actor=steward, request=req, expires_at=too_late)
    assert _field(exc) == {"expires_at"}
    with pytest.raises(ValidationError):
        services.request_approve(
            actor=steward, request=req, expires_at=timezone.localdate() - timedelta(days=1)
        )
    day = timezone.localdate() + timedelta(days=5)
    grant = services.request_approve(actor=steward, request=req, expires_at=day.isoformat())
    assert timezone.localtime(grant.expires_at).date() == day


def test_only_stewards_decide(publisher, restricted):  # noqa: F811
    req = request_make(restricted, publisher["outsider"], publisher["other_org"])
    for person in (publisher["member"], publisher["outsider"]):
        with pytest.raises(PermissionDenied):
            services.request_approve(actor=person, request=req)
        with pytest.raises(PermissionDenied):
            services.request_refuse(actor=person, request=req, reason="no")
    assert not Grant.objects.exists()


def test_transitions(publisher, restricted):  # noqa: F811
    steward, outsider = publisher["steward"], publisher["outsider"]
    req = request_make(restricted, outsider, publisher["other_org"])
    with pytest.raises(ValidationError) as exc:
        services.request_refuse(actor=steward, request=req, reason=" ")
    assert _field(exc) == {"reason"}
    services.request_refuse(actor=steward, request=req, reason="Not for marketing.")
    assert req.status == RequestStatus.REFUSED and req.reason == "Not for marketing."
    for call in (
        lambda: services.request_approve(actor=steward, request=req),
        lambda: services.request_refuse(actor=steward, request=req, reason="again"),
        lambda: services.request_withdraw(actor=outsider, request=req),
    ):
        with pytest.raises(InvalidTransition) as exc:
            call()
        assert exc.value.status == 409
    # Refused: a new request may be made.
    again = request_make(restricted, outsider, publisher["other_org"])
    with pytest.raises(PermissionDenied):
        services.request_withdraw(actor=steward, request=again)
    services.request_withdraw(actor=outsider, request=again)
    assert again.status == RequestStatus.WITHDRAWN
    with pytest.raises(InvalidTransition):
        services.request_approve(actor=steward, request=again)


def test_grants_end_by_themselves(publisher, restricted):  # noqa: F811
    from aifactory.core.models import AuditEvent

    outsider = publisher["outsider"]
    req = request_make(restricted, outsider, publisher["other_org"])
    grant = services.request_approve(actor=publisher["steward"], request=req)
    assert allowed(outsider, "dataset.read", restricted)
    assert services.grants_expire_due() == 0
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not allowed(outsider, "dataset.read", restricted)
    assert services.grants_expire_due() == 1
    assert services.grants_expire_due() == 0
    assert AuditEvent.objects.filter(action="grant.expire", object_id=str(grant.pk)).count() == 1
    grant.refresh_from_db()
    with pytest.raises(InvalidTransition):
        services.grant_revoke(actor=publisher["steward"], grant=grant, reason="late")


def test_revoke(publisher, restricted, mailoutbox, django_capture_on_commit_callbacks):  # noqa: F811
    outsider = publisher["outsider"]
    req = request_make(restricted, outsider, publisher["other_org"])
    grant = services.request_approve(actor=publisher["steward"], request=req)
    with pytest.raises(PermissionDenied):
        services.grant_revoke(actor=publisher["member"], grant=grant, reason="x")
    with pytest.raises(ValidationError):
        services.grant_revoke(actor=publisher["owner"], grant=grant, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        services.grant_revoke(actor=publisher["owner"], grant=grant, reason="Breach of terms.")
    assert grant.revoked_at is not None and grant.revoke_reason == "Breach of terms."
    assert not allowed(outsider, "dataset.read", restricted)
    assert "Breach of terms." in mailoutbox[-1].body
    with pytest.raises(InvalidTransition):
        services.grant_revoke(actor=publisher["owner"], grant=grant, reason="again")
    # Revoked grants are not recorded as expired later.
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert services.grants_expire_due() == 0
