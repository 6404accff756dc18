"""A chat page left open while the server dies mid-answer: `manage.py serve` SIGKILLed and
started again with the same command on the same port, the page (never reloaded) reconnects
by itself and shows the answer finishing, its whole text once."""

from __future__ import annotations

import pytest

from streaming.simulator.params import parse_params
from streaming.simulator.scenarios import SCENARIOS, build_events
from tests.browser.served import (
    markdown_words,
    message_text,
    new_page,
    send,
    stored_turn,
    wait_done,
    wait_text_length,
    words,
)
from tests.served_app import ServedApp

pytestmark = pytest.mark.browser

LONG = "Tell me a long one [sim:markdown tps=30 deltas=240 seed=21]"


def simulator_text(prompt: str) -> str:
    """The text the simulator streams for `prompt` (its scenarios are pure functions)."""
    message = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": prompt}],
    }
    request = {"model": "gpt-test", "input": [message]}
    events = build_events(request, parse_params(request, SCENARIOS))
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def test_a_page_left_open_shows_the_answer_finishing_after_a_restart(
    browser, served_app: ServedApp
) -> None:
    expected = simulator_text(LONG)
    app = served_app.start()
    page = new_page(browser, app)
    try:
        turn_id = send(page, LONG)
        wait_text_length(page, turn_id, 40)
        page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads
        shown_at_kill = len(message_text(page, turn_id))
        app.stop(kill=True)
        assert shown_at_kill < len(expected) * 0.9, "the answer was (nearly) over at the kill"
        app.start(port=app.port)

        assert wait_done(page, turn_id) == "completed"
        assert page.evaluate("() => window.__sameDocument === true")
        stored = stored_turn(page, turn_id)
        assert stored["status"] == "completed", stored["error"]
        assert stored["output_text"] == expected
        assert words(message_text(page, turn_id)) == markdown_words(expected)
        assert not page.errors
    finally:
        page.context.close()
