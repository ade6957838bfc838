"""Playwright fixtures driving Debian's Chromium (never a downloaded browser).

`page` is one signed-out browser tab on the live server; `open_page(**context_options)` opens
another tab in a fresh context (a second person, a phone viewport). When a test fails, every tab
it opened is saved as a screenshot in the test's tmp_path. A tab that asks another host for
anything, or that throws a JavaScript error, fails the test: the portal must work offline.
"""

import os
import shutil
from urllib.parse import urlsplit

import pytest
from django.db import connections

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so fixtures can tell whether it failed."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


def _failed(request) -> bool:
    reports = request.node.stash.get(REPORTS, {})
    return any(report.failed for report in reports.values())


@pytest.fixture
def chromium(live_server, monkeypatch):
    if not shutil.which(CHROMIUM):
        message = f"browser tests need Debian's chromium at {CHROMIUM}; `apt-get install chromium`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"!!! SKIPPED: {message}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's loop runs, the test's ORM calls get connections of their own,
            # which nothing else closes; left open, PostgreSQL cannot drop the test database.
            connections.close_all()


@pytest.fixture
def open_page(chromium, live_server, request, tmp_path):
    """Open a tab in a new browser context; keyword arguments go to `browser.new_context`."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(live_server.url))
    contexts, pages, foreign, js_errors = [], [], [], []

    def only_this_server(route):
        url = route.request.url
        if url.startswith((origin + "/", "data:", "blob:", "about:")):
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    def open_(**options):
        options = {"base_url": live_server.url, "locale": "en-GB", **options}
        context = chromium.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", only_this_server)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: js_errors.append(str(error)))
        pages.append(page)
        return page

    yield open_

    if _failed(request):
        for number, page in enumerate(pages, 1):
            path = tmp_path / f"page-{number}.png"
            try:
                page.screenshot(path=path, full_page=True)
                print(f"screenshot of {page.url}: {path}")
            except Exception as exc:  # a missing screenshot must not hide the failure
                print(f"no screenshot of page {number}: {exc}")
    for context in contexts:
        context.close()
    assert not foreign, f"pages asked other hosts for: {foreign}"
    assert not js_errors, f"JavaScript errors: {js_errors}"


@pytest.fixture
def page(open_page):
    return open_page()
