"""The whole path through the services of all three parts: a publisher's restricted CSV, profiled
into its Parquet copy, asked for by another organisation, approved, then downloaded, previewed and
queried; after the expiry, nothing more."""

from datetime import timedelta

import pytest
from django.utils import timezone

from aifactory.core.errors import NotAllowed
from aifactory.data import services
from aifactory.data.models import AccessLogEntry, Grant
from aifactory.data.tests.data_helpers import (  # noqa: F401
    add_csv_version,
    data_storage,
    make_dataset,
    publisher,
)


def test_publish_profile_request_read_expire(publisher):  # noqa: F811
    dataset = make_dataset(
        publisher["org"],
        actor=publisher["owner"],
        publish=True,
        access_rights="restricted",
        slug="commune-energy",
        use_conditions="No re-identification.",
    )
    version = add_csv_version(dataset, actor=publisher["owner"])
    services.version_profile(str(version.pk))
    csv = version.distributions.get()
    assert csv.parquet_key

    outsider = publisher["outsider"]
    with pytest.raises(NotAllowed):
        services.distribution_preview(actor=outsider, distribution=csv)
    req = services.request_create(
        actor=outsider,
        dataset=dataset,
        organisation=publisher["other_org"],
        project="PRJ-1",
        purpose="Forecasting.",
        duration_days=7,
        accept_conditions=True,
    )
    assert req.conditions_accepted == "No re-identification."
    services.request_approve(actor=publisher["steward"], request=req)

    preview = services.distribution_preview(actor=outsider, distribution=csv)
    assert preview["columns"] == ["id", "name", "kwh", "day"] and len(preview["rows"]) == 3
    result = services.query_run(
        actor=outsider, sql="SELECT name FROM commune_energy WHERE kwh > 100 ORDER BY id"
    )
    assert result["rows"] == [["Esch"], ["Luxembourg"]]
    stream, name, _media = services.distribution_download(actor=outsider, distribution=csv)
    with stream:
        assert stream.read().startswith(b"id,name,kwh,day")
    assert sorted(AccessLogEntry.objects.values_list("action", flat=True)) == [
        "download",
        "preview",
        "query",
    ]

    Grant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(NotAllowed):
        services.distribution_download(actor=outsider, distribution=csv)
    assert services.grants_expire_due() == 1
