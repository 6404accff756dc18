"""The composer's tool toggles in chromium: the catalogue's tools shown, on as their
defaults, a turn sent with exactly the ones left on, and a conversation remembering them."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("approve", [True, False])
def test_an_mcp_approval_is_answered_in_the_page_and_the_turn_streams_on(
    browser, served_app: ServedApp, tmp_path, approve
) -> None:
    """The turn waits with an approval card (server, tool, arguments); Approve or Deny
    sends the answer, and the same turn goes on to its end (a call, or a message only)."""
    app = served_app.start()
    docs = {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://docs.example.test/mcp",
        "require_approval": "always",
    }
    catalogue = tmp_path / "tools.json"
    catalogue.write_text(
        json.dumps([{"name": "docs", "label": "Docs", "default": True, "tool": docs}])
    )
    app.manage("tools", "import", str(catalogue))
    page = new_page(browser, app)
    try:
        page.locator("#tool-toggles input[value=docs]").wait_for()
        assert page.is_checked("#tool-toggles input[value=docs]")
        turn_id = send(page, "Find the event log [sim:mcp tps=0]")
        card = page.locator(
            f"article.turn[data-turn-id='{turn_id}'] .card", has_text="MCP approval requested"
        )
        button = card.get_by_role("button", name="Approve" if approve else "Deny")
        button.wait_for()
        assert "docs" in card.inner_text() and "search_docs" in card.inner_text()
        assert stored_turn(page, turn_id)["status"] == "waiting"
        button.click()
        assert wait_done(page, turn_id) == "completed"
        stored = stored_turn(page, turn_id)
        kinds = [item["type"] for item in stored["output"]]
        assert ("mcp_call" in kinds) is approve
        assert kinds[-1] == "message"
        assert page.errors == []
    finally:
        page.context.close()


def test_a_preset_sets_the_tool_toggles_of_a_new_conversation(browser, served_app: ServedApp):
    """Choosing a preset turns on its default tools and only those; the turn carries them;
    choosing no preset again brings back the catalogue's defaults."""
    served_app.manage(
        "shell",
        "-c",
        "from streaming.models import Preset; "
        "Preset.objects.create(name='Clock', model='sim-function-call', tools=['current_time'])",
    )
    page = new_page(browser, served_app.start())
    try:
        page.wait_for_selector(".preset-picker:not([hidden])")
        page.locator("#tool-toggles input[value=search_conversations]").wait_for()
        assert page.is_checked("#tool-toggles input[value=search_conversations]")
        page.select_option("#preset-select", label="Clock")
        page.wait_for_function(
            "() => !document.querySelector('#tool-toggles input[value=search_conversations]')"
            ".checked"
        )
        assert page.is_checked("#tool-toggles input[value=current_time]")
        page.select_option("#preset-select", index=0)
        page.wait_for_function(
            "() => document.querySelector('#tool-toggles input[value=search_conversations]')"
            ".checked"
        )
        page.select_option("#preset-select", label="Clock")
        page.wait_for_function(
            "() => !document.querySelector('#tool-toggles input[value=search_conversations]')"
            ".checked"
        )
        turn_id = send(page, "What time is it? [sim:function-call tps=0]")
        assert wait_done(page, turn_id) == "completed"
        stored = stored_turn(page, turn_id)
        assert stored["tools"] == ["current_time"]
        assert page.errors == []
    finally:
        page.context.close()
