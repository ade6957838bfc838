"""Data services end to end in a real browser (Playwright driving Debian's Chromium).

A publisher's data steward publishes a restricted dataset with a CSV uploaded through the portal;
the background worker profiles it and the steward sees its quality report. A person of another
organisation asks for access, the steward approves it in the inbox, the requester downloads the
very bytes that were uploaded, and the steward finds the download in the access log.
"""

import pytest
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import expect

from aifactory.conftest import PASSWORD
from aifactory.data.models import AccessAction, AccessLogEntry, AccessRequest, Dataset
from aifactory.data.tests.data_helpers import data_storage, publisher  # noqa: F401

pytestmark = pytest.mark.browser

SLUG = "meter-readings"
CSV = (
    b"commune,kwh,day\r\n"
    b"Esch,120.5,2024-01-01\r\n"
    b"Diekirch,98.0,2024-01-02\r\n"
    b"Luxembourg,310.25,2024-01-03\r\n"
)


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def run_queued_tasks() -> list[DBTaskResult]:
    """Drain the task queue the way `aifactory worker --batch` does (in this process, so that it
    sees the test database); return the tasks it ran."""
    queued = list(DBTaskResult.objects.ready().values_list("pk", flat=True))
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="browser-test",
        excluded_queue_names=[],
    ).run()
    return list(DBTaskResult.objects.filter(pk__in=queued))


def test_publish_profile_request_approve_download(
    page,
    open_page,
    publisher,  # noqa: F811
    tmp_path,
):
    steward, requester = publisher["owner"], publisher["outsider"]
    upload = tmp_path / "readings.csv"
    upload.write_bytes(CSV)

    # The steward publishes a restricted dataset from the catalogue.
    sign_in(page, steward.email)
    page.goto("/datasets/")
    page.get_by_role("link", name="Publish a dataset").click()
    form = page.locator("#dataset-form")
    form.get_by_label("Short name").fill(SLUG)
    form.get_by_label("Title (English)").fill("Meter readings")
    form.get_by_label("Description (English)").fill("Electricity used per commune, by day.")
    form.get_by_label("Keywords").fill("energy, meters")
    form.get_by_label("Energy").check()
    form.get_by_label("Licence", exact=True).fill("CC_BY_4_0")
    form.get_by_label("Access rights").select_option("restricted")
    form.get_by_label("Data-use conditions").fill("Research use only; no re-identification.")
    page.locator("#dataset-save").click()

    # A draft is made; its first version is a CSV uploaded from this computer.
    expect(page.locator("#version-form")).to_be_visible()
    page.get_by_label("Files").set_input_files(upload)
    page.get_by_label("What changed").fill("First readings.")
    page.locator("#version-save").click()
    expect(page.locator("#messages")).to_contain_text("Version 1 is stored")
    expect(page.locator("#dataset-status")).to_have_attribute("data-status", "draft")
    page.locator("#dataset-publish").get_by_role("button", name="Publish").click()
    expect(page.locator("#dataset-status")).to_have_attribute("data-status", "published")
    dataset = Dataset.objects.get(slug=SLUG)
    assert dataset.access_rights == "restricted"
    version = dataset.versions.get()
    distribution = version.distributions.get()
    assert (distribution.name, distribution.size) == ("readings.csv", len(CSV))

    # Until the worker has run, the profile is waiting; the upload queued it on commit.
    expect(page.locator("#profile-1 [data-profile='pending']")).to_be_visible()
    expect(page.locator("#data-quality")).to_contain_text("not measured yet")
    ran = run_queued_tasks()
    profiled = [t for t in ran if t.task_path.endswith(".version_profile")]
    assert [t.args_kwargs["args"] for t in profiled] == [[str(version.pk)]]
    assert [t.status for t in profiled] == ["SUCCESSFUL"]
    version.refresh_from_db()
    assert version.quality_score is not None

    # The steward reloads the dataset page and reads the quality report.
    page.reload()
    expect(page.locator("#data-quality-score")).to_have_text(f"{version.quality_score} / 100")
    expect(page.locator("#metadata-quality-score")).to_contain_text("/ 100")
    expect(page.locator("#quality-checks tbody tr").first).to_be_visible()
    profile = page.locator("#profile-1")
    expect(profile).to_have_attribute("data-file", "readings.csv")
    expect(profile).to_contain_text("3 rows")
    expect(profile.locator("tr[data-column]")).to_have_count(3)
    commune = profile.locator("tr[data-column='commune']")
    expect(commune).to_contain_text("Diekirch")
    expect(commune.locator("td").nth(3)).to_have_text("3")  # distinct
    kwh = profile.locator("tr[data-column='kwh']")
    expect(kwh.locator("td").nth(4)).to_have_text("98.0")  # min
    assert float(kwh.locator("td").nth(6).inner_text()) == 176.25  # mean
    expect(page.locator("#version-1 tr[data-file='readings.csv']")).to_contain_text("3 rows")

    # A person of another organisation sees the dataset but not its data, and asks for access.
    reader = open_page()
    sign_in(reader, requester.email)
    reader.goto(f"/datasets/{SLUG}/")
    access = reader.locator("#dataset-access")
    expect(access).to_have_attribute("data-can-read", "no")
    expect(reader.locator("#access-cannot-read")).to_be_visible()
    expect(reader.locator("[data-download]")).to_have_count(0)
    download_url = f"/datasets/{SLUG}/v/1/files/readings.csv"
    assert reader.request.get(download_url).status == 403
    reader.locator("#request-access").click()
    expect(reader.locator("#use-conditions")).to_contain_text("no re-identification")
    request_form = reader.locator("#request-form")
    request_form.get_by_label("For the organisation").select_option(label="Other S.à r.l.")
    request_form.get_by_label("Project", exact=True).fill("grid-forecast")
    request_form.get_by_label("Purpose").fill("Train a model forecasting the daily load.")
    request_form.get_by_label("For how many days").fill("30")
    request_form.get_by_label("I accept the data-use conditions").check()
    request_form.get_by_role("button", name="Send the request").click()
    expect(reader.locator("#request-status")).to_have_attribute("data-status", "pending")
    req = AccessRequest.objects.get(dataset=dataset)
    assert (req.organisation, req.requester) == (publisher["other_org"], requester)
    reader.goto(f"/datasets/{SLUG}/")
    expect(reader.locator("#access-my-requests [data-status]")).to_have_attribute(
        "data-status", "pending"
    )

    # The steward approves in the inbox.
    page.goto(f"/datasets/{SLUG}/")
    expect(page.locator("#access-steward")).to_contain_text("1 request waiting for a decision")
    page.goto("/data/requests/inbox/")
    row = page.locator(f"#request-{req.pk}")
    expect(row).to_contain_text("grid-forecast")
    expect(row).to_contain_text(requester.email)
    row.get_by_label("Conditions").fill("Cite the publisher.")
    row.get_by_role("button", name="Approve").click()
    expect(page.locator("#messages")).to_contain_text("Approved")
    expect(page.locator(f"#request-{req.pk}")).to_have_count(0)

    # The requester now may read the data and downloads the very bytes uploaded.
    reader.reload()
    expect(access).to_have_attribute("data-can-read", "yes")
    expect(reader.locator(".access-grant")).to_contain_text("Other S.à r.l. has access until")
    expect(reader.locator(".access-grant")).to_contain_text("Cite the publisher.")
    with reader.expect_download() as caught:
        reader.locator("[data-download='readings.csv']").click()
    download = caught.value
    assert download.suggested_filename == "readings.csv"
    assert download.path().read_bytes() == CSV

    # The steward finds the download in the access log.
    entry = AccessLogEntry.objects.get(dataset=dataset)
    assert (entry.action, entry.user, entry.organisation) == (
        AccessAction.DOWNLOAD,
        requester,
        publisher["other_org"],
    )
    page.goto(f"/datasets/{SLUG}/")
    page.locator("#access-steward").get_by_role("link", name="Access log").click()
    log = page.locator("#access-log tbody tr")
    expect(log).to_have_count(1)
    expect(log).to_contain_text(requester.email)
    expect(log).to_contain_text("Other S.à r.l. (grant)")
    expect(log).to_contain_text("download")
    expect(log).to_contain_text("v1")
