"""The composer's tool toggles in chromium: the catalogue's tools shown, on as their
defaults, a turn sent with exactly the ones left on, and a conversation remembering them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.served import new_page, send, stored_turn, wait_done
from tests.served_app import ServedApp

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, served_app: ServedApp) -> Iterator:
    page = new_page(browser, served_app.start())
    yield page
    page.context.close()


def test_a_turn_carries_the_tools_left_on_and_the_conversation_remembers_them(page) -> None:
    toggles = page.locator("#tool-toggles input[type=checkbox]")
    toggles.first.wait_for()
    assert {toggles.nth(i).get_attribute("value") for i in range(toggles.count())} == {
        "current_time",
        "search_conversations",
    }
    assert all(toggles.nth(i).is_checked() for i in range(toggles.count()))
    page.uncheck("#tool-toggles input[value=current_time]")
    turn_id = send(page, "What time is it? [sim:function-call tps=0]")
    assert wait_done(page, turn_id) == "completed"
    stored = stored_turn(page, turn_id)
    assert stored["tools"] == ["search_conversations"]
    # The simulator called the one function offered, not the one switched off.
    calls = [item["name"] for item in stored["output"] if item["type"] == "function_call"]
    assert calls == ["search_conversations"]
    page.wait_for_url("**/c/*/")
    page.reload()
    page.locator("#tool-toggles input[value=current_time]").wait_for()
    assert not page.is_checked("#tool-toggles input[value=current_time]")
    assert page.is_checked("#tool-toggles input[value=search_conversations]")
    assert page.errors == []
