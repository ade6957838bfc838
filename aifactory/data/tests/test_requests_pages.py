"""The access pages: asking, deciding, grants, the log, download and preview links, SQL."""

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils.html import escape

from aifactory.data import services
from aifactory.data.models import AccessRequest, Grant, RequestStatus
from aifactory.data.requests_selectors import dataset_access_context
from aifactory.data.tests.data_helpers import data_storage, publisher  # noqa: F401
from aifactory.data.tests.requests_helpers import dataset_make, request_make, version_make


@pytest.fixture
def restricted(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], slug="meter-readings", personal_data=True)
    version_make(dataset)
    return dataset


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _access_partial(user, dataset) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(
        "data/_access.html", dataset_access_context(user, dataset), request=request
    )


def test_the_access_partial(publisher, restricted):  # noqa: F811
    outsider = publisher["outsider"]
    context = dataset_access_context(outsider, restricted)["access"]
    assert context["can_request"] and not context["can_read"]
    html = _access_partial(outsider, restricted)
    assert 'id="request-access"' in html and 'data-can-read="no"' in html
    req = request_make(restricted, outsider, publisher["other_org"])
    html = _access_partial(outsider, restricted)
    assert 'id="request-access"' not in html and 'data-status="pending"' in html
    steward_html = _access_partial(publisher["steward"], restricted)
    assert "1 request waiting for a decision" in steward_html
    services.request_approve(actor=publisher["steward"], request=req)
    html = _access_partial(outsider, restricted)
    assert 'data-can-read="yes"' in html and "has access until" in html


def test_the_file_links(publisher, restricted):  # noqa: F811
    request = RequestFactory().get("/")
    version = restricted.versions.get()
    context = {"dataset": restricted, "v": version, "f": version.distributions.get()}
    for user, shown in ((publisher["member"], True), (publisher["outsider"], False)):
        request.user = user
        html = render_to_string(
            "data/_request_file_links.html",
            context | dataset_access_context(user, restricted),
            request=request,
        )
        link = "/datasets/meter-readings/v/1/files/data.csv"
        assert (link in html and link + "/preview/" in html) == shown


def test_ask_decide_and_download_in_the_portal(publisher, restricted):  # noqa: F811
    outsider, steward = _client(publisher["outsider"]), _client(publisher["steward"])
    download = "/datasets/meter-readings/v/1/files/data.csv"
    assert outsider.get(download).status_code == 403

    form = outsider.get("/datasets/meter-readings/access/request/")
    assert form.status_code == 200 and restricted.use_conditions in form.content.decode()
    body = {
        "organisation": str(publisher["other_org"].pk),
        "project": "PRJ-9",
        "purpose": "Forecasting.",
        "duration_days": 30,
        "legal_basis": "",
    }
    response = outsider.post("/datasets/meter-readings/access/request/", body)
    assert response.status_code == 422
    text = response.content.decode()
    assert "name the legal basis" in text and "Accept the data-use conditions" not in text
    body |= {"legal_basis": "public_task"}
    response = outsider.post("/datasets/meter-readings/access/request/", body)
    assert (
        response.status_code == 422
        and "Accept the data-use conditions" in response.content.decode()
    )
    response = outsider.post(
        "/datasets/meter-readings/access/request/", body | {"accept_conditions": "on"}
    )
    req = AccessRequest.objects.get()
    assert response.status_code == 302 and response.url == f"/data/requests/{req.pk}/"
    assert "PRJ-9" in outsider.get("/data/requests/").content.decode()

    inbox = steward.get("/data/requests/inbox/").content.decode()
    assert f'id="request-{req.pk}"' in inbox
    response = steward.post(
        f"/data/requests/{req.pk}/approve/", {"conditions": "Cite us.", "next": "inbox"}
    )
    assert response.status_code == 302 and response.url == "/data/requests/inbox/"
    req.refresh_from_db()
    assert req.status == RequestStatus.APPROVED
    response = steward.post(f"/data/requests/{req.pk}/refuse/", {"reason": "x"})
    assert response.status_code == 409 and "approved already" in response.content.decode()
    req.refresh_from_db()
    assert req.status == RequestStatus.APPROVED

    response = outsider.get(download)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    preview = outsider.get(download + "/preview/", headers={"HX-Request": "true"})
    assert preview.status_code == 200 and "Luxembourg" in preview.content.decode()
    assert "<html" not in preview.content.decode()

    log = steward.get("/datasets/meter-readings/access/log/").content.decode()
    assert "outsider@other.example" in log and "v1/data.csv" in log
    assert outsider.get("/datasets/meter-readings/access/log/").status_code == 403

    grant = Grant.objects.get()
    assert "Cite us." in steward.get("/datasets/meter-readings/access/grants/").content.decode()
    response = steward.post(f"/data/grants/{grant.pk}/revoke/", {"reason": "Misuse."})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert outsider.get(download).status_code == 403


def test_refuse_and_withdraw(publisher, restricted):  # noqa: F811
    outsider, steward = _client(publisher["outsider"]), _client(publisher["steward"])
    req = request_make(restricted, publisher["outsider"], publisher["other_org"])
    assert steward.post(f"/data/requests/{req.pk}/refuse/", {"reason": ""}).status_code == 422
    assert outsider.post(f"/data/requests/{req.pk}/refuse/", {"reason": "x"}).status_code == 403
    assert steward.post(f"/data/requests/{req.pk}/refuse/", {"reason": "No."}).status_code == 302
    page = outsider.get(f"/data/requests/{req.pk}/").content.decode()
    assert 'data-status="refused"' in page and "No." in page
    again = request_make(restricted, publisher["outsider"], publisher["other_org"])
    assert steward.post(f"/data/requests/{again.pk}/withdraw/").status_code == 403
    assert outsider.post(f"/data/requests/{again.pk}/withdraw/").status_code == 302
    again.refresh_from_db()
    assert again.status == RequestStatus.WITHDRAWN


def test_internal_pages_are_not_found_for_others(publisher):  # noqa: F811
    dataset = dataset_make(publisher["org"], access_rights="internal", slug="salaries")
    version_make(dataset)
    outsider = _client(publisher["outsider"])
    for path in (
        "/datasets/salaries/v/1/files/data.csv",
        "/datasets/salaries/v/1/files/data.csv/preview/",
        "/datasets/salaries/access/request/",
        "/datasets/salaries/access/log/",
        "/datasets/salaries/access/grants/",
    ):
        assert outsider.get(path).status_code == 404, path
    assert Client().get("/datasets/salaries/v/1/files/data.csv").status_code == 404


def test_query_page(publisher, restricted):  # noqa: F811
    member = _client(publisher["member"])
    page = member.get("/data/query/").content.decode()
    assert "meter_readings" in page
    response = member.post("/data/query/", {"sql": "SELECT name FROM meter_readings ORDER BY id"})
    assert response.status_code == 200
    assert "Diekirch" in response.content.decode()
    response = member.post("/data/query/", {"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert response.status_code == 422 and "no files" in response.content.decode()
    outsider = _client(publisher["outsider"])
    assert "meter_readings" not in outsider.get("/data/query/").content.decode()


@pytest.mark.parametrize(
    "language, heading, refusal",
    [
        ("de", "Meine Datenanfragen", "Senden Sie nur eine Anweisung."),
        ("fr", "Mes demandes de données", "N'envoyez qu'une seule instruction."),
        ("lb", "Meng Donnéesufroen", "Schéckt nëmmen eng Uweisung."),
    ],
)
def test_pages_and_refusals_in_the_persons_language(publisher, language, heading, refusal):  # noqa: F811
    client = _client(publisher["member"])
    client.cookies["django_language"] = language
    assert heading in client.get("/data/requests/").content.decode()
    response = client.post("/data/query/", {"sql": "SELECT 1; SELECT 2"})
    assert escape(refusal) in response.content.decode()


def test_the_dataset_page_shows_access(publisher, restricted):  # noqa: F811
    page = _client(publisher["outsider"]).get(f"/datasets/{restricted.slug}/").content.decode()
    assert 'id="dataset-access"' in page and 'id="request-access"' in page
    page = _client(publisher["steward"]).get(f"/datasets/{restricted.slug}/").content.decode()
    assert 'id="access-steward"' in page and 'id="request-access"' not in page
