"""Datasets through the services: creation with its validation, editing, publishing, archiving."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aifactory.core.errors import InvalidTransition
from aifactory.core.models import AuditEvent
from aifactory.data import services
from aifactory.data.models import Dataset
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.data_helpers import add_csv_version, make_dataset

pytestmark = pytest.mark.django_db


def test_create_makes_a_draft_with_slug_identifier_and_audit(publisher):
    dataset = services.dataset_create(
        actor=publisher["member"],
        organisation=publisher["org"],
        data={"title": {"de": "Stroumverbrauch Lëtzebuerg"}, "themes": ["ener"]},
    )
    assert dataset.status == "draft"
    assert dataset.slug == "stroumverbrauch-letzebuerg"
    assert dataset.identifier == "aifh-stroumverbrauch-letzebuerg"
    assert dataset.themes == ["ENER"]
    assert dataset.publisher == publisher["org"]
    assert AuditEvent.objects.filter(action="dataset.create", object_id=str(dataset.pk)).exists()
    again = services.dataset_create(
        actor=None,
        organisation=publisher["org"],
        data={"title": {"en": "Stroumverbrauch Letzebuerg"}},
    )
    assert again.slug == "stroumverbrauch-letzebuerg-2"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"title": {}}, "title"),
        ({"title": {"es": "Energía"}}, "title"),
        ({"title": {"en": "  "}}, "title"),
        ({"title": {"en": "x"}, "themes": ["SPACE"]}, "themes"),
        ({"title": {"en": "x"}, "personal_data": True, "access_rights": "public"}, "access_rights"),
        ({"title": {"en": "x"}, "contact_email": "nobody"}, "contact_email"),
        ({"title": {"en": "x"}, "frequency": "HOURLY"}, "frequency"),
        ({"title": {"en": "x"}, "slug": "Bad Slug"}, "slug"),
        ({"title": {"en": "x"}, "colour": "red"}, "colour"),
        (
            {"title": {"en": "x"}, "temporal_start": "2024-02-01", "temporal_end": "2024-01-01"},
            "temporal_end",
        ),
        ({"title": {"en": "x"}, "landing_page": "ftp://example.org"}, "landing_page"),
        ({"description": {"en": "no title"}}, "title"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(publisher, data, field):
    with pytest.raises(ValidationError) as caught:
        services.dataset_create(actor=None, organisation=publisher["org"], data=data)
    assert field in caught.value.message_dict
    assert not Dataset.objects.exists()


def test_personal_data_error_names_access_rights_and_says_why(publisher):
    with pytest.raises(ValidationError) as caught:
        make_dataset(publisher["org"], personal_data=True, access_rights="public")
    assert "personal data" in caught.value.message_dict["access_rights"][0]


def test_taken_slug_is_refused(publisher):
    make_dataset(publisher["org"], slug="energy")
    with pytest.raises(ValidationError) as caught:
        make_dataset(publisher["org"], slug="energy")
    assert "slug" in caught.value.message_dict


def test_outsider_cannot_create_for_an_organisation(publisher):
    with pytest.raises(PermissionDenied):
        services.dataset_create(
            actor=publisher["outsider"], organisation=publisher["org"], data={"title": {"en": "x"}}
        )


def test_update_changes_fields_and_members_cannot_change_access_rights(publisher):
    dataset = make_dataset(publisher["org"], access_rights="restricted")
    services.dataset_update(
        actor=publisher["member"], dataset=dataset, data={"keywords": ["a", "b", "A"]}
    )
    dataset.refresh_from_db()
    assert dataset.keywords == ["a", "b"]
    with pytest.raises(ValidationError) as caught:
        services.dataset_update(
            actor=publisher["member"], dataset=dataset, data={"access_rights": "public"}
        )
    assert "access_rights" in caught.value.message_dict
    services.dataset_update(
        actor=publisher["steward"], dataset=dataset, data={"access_rights": "public"}
    )
    dataset.refresh_from_db()
    assert dataset.access_rights == "public"
    with pytest.raises(ValidationError) as caught:
        services.dataset_update(
            actor=publisher["steward"], dataset=dataset, data={"personal_data": True}
        )
    assert "access_rights" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        services.dataset_update(
            actor=publisher["outsider"], dataset=dataset, data={"keywords": ["x"]}
        )
    with pytest.raises(ValidationError):
        services.dataset_update(actor=None, dataset=dataset, data={"slug": "other"})


def test_publish_and_archive_follow_the_state_machine(publisher):
    dataset = make_dataset(publisher["org"])
    with pytest.raises(PermissionDenied):
        services.dataset_publish(actor=publisher["member"], dataset=dataset)
    dataset = services.dataset_publish(actor=publisher["steward"], dataset=dataset)
    assert dataset.status == "published" and dataset.issued_at is not None
    with pytest.raises(InvalidTransition):
        services.dataset_publish(actor=publisher["steward"], dataset=dataset)
    dataset = services.dataset_archive(actor=publisher["owner"], dataset=dataset)
    assert dataset.status == "archived"
    with pytest.raises(InvalidTransition):
        services.dataset_archive(actor=publisher["owner"], dataset=dataset)
    with pytest.raises(InvalidTransition):
        add_csv_version(dataset)
    with pytest.raises(InvalidTransition):
        services.dataset_update(actor=None, dataset=dataset, data={"keywords": ["x"]})
    dataset = services.dataset_publish(actor=publisher["owner"], dataset=dataset)
    assert dataset.status == "published"
    assert (
        list(
            AuditEvent.objects.filter(object_id=str(dataset.pk)).values_list("action", flat=True)
        ).count("dataset.publish")
        == 2
    )


def test_metadata_score_is_stored_with_its_reasons(publisher):
    dataset = make_dataset(publisher["org"])
    assert dataset.metadata_score is not None
    assert dataset.metadata_reasons
    bare = services.dataset_create(
        actor=None, organisation=publisher["org"], data={"title": {"en": "Bare"}}
    )
    assert bare.metadata_score < dataset.metadata_score


def test_declared_schema_follows_the_quality_rules(publisher):
    """The metadata form once took a type the quality checks refuse (and cannot cast to)."""
    data = {"title": {"en": "x"}, "declared_schema": [{"name": "kwh", "type": "float"}]}
    with pytest.raises(ValidationError) as caught:
        services.dataset_create(actor=None, organisation=publisher["org"], data=data)
    assert "type" in caught.value.message_dict["declared_schema"][0]
    assert not Dataset.objects.exists()
    dataset = make_dataset(publisher["org"])
    with pytest.raises(ValidationError) as caught:
        services.dataset_update(
            actor=None, dataset=dataset, data={"declared_schema": [{"name": "a", "unit": "kWh"}]}
        )
    assert list(caught.value.message_dict) == ["declared_schema"]
    services.dataset_update(
        actor=None, dataset=dataset, data={"declared_schema": [{"name": "kwh", "type": "number"}]}
    )
    dataset.refresh_from_db()
    assert dataset.declared_schema == [{"name": "kwh", "type": "number"}]
