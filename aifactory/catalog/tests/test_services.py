"""Offerings through the services: who may do what, the moderation states, derived fields."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from aifactory.catalog import selectors, services
from aifactory.catalog.models import Offering
from aifactory.core.errors import InvalidTransition
from aifactory.core.models import AuditEvent

from .conftest import draft_data

pytestmark = pytest.mark.django_db


def test_a_manager_lists_for_their_organisation_as_a_draft(provider, draft):
    assert draft.status == "draft"
    assert draft.provider_organisation == provider["org"]
    assert draft.provider_name == "Holzwierk S.à r.l."  # the organisation's name by default
    assert draft.external_id.startswith("solution-")
    event = AuditEvent.objects.get(action="offering.create", object_id=str(draft.pk))
    assert event.organisation_id == provider["org"].pk
    assert event.actor == provider["manager"]


@pytest.mark.parametrize("who", ["member", "outsider", "advisor"])
def test_others_may_not_list_for_the_organisation(provider, make_user, make_org, who):
    if who == "member":
        actor = provider["member"]
    elif who == "outsider":
        actor = make_org().memberships.get().user  # the owner of another organisation
    else:
        actor = make_user(staff_role="advisor")
    with pytest.raises(PermissionDenied):
        services.offering_create(actor=actor, data=draft_data(provider["org"]))
    assert not Offering.objects.exists()


def test_only_operators_list_without_an_organisation(provider, operator):
    data = draft_data(provider["org"], provider_organisation_id=None, provider_name="EU")
    with pytest.raises(ValidationError) as exc:
        services.offering_create(actor=provider["owner"], data=data)
    assert "provider_organisation_id" in exc.value.message_dict
    offering = services.offering_create(actor=operator, data=data)
    assert offering.provider_organisation is None and offering.provider_name == "EU"


def test_every_bad_field_is_named_and_nothing_is_written(provider):
    data = draft_data(
        provider["org"],
        type="gadget",
        title={"xx": "Hallo"},
        description="",
        sectors=["finance", "astrology"],
        stages=[],
        url="javascript:alert(1)",
        languages=["EN"],
        eligible_countries=["XX"],
        colour="red",
    )
    with pytest.raises(ValidationError) as exc:
        services.offering_create(actor=provider["owner"], data=data)
    errors = exc.value.message_dict
    assert set(errors) == {
        "type", "title", "description", "sectors", "stages", "url", "languages",
        "eligible_countries", "colour",
    }  # fmt: skip
    assert errors["sectors"] == ["Unknown sector: “astrology”."]
    assert not Offering.objects.exists()


def test_the_external_id_is_unique(provider):
    services.offering_create(
        actor=provider["owner"], data=draft_data(provider["org"], external_id="x-1")
    )
    with pytest.raises(ValidationError) as exc:
        services.offering_create(
            actor=provider["owner"], data=draft_data(provider["org"], external_id="x-1")
        )
    assert exc.value.message_dict == {"external_id": ["An offering with this id exists already."]}


def test_the_whole_moderation_round(provider, operator, draft):
    manager = provider["manager"]
    services.offering_submit(actor=manager, offering=draft)
    rejected = services.offering_reject(actor=operator, offering=draft, reason="Add a price.")
    assert (rejected.status, rejected.review_note, rejected.reviewed_by) == (
        "draft",
        "Add a price.",
        operator,
    )
    services.offering_update(actor=manager, offering=draft, data={"price": "from 90 € a month"})
    services.offering_submit(actor=manager, offering=draft)
    published = services.offering_approve(actor=operator, offering=draft)
    assert published.status == "published" and published.review_note == ""
    archived = services.offering_archive(actor=manager, offering=draft)
    assert archived.status == "archived"
    restored = services.offering_restore(actor=manager, offering=draft)
    assert restored.status == "draft"
    actions = list(
        AuditEvent.objects.filter(object_id=str(draft.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "offering.create", "offering.submit", "offering.reject", "offering.update",
        "offering.submit", "offering.approve", "offering.archive", "offering.restore",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "transition", "message"),
    [
        ("draft", "approve", "Only an offering in review can be approved."),
        ("draft", "reject", "Only an offering in review can be rejected."),
        ("draft", "restore", "Only an archived offering can be restored."),
        ("in_review", "submit", "Only a draft can be submitted for review."),
        ("archived", "archive", "This offering is archived already."),
        ("archived", "submit", "Only a draft can be submitted for review."),
    ],
)
def test_impossible_transitions_are_refused(provider, operator, draft, status, transition, message):
    if status == "in_review":
        services.offering_submit(actor=operator, offering=draft)
    if status == "archived":
        services.offering_archive(actor=operator, offering=draft)
    function = getattr(services, f"offering_{transition}")
    kwargs = {"reason": "No."} if transition == "reject" else {}
    with pytest.raises(InvalidTransition, match=message):
        function(actor=operator, offering=draft, **kwargs)
    assert Offering.objects.get(pk=draft.pk).status == status


def test_a_rejection_needs_a_reason(provider, operator, draft):
    services.offering_submit(actor=operator, offering=draft)
    with pytest.raises(ValidationError) as exc:
        services.offering_reject(actor=operator, offering=draft, reason="   ")
    assert "reason" in exc.value.message_dict
    assert Offering.objects.get(pk=draft.pk).status == "in_review"


def test_providers_do_not_moderate_their_own_listing(provider, draft):
    services.offering_submit(actor=provider["owner"], offering=draft)
    with pytest.raises(PermissionDenied):
        services.offering_approve(actor=provider["owner"], offering=draft)


def _published(provider, operator, draft):
    services.offering_submit(actor=provider["owner"], offering=draft)
    return services.offering_approve(actor=operator, offering=draft)


def test_a_provider_edit_of_a_published_listing_goes_back_to_review(provider, operator, draft):
    _published(provider, operator, draft)
    services.offering_update(
        actor=provider["manager"], offering=draft, data={"title": {"de": "Neuer Titel"}}
    )
    offering = Offering.objects.get(pk=draft.pk)
    assert offering.status == "in_review"
    event = AuditEvent.objects.filter(action="offering.update").latest("id")
    assert event.changes["status"] == ["published", "in_review"]
    assert not selectors.offerings_list(None).exists()  # out of the public catalogue


def test_an_operator_edit_keeps_the_listing_published(provider, operator, draft):
    _published(provider, operator, draft)
    services.offering_update(actor=operator, offering=draft, data={"price": "free"})
    assert Offering.objects.get(pk=draft.pk).status == "published"


def test_an_edit_that_changes_nothing_keeps_the_status(provider, operator, draft):
    _published(provider, operator, draft)
    services.offering_update(actor=provider["owner"], offering=draft, data={"stages": "build"})
    assert Offering.objects.get(pk=draft.pk).status == "published"


def test_a_provider_of_another_organisation_may_not_edit(provider, make_org, draft, operator):
    _published(provider, operator, draft)
    stranger = make_org().memberships.get().user
    for action in ("offering_update", "offering_archive"):
        kwargs = {"data": {"price": "0"}} if action == "offering_update" else {}
        with pytest.raises(PermissionDenied):
            getattr(services, action)(actor=stranger, offering=draft, **kwargs)
    assert Offering.objects.get(pk=draft.pk).price == ""
    with pytest.raises(PermissionDenied):
        services.offering_update(actor=provider["member"], offering=draft, data={"price": "0"})


def test_fields_that_cannot_be_changed(provider, operator, draft, make_org):
    with pytest.raises(ValidationError) as exc:
        services.offering_update(
            actor=provider["owner"],
            offering=draft,
            data={"external_id": "other", "provider_organisation_id": make_org().pk},
        )
    assert set(exc.value.message_dict) == {"external_id", "provider_organisation_id"}
    other = make_org()
    services.offering_update(
        actor=operator, offering=draft, data={"provider_organisation_id": other.pk}
    )
    assert Offering.objects.get(pk=draft.pk).provider_organisation == other


def test_an_archived_listing_is_restored_before_it_is_edited(provider, draft):
    services.offering_archive(actor=provider["owner"], offering=draft)
    with pytest.raises(InvalidTransition, match="restore it first"):
        services.offering_update(actor=provider["owner"], offering=draft, data={"price": "1"})


def test_drafts_are_invisible_to_outsiders(provider, draft, make_org, make_user):
    stranger = make_org().memberships.get().user
    for person in (None, stranger):
        assert not selectors.offerings_list(person, status="draft").exists()
        with pytest.raises(Http404):
            selectors.offering_get(person, draft.external_id)
    assert selectors.offering_get(provider["member"], draft.pk) == draft
    advisor = make_user(staff_role="advisor")
    assert list(selectors.offerings_list(advisor, status="draft")) == [draft]


def test_search_text_and_content_hash_follow_the_text(provider, operator, draft):
    assert "Angebotsassistent" in draft.search_text and "Holzwierk" in draft.search_text
    before = draft.content_hash
    services.offering_update(actor=operator, offering=draft, data={"sectors": ["construction"]})
    assert Offering.objects.get(pk=draft.pk).content_hash == before  # not a text field
    services.offering_update(actor=operator, offering=draft, data={"tags": ["Angebote"]})
    after = Offering.objects.get(pk=draft.pk)
    assert after.content_hash != before and "Angebote" in after.search_text


def test_a_plain_string_is_stored_under_its_guessed_language(provider):
    offering = services.offering_create(
        actor=provider["owner"],
        data=draft_data(
            provider["org"],
            title="Assistant de devis pour menuisiers",
            description="Il prépare vos devis à partir des mesures et de la liste des matériaux.",
        ),
    )
    assert list(offering.title) == ["fr"] and list(offering.description) == ["fr"]


@pytest.mark.parametrize("name", ["mine", "new", "Review"])
def test_ids_of_catalogue_pages_are_refused(provider, name):
    with pytest.raises(ValidationError) as caught:
        services.offering_create(
            actor=provider["manager"], data=draft_data(provider["org"], external_id=name)
        )
    assert "external_id" in caught.value.message_dict
    assert not Offering.objects.filter(external_id=name).exists()


def test_a_reject_without_the_right_is_refused_before_the_reason_is_checked(draft, provider):
    services.offering_submit(actor=provider["manager"], offering=draft)
    with pytest.raises(PermissionDenied):
        services.offering_reject(actor=provider["manager"], offering=draft, reason="")


def test_a_dataset_listing_that_leaves_records_the_status_it_had():
    record = {
        "external_id": "data-1",
        "type": "dataset",
        "title": {"en": "Household electricity"},
        "description": {"en": "Quarter-hourly consumption of 500 households."},
        "stages": ["build"],
        "provider_name": "Energy Data Service",
    }
    offering = services.dataset_listing_sync(record=dict(record), listed=True)
    assert offering.status == "published"
    created = AuditEvent.objects.get(action="offering.import")
    assert created.changes["created"] is True
    assert services.dataset_listing_sync(record=dict(record), listed=True) == offering
    assert AuditEvent.objects.filter(action="offering.import").count() == 1  # no change, no event
    Offering.objects.filter(pk=offering.pk).update(status="in_review")  # an operator's doing
    services.dataset_listing_sync(record=dict(record), listed=False)
    event = AuditEvent.objects.get(action="offering.archive")
    assert event.changes == {"status": ["in_review", "archived"]}
