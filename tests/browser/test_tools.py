"""The composer's tool toggles in chromium: the catalogue's tools shown, on as their
defaults, a turn sent with exactly the ones left on, and a conversation remembering them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest

from tests.browser.served import (
    new_page,
    ready,
    send,
    stored_turn,
    turn_selector,
    wait_done,
    watch,
)
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


def approval_card(page, turn_id: str):
    return page.locator(
        f"article.turn[data-turn-id='{turn_id}'] .card", has_text="MCP approval requested"
    )


@pytest.mark.parametrize("approve", [True, False])
def test_an_mcp_approval_is_answered_in_the_page_and_the_turn_streams_on(
    browser, served_app: ServedApp, tmp_path, approve
) -> None:
    """The turn waits with an approval card (server, tool, arguments), shown as waiting for
    approval, not as streaming, and still there after a reload; Approve or Deny sends the
    answer, the same turn goes on to its end (a call, or a message only), and the decision,
    read from the turn's log, shows in a second tab and after another reload."""
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
        article = page.locator(turn_selector(turn_id))
        page.locator(f"{turn_selector(turn_id)}.waiting").wait_for()
        assert "streaming" not in (article.get_attribute("class") or "")
        assert "Waiting for your approval" in article.locator(".turn-status").inner_text()
        assert stored_turn(page, turn_id)["status"] == "waiting"
        page.wait_for_url("**/c/*/")
        page.reload()
        ready(page)
        card = approval_card(page, turn_id)
        button = card.get_by_role("button", name="Approve" if approve else "Deny")
        button.wait_for()
        assert "docs" in card.inner_text() and "search_docs" in card.inner_text()
        page.locator(f"{turn_selector(turn_id)}.waiting").wait_for()
        second = page.context.new_page()
        watch(second)
        second.goto(page.url)
        approval_card(second, turn_id).get_by_role("button", name="Approve").wait_for()
        button.click()
        assert wait_done(page, turn_id) == "completed"
        stored = stored_turn(page, turn_id)
        kinds = [item["type"] for item in stored["output"]]
        assert ("mcp_call" in kinds) is approve
        assert kinds[-1] == "message"
        decision = "Approved." if approve else "Denied."
        # The other tab never clicked: it learns the decision from the log, live.
        assert wait_done(second, turn_id) == "completed"
        assert decision in approval_card(second, turn_id).inner_text()
        assert approval_card(second, turn_id).get_by_role("button").count() == 0
        page.reload()
        ready(page)
        assert wait_done(page, turn_id) == "completed"
        assert decision in approval_card(page, turn_id).inner_text()
        assert approval_card(page, turn_id).get_by_role("button").count() == 0
        assert page.errors == [] and second.errors == []
    finally:
        page.context.close()


MCP_TOKEN = "mcp-token-7f3a9c1e5b"
API_KEY = "sk-browser-test-2d8e6b0a"


def test_hosted_tools_work_from_the_page_and_no_secret_reaches_it(
    browser, served_app: ServedApp, simulator_url: str, tmp_path
) -> None:
    """With a key and an MCP server whose token comes from the environment: a turn offered
    the MCP server calls it (the simulator plays the tool it is given), a code interpreter
    turn links its file through our URL, which serves it; and neither the key nor the token
    is in any page, frame, response, log or export."""
    served_app.env.update(
        OPENAI_API_KEY=API_KEY,
        OPENAI_BASE_URL=simulator_url,
        DEFAULT_MODEL="sim-markdown",
        DOCS_MCP_TOKEN=MCP_TOKEN,
    )
    app = served_app.start()
    docs = {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://docs.example.test/mcp",
        "require_approval": "never",
        "headers": {"Authorization": "env:DOCS_MCP_TOKEN"},
    }
    python = {"type": "code_interpreter", "container": {"type": "auto"}}
    catalogue = tmp_path / "tools.json"
    catalogue.write_text(
        json.dumps(
            [
                {"name": "docs", "label": "Docs", "default": False, "tool": docs},
                {"name": "python", "label": "Python", "default": False, "tool": python},
            ]
        )
    )
    app.manage("tools", "import", str(catalogue))
    page = new_page(browser, app)
    seen: list[str] = []
    responses = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda data: seen.append(str(data))))
    page.on("response", lambda response: responses.append(response))
    try:
        page.check("#tool-toggles input[value=docs]")
        first = send(page, "Where is the event log described?")  # no scenario named
        assert wait_done(page, first) == "completed"
        kinds = [item["type"] for item in stored_turn(page, first)["output"]]
        assert kinds[:2] == ["mcp_list_tools", "mcp_call"]
        page.uncheck("#tool-toggles input[value=docs]")
        page.check("#tool-toggles input[value=python]")
        second = send(page, "Tabulate some squares")
        assert wait_done(page, second) == "completed"
        link = page.locator(f"{turn_selector(second)} .citations a.file-download")
        assert link.inner_text() == "squares.csv"
        href = link.get_attribute("href") or ""
        assert href.startswith(f"/api/turns/{second}/files/cntr_")
        body = page.evaluate("href => fetch(href).then(r => r.text())", href)
        assert body.startswith("number,square\r\n1,1\r\n")
        seen.append(page.content())
        conversation = page.url.rstrip("/").rsplit("/", 1)[1]
        for kind in ("json", "markdown"):
            seen.append(
                page.evaluate(
                    "u => fetch(u).then(r => r.text())",
                    f"/api/conversations/{conversation}/export?format={kind}",
                )
            )
        for response in responses:
            with contextlib.suppress(Exception):  # redirects and aborted loads have no body
                seen.append(response.text())
        seen.append(app.manage("tools", "export"))
        seen.append("".join(app.log or []))
        assert len(seen) > 10 and any("mcp_call" in text for text in seen)
        for secret in (MCP_TOKEN, API_KEY):
            assert not [text[:200] for text in seen if secret in text], secret
        assert page.errors == []
    finally:
        page.context.close()


def test_a_generated_image_is_shown_from_the_stream_without_the_key(
    browser, served_app: ServedApp, tmp_path
) -> None:
    """Image generation results come base64 in the events: the page shows the PNG as a
    data: image (the CSP allows it), with the revised prompt, and fetches nothing for it."""
    app = served_app.start()
    image = {"type": "image_generation", "partial_images": 2}
    catalogue = tmp_path / "tools.json"
    catalogue.write_text(
        json.dumps([{"name": "image", "label": "Image", "default": False, "tool": image}])
    )
    app.manage("tools", "import", str(catalogue))
    page = new_page(browser, app)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.check("#tool-toggles input[value=image]")
        turn_id = send(page, "a red fox")
        assert wait_done(page, turn_id) == "completed"
        img = page.locator(f"{turn_selector(turn_id)} img.generated")
        assert (img.get_attribute("src") or "").startswith("data:image/png;base64,")
        page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
        assert img.evaluate("el => el.naturalWidth") == 32
        assert "a red fox" in page.locator(f"{turn_selector(turn_id)} .card").inner_text()
        stored = stored_turn(page, turn_id)
        (call,) = [i for i in stored["output"] if i["type"] == "image_generation_call"]
        assert img.get_attribute("src") == f"data:image/png;base64,{call['result']}"
        assert not [url for url in requested if "/files/" in url or "/containers/" in url]
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
