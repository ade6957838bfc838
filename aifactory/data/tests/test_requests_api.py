"""Access to data through the HTTP API: requests, decisions, grants, the log, download, preview,
query; what others may not see answers 404."""

from datetime import timedelta

import pytest
from django.utils import timezone

from aifactory.conftest import ApiClient
from aifactory.data.models import AccessLogEntry, Grant
from aifactory.data.tests.data_helpers import data_storage, publisher  # noqa: F401
from aifactory.data.tests.requests_helpers import dataset_make, version_make


@pytest.fixture
def restricted(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], slug="meter-readings")
    version_make(dataset)
    return dataset


def _ask(client, dataset, org, **fields):
    body = {
        "organisation": str(org.pk),
        "project": "PRJ-7",
        "purpose": "Forecasting.",
        "duration_days": 30,
        "accept_conditions": True,
    } | fields
    return client.post(f"/datasets/{dataset.slug}/requests", body)


def test_request_decide_and_read(publisher, restricted):  # noqa: F811
    outsider = ApiClient(publisher["outsider"])
    steward = ApiClient(publisher["steward"])
    file = f"/datasets/{restricted.slug}/versions/1/files/data.csv"
    assert outsider.get(file).status_code == 403
    assert outsider.post("/query", {"sql": "SELECT * FROM meter_readings"}).status_code == 422

    response = _ask(outsider, restricted, publisher["other_org"])
    assert response.status_code == 201, response.content
    req = response.json()
    assert req["status"] == "pending" and req["conditions_accepted"] == restricted.use_conditions
    assert _ask(outsider, restricted, publisher["other_org"]).status_code == 409

    listed = steward.get("/data-requests?scope=decide&status=pending").json()
    assert [r["id"] for r in listed["items"]] == [req["id"]]
    assert outsider.get("/data-requests?scope=decide").json()["count"] == 0
    assert outsider.get("/data-requests").json()["count"] == 1
    assert ApiClient(publisher["member"]).get(f"/data-requests/{req['id']}").status_code == 404

    response = outsider.post(f"/data-requests/{req['id']}/approve", {})
    assert response.status_code == 403
    response = steward.post(
        f"/data-requests/{req['id']}/approve", {"conditions": "Cite us.", "expires_at": None}
    )
    assert response.status_code == 200, response.content
    approved = response.json()
    assert approved["status"] == "approved" and approved["grant"]["conditions"] == "Cite us."
    assert steward.post(f"/data-requests/{req['id']}/refuse", {"reason": "x"}).status_code == 409
    assert outsider.post(f"/data-requests/{req['id']}/withdraw").status_code == 409

    response = outsider.get(file)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="data.csv"'
    assert b"".join(response.streaming_content).startswith(b"id,name,kwh")
    preview = outsider.get(file + "/preview?rows=2").json()
    assert preview["columns"] == ["id", "name", "kwh"] and len(preview["rows"]) == 2
    result = outsider.post("/query", {"sql": "SELECT sum(kwh) AS kwh FROM meter_readings"})
    assert result.status_code == 200 and result.json()["rows"] == [["528.75"]]  # decimals as text

    log = steward.get(f"/datasets/{restricted.slug}/access-log").json()
    assert [e["action"] for e in log["items"]] == ["query", "preview", "download"]
    assert {e["organisation"] for e in log["items"]} == {str(publisher["other_org"].pk)}
    assert steward.get(f"/datasets/{restricted.slug}/access-log?action=query").json()["count"] == 1
    assert outsider.get(f"/datasets/{restricted.slug}/access-log").status_code == 403

    grants = steward.get(f"/datasets/{restricted.slug}/grants").json()
    assert len(grants) == 1 and grants[0]["live"] is True
    grant_id = grants[0]["id"]
    assert outsider.post(f"/grants/{grant_id}/revoke", {"reason": "x"}).status_code == 404
    response = steward.post(f"/grants/{grant_id}/revoke", {"reason": "Misuse."})
    assert response.status_code == 200 and response.json()["live"] is False
    assert outsider.get(file).status_code == 403
    assert steward.post(f"/grants/{grant_id}/revoke", {"reason": "again"}).status_code == 409


def test_validation_names_the_field(publisher, restricted):  # noqa: F811
    outsider = ApiClient(publisher["outsider"])
    response = _ask(outsider, restricted, publisher["other_org"], accept_conditions=False)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["accept_conditions"]
    response = _ask(outsider, restricted, publisher["other_org"], duration_days=400)
    assert list(response.json()["errors"]) == ["duration_days"]
    response = _ask(outsider, restricted, publisher["org"])
    assert list(response.json()["errors"]) == ["organisation"]
    response = _ask(outsider, restricted, publisher["other_org"], colour="red")
    assert response.status_code == 422
    response = outsider.post("/query", {"sql": "DELETE FROM meter_readings"})
    assert response.status_code == 422 and "sql" in response.json()["errors"]


def test_expired_grant_reads_nothing(publisher, restricted):  # noqa: F811
    outsider = ApiClient(publisher["outsider"])
    req = _ask(outsider, restricted, publisher["other_org"]).json()
    ApiClient(publisher["steward"]).post(f"/data-requests/{req['id']}/approve", {})
    Grant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    file = f"/datasets/{restricted.slug}/versions/1/files/data.csv"
    assert outsider.get(file).status_code == 403
    assert outsider.get(file + "/preview").status_code == 403
    response = outsider.post("/query", {"sql": "SELECT * FROM meter_readings"})
    assert response.status_code == 422
    assert not AccessLogEntry.objects.exists()


def test_internal_data_does_not_exist_for_others(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], access_rights="internal", slug="salaries")
    version_make(dataset)
    outsider = ApiClient(publisher["outsider"])
    base = f"/datasets/{dataset.slug}"
    for path in (
        base + "/versions/1/files/data.csv",
        base + "/versions/1/files/data.csv/preview",
        base + "/grants",
        base + "/access-log",
    ):
        assert outsider.get(path).status_code == 404, path
    assert _ask(outsider, dataset, publisher["other_org"]).status_code == 404
    response = outsider.post("/query", {"sql": "SELECT * FROM salaries"})
    assert response.status_code == 422 and "does not exist" in response.json()["errors"]["sql"][0]
    anonymous = ApiClient()
    assert anonymous.get(base + "/versions/1/files/data.csv").status_code == 404
    member = ApiClient(publisher["member"])
    assert member.get(base + "/versions/1/files/data.csv").status_code == 200


def test_open_data_needs_no_token(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], access_rights="public", slug="communes")
    version_make(dataset)
    anonymous = ApiClient()
    response = anonymous.get(f"/datasets/{dataset.slug}/versions/1/files/data.csv")
    assert response.status_code == 200
    assert anonymous.get(f"/datasets/{dataset.slug}/versions/9/files/data.csv").status_code == 404
    assert anonymous.post("/query", {"sql": "SELECT 1"}).status_code == 401
