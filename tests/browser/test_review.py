"""The admin's review pages in a real browser against the served app: the transcript
rendered from the stored log, the timeline, and Replay at its original pace and faster."""

from __future__ import annotations

import json
import time

import pytest

from tests.served_app import ServedApp, new_turn, wait_status

pytestmark = pytest.mark.browser

ROOT_PASSWORD = "pw-root-review-1"


@pytest.fixture
def reviewed(served_app: ServedApp) -> tuple[ServedApp, dict]:
    """The app with a superuser and one finished, paced turn by alice (about a second long)."""
    served_app.create_superuser("root", ROOT_PASSWORD)
    served_app.start()
    client = served_app.login()
    turn = new_turn(client, "Hello [sim:markdown tps=25 deltas=25 seed=9]")
    done = wait_status(client, turn["id"], {"completed"})
    return served_app, done


def _admin_page(browser, app: ServedApp):
    context = browser.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(f"{app.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", ROOT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{app.url}/admin/")
    return page


def _text(page) -> str:
    return page.eval_on_selector(".review-transcript .turn-assistant", "el => el.innerText")


def test_the_turn_page_renders_the_stored_transcript_and_its_timeline(browser, reviewed) -> None:
    app, turn = reviewed
    page = _admin_page(browser, app)
    page.goto(f"{app.url}/admin/streaming/turn/{turn['id']}/change/")
    page.wait_for_selector("#review[data-ready=true]")
    assert page.inner_text(".review-transcript .bubble") == turn["input"]
    rendered = _text(page)
    first_line = turn["output_text"].split("\n")[0].lstrip("# ")
    assert first_line in rendered and "Done" in rendered
    log = json.loads(page.evaluate("url => fetch(url).then(r => r.text())", _log_url(turn)))
    rows = page.locator(".review-events tbody tr")
    assert rows.count() == len(log["events"])
    page.select_option("[data-type-filter]", "response.output_text.delta")
    assert rows.count() == 25
    rows.first.locator("button").click()
    raw = json.loads(page.inner_text("[data-raw]"))
    assert raw["type"] == "response.output_text.delta"
    assert page.errors == []


def _log_url(turn: dict) -> str:
    return f"/admin/streaming/turn/{turn['id']}/log.json"


def _replay(page, app: ServedApp, turn: dict, speed: str) -> float:
    """Seconds the replay took to reach the last event at `speed`."""
    page.goto(f"{app.url}/admin/streaming/turn/{turn['id']}/replay/")
    page.wait_for_selector("#replay[data-state]")
    page.select_option("[data-speed]", speed)
    page.click("[data-action=restart]")
    started = time.monotonic()
    page.wait_for_selector("#replay[data-state=done]", timeout=20_000)
    return time.monotonic() - started


def test_replay_plays_the_log_at_its_pace_and_faster(browser, reviewed) -> None:
    app, turn = reviewed
    page = _admin_page(browser, app)
    log = json.loads(page.evaluate("url => fetch(url).then(r => r.text())", _log_url(turn)))
    span = (log["events"][-1]["received_ms"] - log["events"][0]["received_ms"]) / 1000
    assert span > 0.6, "the turn was paced"
    at_pace = _replay(page, app, turn, "1")
    assert _text(page).count("Done") == 1
    assert turn["output_text"].split("\n")[0].lstrip("# ") in _text(page)
    fast = _replay(page, app, turn, "10")
    assert span * 0.8 <= at_pace <= span + 2
    assert fast < span / 3
    assert page.errors == []


def test_the_conversation_page_renders_every_turn_with_its_feedback(browser, reviewed) -> None:
    app, turn = reviewed
    client = app.login()
    started = client.post(
        f"/api/conversations/{turn['conversation']}/turns",
        json={"input": "Again [sim:markdown tps=0 deltas=5 seed=3]"},
    )
    assert started.status_code == 202, started.text
    second = wait_status(client, started.json()["id"], {"completed"})
    rated = client.post(
        f"/api/turns/{turn['id']}/feedback", json={"rating": "down", "comment": "too long"}
    )
    assert rated.status_code in (200, 201), rated.text
    page = _admin_page(browser, app)
    page.goto(f"{app.url}/admin/streaming/conversation/{turn['conversation']}/change/")
    page.wait_for_selector("#conversation-review[data-ready=true]")
    blocks = page.locator("#conversation-review .review-turn")
    assert blocks.count() == 2
    assert [b.inner_text() for b in page.locator("#conversation-review .bubble").all()] == [
        turn["input"],
        second["input"],
    ]
    first_line = turn["output_text"].split("\n")[0].lstrip("# ")
    assert first_line in blocks.nth(0).locator(".turn-assistant").inner_text()
    assert "Rated down: too long" in blocks.nth(0).locator(".review-turn-head").inner_text()
    assert "Rated" not in blocks.nth(1).locator(".review-turn-head").inner_text()
    assert page.errors == []
