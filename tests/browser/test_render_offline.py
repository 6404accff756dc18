"""The renderer, fed recorded upstream streams in a real browser, with no server."""

import json
from pathlib import Path

import pytest

from streaming.protocol.statuses import page_constants

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
pytestmark = pytest.mark.browser


def _manifest() -> list[dict]:
    path = CORPUS / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else []


def read_events(name: str) -> list[dict]:
    """The JSON events of one .sse file (data lines only; non-JSON data such as [DONE] skipped)."""
    events = []
    for block in (CORPUS / name).read_text(encoding="utf-8").split("\n\n"):
        data = "\n".join(
            line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")
        )
        if not data:
            continue
        try:
            events.append(json.loads(data))
        except json.JSONDecodeError:
            continue
    return events


MANIFEST = _manifest()
WITH_TEXT = [entry for entry in MANIFEST if entry.get("final_output_text")]


def _ids(entries):
    return [entry["file"].removesuffix(".sse") for entry in entries]


def test_the_scripts_read_the_status_sets_the_server_defines(harness):
    """static/chat/constants.js holds what the page's relay-constants element carried, which
    the harness, like the real pages, takes from streaming/protocol/statuses.py."""
    read = harness.evaluate(
        """async () => {
            const c = await import("/static/chat/constants.js");
            return {
                turn_active: [...c.TURN_ACTIVE],
                turn_final: [...c.TURN_FINAL],
                terminal_event_types: [...c.TERMINAL_EVENT_TYPES],
                item_phases: [...c.ITEM_PHASES],
                item_final: [...c.ITEM_FINAL],
                socket: { ...c.SOCKET },
            };
        }"""
    )
    assert read == page_constants()


@pytest.mark.parametrize("entry", WITH_TEXT, ids=_ids(WITH_TEXT))
def test_it_renders_the_final_text_of_each_recorded_stream(harness, entry):
    """Folding the events yields the recorded final text, and the incremental markdown
    shows the same text as rendering the final text in one go."""
    harness.evaluate("events => harness.feed(events, {perFrame: 12})", read_events(entry["file"]))
    assert harness.evaluate("harness.outputText()") == entry["final_output_text"]
    shown = harness.evaluate("harness.shownText()")
    assert shown == harness.evaluate("t => harness.oneShotText(t)", entry["final_output_text"])
    assert harness.errors == []


CARD_TYPES = {
    "function_call",
    "custom_tool_call",
    "file_search_call",
    "web_search_call",
    "code_interpreter_call",
    "reasoning",
    "mcp_list_tools",
    "mcp_call",
    "mcp_approval_request",
    "image_generation_call",
    "shell_call",
    "local_shell_call",
    "shell_call_output",
    "apply_patch_call",
}
CARD_FILES = [
    e for e in MANIFEST if CARD_TYPES & set(e.get("output_item_types") or []) - {"reasoning"}
]


@pytest.mark.parametrize("entry", CARD_FILES, ids=_ids(CARD_FILES))
def test_it_shows_a_card_for_each_tool_item(harness, entry, artifacts):
    """Each tool item of a recorded stream becomes its own card."""
    harness.evaluate("events => harness.feed(events, {perFrame: 12})", read_events(entry["file"]))
    for item_type in CARD_TYPES & set(entry["output_item_types"]):
        cards = harness.locator(f"details.card[data-item-type={item_type}]")
        assert cards.count() >= 1, item_type
    assert harness.locator(".turn-items > :not(details.card):not(.msg)").count() == sum(
        1 for t in entry["output_item_types"] if t not in CARD_TYPES and t != "message"
    )
    assert harness.errors == []
    harness.screenshot(
        path=artifacts / f"render-{entry['file'].removesuffix('.sse')}.png", full_page=True
    )


def test_code_interpreter_code_is_highlighted_and_its_image_shown(harness):
    """The interpreter's code gets highlight.js markup and its image output is a data: image."""
    harness.evaluate(
        "events => harness.feed(events)", read_events("code_interpreter__pydantic-ai__1.sse")
    )
    card = harness.locator("details.card[data-item-type=code_interpreter_call]")
    assert card.locator("code .hljs-keyword").count() > 0
    assert "import numpy as np" in card.locator("code").text_content()
    src = card.locator("img").first.get_attribute("src")
    assert src.startswith("data:image/png;base64,")


def test_citations_become_safe_links(harness):
    """url_citation annotations are listed as links that open in a new tab without an opener."""
    harness.evaluate(
        "events => harness.feed(events)", read_events("web_search__pydantic-ai__1.sse")
    )
    links = harness.locator(".citations a")
    assert links.count() > 0
    for i in range(links.count()):
        link = links.nth(i)
        assert link.get_attribute("href").startswith("https://")
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert link.get_attribute("target") == "_blank"


def test_a_failed_response_shows_a_notice_with_retry(harness):
    """A failed turn tells why and offers Retry, which re-sends the same input."""
    events = read_events("error_failed__vercel-ai__1.sse")
    harness.evaluate(
        "events => harness.feed(events, {done: 'failed', input: 'again please'})", events
    )
    notice = harness.locator(".notice")
    assert notice.is_visible()
    assert "failed" in notice.text_content()
    assert "exceeded your current quota" in harness.locator(".turn-errors").text_content()
    harness.locator(".notice button.retry").click()
    assert harness.evaluate("window.retried") == "again please"


def test_an_incomplete_response_says_why(harness):
    """An incomplete answer names the reason (the output token limit)."""
    events = read_events("incomplete__dd-trace-py__1.sse")
    harness.evaluate("events => harness.feed(events, {done: 'incomplete'})", events)
    assert "output token limit" in harness.locator(".notice").text_content()


def test_the_status_line_shows_time_to_first_token_and_tokens(harness):
    """The status line carries the relay's timings and the usage counts."""
    events = read_events("text__pydantic-ai__1.sse")
    done = {
        "type": "relay.turn.done",
        "status": "completed",
        "timings": {"ttft_ms": 420},
        "usage": {"input_tokens": 12, "output_tokens": 8, "total_tokens": 20},
    }
    harness.evaluate("events => harness.feed(events, {done: null})", [*events, done])
    status = harness.locator(".turn-status").text_content()
    assert "first token 420 ms" in status
    assert "12 in / 8 out tokens" in status


def test_a_turn_from_history_renders_its_output_items(harness):
    """A finished turn loaded over HTTP shows its items and tool results without streaming."""
    turn = {
        "id": "h1",
        "status": "completed",
        "input": "weather?",
        "output_text": "It is **sunny**.",
        "output": [
            {
                "type": "function_call",
                "name": "get_weather",
                "call_id": "c1",
                "arguments": '{"city":"Paris"}',
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "c1", "output": '{"sky":"clear"}'},
            {
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "It is **sunny**.", "annotations": []}],
            },
        ],
        "usage": {"input_tokens": 5, "output_tokens": 4},
        "timings": {"ttft_ms": 1500},
    }
    harness.evaluate("turn => harness.loadTurn(turn)", turn)
    card = harness.locator("details.card[data-item-type=function_call]")
    assert "get_weather" in card.text_content()
    assert '"sky": "clear"' in card.text_content()
    assert harness.locator(".msg strong").text_content() == "sunny"
    assert "first token 1.5 s" in harness.locator(".turn-status").text_content()


def _approval_request(number: int) -> dict:
    item = {
        "type": "mcp_approval_request",
        "id": f"mcpr_{number}",
        "name": "search_docs",
        "server_label": "docs",
        "arguments": '{"query": "log"}',
    }
    return {"type": "response.output_item.done", "output_index": number, "item": item}


def test_a_waiting_turn_shows_its_approvals_as_answered_so_far(harness):
    """`relay.turn.waiting` makes the turn wait for approval, not stream; an answer the
    server already has (HTTP API) or that the log holds shows on its card; the others stay
    open; the turn goes on with the next request, and a request left unanswered when the
    turn ended says so."""
    state = harness.evaluate(
        """async (requests) => {
            const { TurnView } = await import("/static/chat/turn.js");
            const view = new TurnView({ id: "w1", input: "find it" });
            document.getElementById("transcript").append(view.el);
            view.state.rememberAnswers({ mcpr_0: true });
            const events = [
                { type: "relay.request.started", request: 1, model: "m" },
                ...requests,
                { type: "relay.turn.waiting", approval_request_ids: ["mcpr_0", "mcpr_1", "mcpr_2"] },
                { type: "relay.approval.response", approval_request_id: "mcpr_1", approve: false },
            ];
            view.applyEnvelopes(events.map((event, seq) => ({ seq, event })));
            view.flush();
            const cards = () => [...view.el.querySelectorAll(".card .card-detail")].map((p) => p.textContent);
            const waiting = {
                classes: view.el.className,
                status: view.el.querySelector(".turn-status").textContent,
                busy: view.assistant.getAttribute("aria-busy"),
                cards: cards(),
            };
            view.applyEnvelopes([
                { seq: 9, event: { type: "relay.request.started", request: 2, model: "m" } },
                { seq: 10, event: { type: "relay.turn.done", status: "incomplete" } },
            ]);
            view.flush();
            return { waiting, after: { classes: view.el.className, cards: cards() } };
        }""",
        [_approval_request(n) for n in range(3)],
    )
    waiting = state["waiting"]
    assert "waiting" in waiting["classes"].split() and "streaming" not in waiting["classes"]
    assert waiting["status"].startswith("Waiting for your approval")
    assert waiting["busy"] == "false"
    assert waiting["cards"] == ["Approved.", "Denied.", "The model asked to run this tool."]
    assert "waiting" not in state["after"]["classes"].split()
    assert state["after"]["cards"][2] == "Not answered: the turn ended first."
    assert harness.errors == []
