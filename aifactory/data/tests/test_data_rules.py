"""The data app's shared rules, each written once: a live grant, a listed dataset, the newest ready
version, the person's organisations, and who sees which dataset (the DCAT-AP export and the SQL
page ask ``datasets_visible`` too)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aifactory.core.permissions import forget_roles, organisation_ids
from aifactory.data import dcat, services
from aifactory.data.datasets_selectors import datasets_visible
from aifactory.data.models import Dataset, DatasetVersion, Grant, VersionStatus
from aifactory.data.tests.data_helpers import *  # noqa: F403
from aifactory.data.tests.requests_helpers import dataset_make, request_make, version_make


def _identifiers(graph) -> set[str]:
    from rdflib.namespace import DCTERMS, RDF

    from aifactory.data.dcat import DCAT

    return {str(graph.value(s, DCTERMS.identifier)) for s in graph.subjects(RDF.type, DCAT.Dataset)}


def test_live_grants(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"])
    req = request_make(dataset, publisher["outsider"], publisher["other_org"])
    grant = services.request_approve(actor=publisher["steward"], request=req)
    assert grant.is_live
    assert list(Grant.objects.live()) == [grant]
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    grant.refresh_from_db()
    assert not grant.is_live
    assert not Grant.objects.live().exists()
    Grant.objects.filter(pk=grant.pk).update(
        expires_at=timezone.now() + timedelta(days=1), revoked_at=timezone.now()
    )
    grant.refresh_from_db()
    assert not grant.is_live
    assert not dataset.grants.live().exists()


def test_listed_datasets(publisher):  # noqa: F811
    org = publisher["org"]
    public = dataset_make(org, access_rights="public")
    restricted = dataset_make(org)
    internal = dataset_make(org, access_rights="internal")
    draft = dataset_make(org, access_rights="public", status="draft")
    assert set(Dataset.objects.listed()) == {public, restricted}
    assert [d.is_listed for d in (public, restricted, internal, draft)] == [
        True,
        True,
        False,
        False,
    ]


def test_newest_ready_version(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], access_rights="public")
    assert dataset.newest_ready_version() is None
    version_make(dataset)
    second = version_make(dataset)
    DatasetVersion.objects.create(dataset=dataset, number=3, status=VersionStatus.FAILED)
    assert dataset.newest_ready_version() == second
    loaded = Dataset.objects.with_newest_ready_version().get(pk=dataset.pk)
    assert loaded.newest_ready_version() == second
    assert Dataset(publisher=publisher["org"]).newest_ready_version() is None


def test_organisation_ids(publisher, add_member):  # noqa: F811
    member = publisher["member"]
    assert organisation_ids(member) == [publisher["org"].pk]
    add_member(publisher["other_org"], member)
    forget_roles(member)
    assert set(organisation_ids(member)) == {publisher["org"].pk, publisher["other_org"].pk}
    assert organisation_ids(None) == []


def test_dcat_export_hides_what_datasets_visible_hides(publisher):  # noqa: F811
    """A deactivated member sees no internal dataset of their former organisation, in the
    DCAT-AP export as anywhere else."""
    internal = dataset_make(publisher["org"], access_rights="internal")
    public = dataset_make(publisher["org"], access_rights="public")
    member = publisher["member"]
    assert internal.identifier in _identifiers(dcat.catalog_graph(member))
    member.is_active = False
    member.save(update_fields=["is_active"])
    forget_roles(member)
    assert internal not in datasets_visible(member)
    exported = _identifiers(dcat.catalog_graph(member))
    assert public.identifier in exported
    assert internal.identifier not in exported


def _sql_page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/data/query/")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_sql_page_queries_do_not_grow_with_the_datasets(client, publisher):  # noqa: F811
    org, outsider = publisher["org"], publisher["outsider"]

    def add(n: int):
        for _ in range(n):
            restricted = dataset_make(org)
            version_make(restricted)
            req = request_make(restricted, outsider, publisher["other_org"])
            services.request_approve(actor=publisher["steward"], request=req)
            version_make(dataset_make(org, access_rights="public"))

    add(1)
    client.force_login(outsider)
    client.get("/data/query/")  # the session's first request does more (once)
    few = _sql_page_queries(client)
    add(4)
    many = _sql_page_queries(client)
    assert many == few
    page = client.get("/data/query/").content.decode()
    assert page.count("v1,") == 10  # every readable table is listed


def test_dataset_list_publisher_filter(client, publisher, make_org):  # noqa: F811
    """The publisher filter offers each publisher of a visible dataset once, and no other."""
    dataset_make(publisher["org"], access_rights="public")
    dataset_make(publisher["org"], access_rights="public")
    hidden = make_org(legal_name="Hidden S.A.")
    dataset_make(hidden, access_rights="internal")
    page = client.get(reverse("data:dataset_list")).content.decode()
    assert page.count("Publisher S.A.") >= 1
    assert f'value="{publisher["org"].pk}"' in page
    assert page.count(f'value="{publisher["org"].pk}"') == 1
    assert "Hidden S.A." not in page


def test_an_id_is_never_taken_for_a_slug_spelled_like_it(api, publisher):  # noqa: F811
    """A member names a dataset after another's (public) id: the id still finds the real one,
    in the pages' lookup and in the DCAT-AP and Croissant answers that use it."""
    from aifactory.data.datasets_selectors import dataset_get
    from aifactory.data.tests.data_helpers import add_csv_version, make_dataset

    real = make_dataset(publisher["org"], publish=True, title={"en": "The real one"})
    impostor = make_dataset(publisher["other_org"], publish=True, title={"en": "Impostor"})
    add_csv_version(real)
    add_csv_version(impostor)
    Dataset.objects.filter(pk=impostor.pk).update(slug=str(real.pk))
    assert dataset_get(None, str(real.pk)) == real
    for path in (f"/datasets/{real.pk}/dcat.ttl", f"/datasets/{real.pk}/croissant"):
        answer = api(publisher["outsider"]).get(path)
        assert answer.status_code == 200, path
        text = answer.content.decode()
        assert "The real one" in text and "Impostor" not in text, path
