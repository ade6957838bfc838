"""The demo data: a publisher with a public, a restricted and an internal dataset, each with a
version, published; a second run changes nothing."""

import pytest

from aifactory.accounts.demo import seed_demo
from aifactory.data.demo import load_demo_data
from aifactory.data.models import Dataset
from aifactory.data.tests.data_helpers import *  # noqa: F403

pytestmark = pytest.mark.django_db


def test_demo_datasets(data_storage, mailoutbox):
    seed_demo()  # the publisher and its steward (steward@opendata.demo)
    mailoutbox.clear()
    assert "lu-electricity-consumption" in load_demo_data()
    datasets = {d.slug: d for d in Dataset.objects.all()}
    assert {d.access_rights for d in datasets.values()} == {"public", "restricted", "internal"}
    for dataset in datasets.values():
        assert dataset.is_demo and dataset.status == "published"
        assert not dataset.personal_data
        version = dataset.versions.get()
        assert version.status == "ready" and version.distributions.get().format == "csv"
    energy = datasets["lu-electricity-consumption"].versions.get().distributions.get()
    with data_storage.open(energy.storage_key) as body:
        assert body.read().count(b"\n") == 1 + 12 * 24
    publisher = datasets["lu-electricity-consumption"].publisher
    assert publisher.is_demo and publisher.memberships.get().user.email == "steward@opendata.demo"
    assert load_demo_data() == "demo data: nothing new"
    assert Dataset.objects.count() == 3
    assert mailoutbox == []
