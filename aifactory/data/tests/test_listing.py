"""Published datasets are found in the catalogue's search and matchmaking (DATA_LISTING_HOOKS)."""

import pytest
from django.test import Client

from aifactory.catalog import services as catalog_services
from aifactory.catalog.matching import match
from aifactory.catalog.models import Offering, OfferingStatus
from aifactory.data.models import Dataset
from aifactory.data.services import dataset_listing_notify


@pytest.fixture
def dataset(make_org):
    publisher = make_org(legal_name="Luxembourg Energy Data Service")
    return Dataset.objects.create(
        publisher=publisher,
        identifier="aifh-household-electricity",
        slug="household-electricity",
        title={"en": "Household electricity consumption", "fr": "Consommation d'électricité"},
        description={
            "en": "Quarter-hourly electricity consumption of 500 households, for load forecasting."
        },
        keywords=["electricity", "smart meter", "forecasting"],
        themes=["ENER", "ENVI"],
        access_rights="restricted",
        status="published",
    )


def notify(dataset, capture):
    with capture(execute=True):
        dataset_listing_notify(dataset)
    return Offering.objects.filter(external_id=f"data-{dataset.pk}").first()


def test_a_published_dataset_is_a_catalogue_offering_found_by_the_matchmaking(
    dataset, django_capture_on_commit_callbacks
):
    offering = notify(dataset, django_capture_on_commit_callbacks)
    assert offering.type == "dataset" and offering.status == OfferingStatus.PUBLISHED
    assert sorted(offering.sectors) == ["energy", "sustainability"]
    assert offering.provider_organisation == dataset.publisher
    assert offering.url.endswith("/datasets/household-electricity/")
    catalog_services.catalog_index_pending()
    # A need in German finds the dataset described in English and French.
    found = match("Wir wollen den Stromverbrauch von Haushalten vorhersagen", limit=10)
    assert offering.pk in [m.offering.pk for m in found.matches]
    page = Client().get("/catalog/", {"type": "dataset"}).content.decode()
    assert "Household electricity consumption" in page


def test_an_archived_or_internal_dataset_leaves_the_catalogue_and_comes_back(
    dataset, django_capture_on_commit_callbacks
):
    notify(dataset, django_capture_on_commit_callbacks)
    dataset.access_rights = "internal"
    offering = notify(dataset, django_capture_on_commit_callbacks)
    assert offering.status == OfferingStatus.ARCHIVED
    dataset.access_rights = "public"
    dataset.title = {"en": "Household electricity, 2025"}
    offering = notify(dataset, django_capture_on_commit_callbacks)
    assert offering.status == OfferingStatus.PUBLISHED
    assert offering.title == {"en": "Household electricity, 2025"}
    assert Offering.objects.filter(type="dataset").count() == 1


def test_a_failing_hook_does_not_undo_the_dataset_change(
    dataset, settings, django_capture_on_commit_callbacks
):
    settings.DATA_LISTING_HOOKS = ["aifactory.data.tests.test_listing.broken_hook"]
    dataset.title = {"en": "Renamed"}
    dataset.save()
    assert notify(dataset, django_capture_on_commit_callbacks) is None
    assert Dataset.objects.get(pk=dataset.pk).title == {"en": "Renamed"}


def broken_hook(*, record, listed):
    raise RuntimeError("the catalogue is down")
