"""Search in the sidebar, in chromium against the served app: a finished turn is found by a
word of its message, the word is highlighted, and the hit opens its conversation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.served import new_page, send, wait_done
from tests.served_app import ServedApp

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, served_app: ServedApp, artifacts: Path) -> Iterator:
    app = served_app.start()
    opened = new_page(browser, app)
    opened.app = app
    yield opened
    opened.screenshot(path=artifacts / "search.png", full_page=True)
    opened.context.close()


def test_search_finds_a_finished_turn_and_highlights_the_word(page) -> None:
    turn_id = send(page, "Tell me about the quokka [sim:markdown tps=0 deltas=5 seed=3]")
    assert wait_done(page, turn_id) == "completed"
    page.fill("#search-input", "quokka")
    hit = page.locator("#search-results .search-hit a").first
    hit.wait_for()
    assert page.locator("#search-results mark").first.inner_text().lower() == "quokka"
    assert page.locator("#conversation-list").is_hidden()
    hit.click()
    page.wait_for_url(f"**/c/*/#turn-{turn_id}")
    page.fill("#search-input", '"unbalanced AND (')
    page.locator("#search-results .search-empty").wait_for()
    assert page.errors == []
