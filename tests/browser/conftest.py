"""Browser tests: Debian's chromium driven by PyPI playwright, pages served by page.route."""

import mimetypes
import os
import shutil
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, launch
from tests.browser.constants import with_constants

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
HARNESS_ORIGIN = "http://harness.test"
# The same policy the app sets: a module that needs inline script would fail here too.
HARNESS_CSP = "default-src 'self'; script-src 'self'; img-src 'self' data:; style-src 'self'"


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module, stopped when the module's tests are done.

    Playwright's sync API marks its event loop as running on this thread between calls; kept
    for the whole session, it would break every asyncio test that runs after the browser
    tests ("Runner.run() cannot be called from a running event loop"). Module scope stops it
    before pytest moves on to the next module.
    """
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def _serve(route, request_url: str) -> None:
    if not request_url.startswith(f"{HARNESS_ORIGIN}/"):
        route.abort()  # the page must need nothing from anywhere else
        return
    path = request_url.removeprefix(HARNESS_ORIGIN).split("?", 1)[0]
    if path.startswith("/static/"):
        file = ROOT / "static" / path.removeprefix("/static/")
    elif path.startswith("/harness/"):
        file = Path(__file__).parent / path.removeprefix("/harness/")
    else:
        file = None
    if file is None or not file.is_file():
        route.fulfill(status=404, body="not found")
        return
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.suffix in (".js", ".mjs"):
        content_type = "text/javascript"
    if file.suffix == ".html":
        body = with_constants(file.read_text(encoding="utf-8")).encode()
        headers = {"Content-Security-Policy": HARNESS_CSP}
    else:
        body, headers = file.read_bytes(), {}
    route.fulfill(status=200, body=body, content_type=content_type, headers=headers)


@pytest.fixture
def harness(browser):
    """A page with the renderer modules loaded and `window.harness` ready."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: _serve(route, route.request.url))
    page.goto(f"{HARNESS_ORIGIN}/harness/harness.html")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    page.errors = errors
    yield page
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
