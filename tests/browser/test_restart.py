"""A chat page left open while what runs the answer dies. `manage.py serve` SIGKILLed and
started again with the same command on the same port: the page (never reloaded) reconnects
by itself and shows the answer finishing, its whole text once. In a team with no worker
left: the answer ends, and the page says why."""

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
    turn_selector,
    wait_done,
    wait_text_length,
    words,
)
from tests.served_app import ServedApp
from tests.team import running_team

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


@pytest.mark.services
def test_with_no_worker_running_the_page_says_why_the_answer_failed(browser, tmp_path) -> None:
    """A team whose workers are all down: the turn nobody claims ends `failed` and the page
    shows why, instead of a spinner for ever."""
    with running_team(tmp_path, servers=1, workers=0, RELAY_QUEUE_TIMEOUT="2") as team:
        page = new_page(browser, team.servers[0])
        try:
            turn_id = send(page, "Hello [sim:markdown tps=0]")
            assert wait_done(page, turn_id) == "failed"
            notice = page.locator(f"{turn_selector(turn_id)} .notice")
            assert "The answer failed" in notice.inner_text()
            assert "no worker is running" in notice.inner_text()
            assert not page.errors
        finally:
            page.context.close()


@pytest.mark.services
def test_the_only_worker_killed_mid_answer_the_page_says_it_was_interrupted(
    browser, tmp_path
) -> None:
    """The team's only worker SIGKILLed mid-answer and none started: the web process's
    sweep ends the turn `interrupted` once its lease expired, what streamed stays on the
    page, and the page says why."""
    with running_team(tmp_path, servers=1, workers=1) as team:
        page = new_page(browser, team.servers[0])
        try:
            turn_id = send(page, "Long [sim:markdown tps=30 deltas=400 seed=22]")
            wait_text_length(page, turn_id, 40)
            team.workers[0].stop(kill=True)
            assert wait_done(page, turn_id) == "interrupted"
            stored = stored_turn(page, turn_id)
            assert stored["output_text"]
            assert words(message_text(page, turn_id)) == markdown_words(stored["output_text"])
            notice = page.locator(f"{turn_selector(turn_id)} .notice")
            assert "The answer was interrupted" in notice.inner_text()
            assert stored["error"] in notice.inner_text()
            assert not page.errors
        finally:
            page.context.close()
