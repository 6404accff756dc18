"""Working with answers in chromium against the served app: edit a sent message in place,
switch between the versions (the pager), regenerate an answer, rate it; the controls are
disabled while an answer streams. Checked against what the server stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.served import new_page, send, stored_turn, turn_selector, wait_done
from tests.served_app import ServedApp

pytestmark = pytest.mark.browser

QUICK = "[sim:markdown tps=0 deltas=5 seed=3]"


@pytest.fixture
def page(browser, served_app: ServedApp, artifacts: Path) -> Iterator:
    app = served_app.start()
    opened = new_page(browser, app)
    yield opened
    opened.screenshot(path=artifacts / "branches.png", full_page=True)
    opened.context.close()


def shown_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("article.turn", "els => els.map(e => e.dataset.turnId)")


def conversation(page: Any) -> dict[str, Any]:
    body = page.evaluate(
        "() => fetch(`/api/conversations/${location.pathname.split('/')[2]}`).then(r => r.text())"
    )
    return json.loads(body)


def wait_new_last_turn(page: Any, old: str) -> str:
    """After a branch request: the page shows a new last turn; its id, once it ended."""
    page.wait_for_function(
        "old => { const all = document.querySelectorAll('article.turn[data-turn-id]');"
        " return all.length && all[all.length - 1].dataset.turnId !== old; }",
        arg=old,
    )
    new = shown_ids(page)[-1]
    assert wait_done(page, new) == "completed"
    return new


def test_edit_switch_regenerate_and_rate(page) -> None:
    first = send(page, f"first {QUICK}")
    assert wait_done(page, first) == "completed"
    second = send(page, f"second {QUICK}")
    assert wait_done(page, second) == "completed"
    turn = page.locator(turn_selector(second))
    assert turn.locator(".branch-pager").is_hidden()

    # Edit the second message in place: Cancel keeps it, Save makes a new version.
    turn.locator("button.edit-message").click()
    page.fill(f"{turn_selector(second)} textarea.edit-input", "changed")
    turn.locator("button.edit-cancel").click()
    assert turn.locator(".bubble").inner_text() == f"second {QUICK}"
    turn.locator("button.edit-message").click()
    page.fill(f"{turn_selector(second)} textarea.edit-input", f"edited {QUICK}")
    turn.locator("button.edit-save").click()
    edited = wait_new_last_turn(page, second)
    assert shown_ids(page) == [first, edited]
    assert stored_turn(page, edited)["input"] == f"edited {QUICK}"
    edited_turn = page.locator(turn_selector(edited))
    assert edited_turn.locator(".branch-position").inner_text() == "2/2"

    # The pager goes back to the original version, then forward again.
    edited_turn.locator("button.branch-prev").click()
    page.locator(turn_selector(second)).wait_for()
    assert shown_ids(page) == [first, second]
    assert page.locator(f"{turn_selector(second)} .branch-position").inner_text() == "1/2"
    assert [t["id"] for t in conversation(page)["turns"]] == [first, second]
    page.locator(f"{turn_selector(second)} button.branch-next").click()
    page.locator(turn_selector(edited)).wait_for()
    assert shown_ids(page) == [first, edited]

    # Regenerate the answer: a third version at that place.
    page.locator(f"{turn_selector(edited)} button.regenerate").click()
    again = wait_new_last_turn(page, edited)
    assert stored_turn(page, again)["input"] == f"edited {QUICK}"
    assert page.locator(f"{turn_selector(again)} .branch-position").inner_text() == "3/3"
    assert conversation(page)["turns"][1]["siblings"] == [second, edited, again]

    # Thumbs down with a comment, kept across a reload.
    answer = page.locator(turn_selector(again))
    answer.locator("button.thumb-down").click()
    answer.locator(".feedback-comment").wait_for()
    answer.locator(".feedback-comment").fill("too short")
    answer.locator("button.feedback-save").click()
    page.wait_for_function(
        "sel => document.querySelector(sel).textContent.includes('comment saved')",
        arg=f"{turn_selector(again)} .feedback-note",
    )
    assert conversation(page)["turns"][1]["feedback"] == "down"
    page.reload()
    page.locator(turn_selector(again)).wait_for()
    assert (
        page.locator(f"{turn_selector(again)} button.thumb-down").get_attribute("aria-pressed")
        == "true"
    )
    assert page.errors == []


def test_the_controls_are_disabled_while_an_answer_streams(page) -> None:
    first = send(page, f"first {QUICK}")
    assert wait_done(page, first) == "completed"
    running = send(page, "long [sim:long tps=20 deltas=2000 seed=3]")
    done = page.locator(turn_selector(first))
    for name in ("edit-message", "regenerate", "thumb-up"):
        assert done.locator(f"button.{name}").is_disabled(), name
    assert page.locator(f"{turn_selector(running)} button.edit-message").is_disabled()
    assert page.locator(f"{turn_selector(running)} .answer-actions").is_hidden()
    page.click("#stop-button")
    assert wait_done(page, running) == "cancelled"
    page.wait_for_function(
        "sel => !document.querySelector(sel).disabled",
        arg=f"{turn_selector(first)} button.regenerate",
    )
    assert page.errors == []
    # Retry on the stopped answer makes a new version at its place, not a turn at the end.
    page.locator(f"{turn_selector(running)} .notice button.retry").click()
    page.wait_for_function(
        "old => { const all = document.querySelectorAll('article.turn[data-turn-id]');"
        " return all.length === 2 && all[1].dataset.turnId !== old; }",
        arg=running,
    )
    retried = shown_ids(page)[-1]
    turns = conversation(page)["turns"]
    assert [t["id"] for t in turns] == [first, retried]
    assert turns[1]["siblings"] == [running, retried]
    page.click("#stop-button")
    assert wait_done(page, retried) == "cancelled"
    assert page.errors == []
