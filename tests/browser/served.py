"""Helpers for driving the chat page of the served app (tests/served_app.py) in chromium."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Browser, Page

from tests.served_app import PASSWORD, ServedApp

# The machine running the tests may be busy: waits are generous, and none of them is a sleep.
TIMEOUT_MS = 60_000
TERMINAL = ("completed", "incomplete", "failed", "cancelled", "interrupted")
WORD = re.compile(r"[^\W_]+")
FENCE_INFO = re.compile(r"^( {0,3}(`{3,}|~{3,}))[^\n`]*$", re.MULTILINE)
LINK_TARGET = re.compile(r"\]\([^)\s]*\)")


def new_page(browser: Browser, app: ServedApp, **context_options: Any) -> Page:
    """A logged-in chat page (a fresh context, light mode unless told otherwise)."""
    options = {"viewport": {"width": 1200, "height": 850}, "color_scheme": "light"}
    context = browser.new_context(**{**options, **context_options})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch(page)
    page.goto(f"{app.url}/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{app.url}/")
    ready(page)
    return page


def watch(page: Page) -> Page:
    """Collect the page's uncaught errors and any dialog (which is dismissed)."""
    page.errors = []
    page.dialogs = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    return page


def ready(page: Page) -> None:
    """Wait until the page's script has run: the composer is there and Send is usable."""
    page.wait_for_selector("#composer-input")
    page.wait_for_function(
        "() => document.querySelector('#conversation-list') !== null"
        " && !document.querySelector('#send-button').disabled"
        " && (document.querySelector('.turn, .empty-state') !== null)"
    )


def send(page: Page, text: str) -> str:
    """Type `text` into the composer, press Enter; the new turn's id."""
    before = page.locator("article.turn").count()
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('article.turn[data-turn-id]').length > n", arg=before
    )
    turn_id = page.locator("article.turn").nth(before).get_attribute("data-turn-id")
    assert turn_id and turn_id != "null", turn_id
    return turn_id


def turn_selector(turn_id: str) -> str:
    return f'article.turn[data-turn-id="{turn_id}"]'


def wait_done(page: Page, turn_id: str, timeout: float = TIMEOUT_MS) -> str:
    """Wait until the page shows the turn as ended; its status."""
    status = page.locator(f"{turn_selector(turn_id)} .turn-status")
    page.wait_for_function(
        "([sel, ended]) => { const el = document.querySelector(sel);"
        " return el && ended.includes(el.dataset.status)"
        " && el.closest('.turn-assistant').getAttribute('aria-busy') === 'false'; }",
        arg=[f"{turn_selector(turn_id)} .turn-status", list(TERMINAL)],
        timeout=timeout,
    )
    return status.get_attribute("data-status") or ""


def message_text(page: Page, turn_id: str) -> str:
    """What the reader sees of the turn's answer: the innerText of its message parts."""
    return page.evaluate(
        "sel => [...document.querySelectorAll(sel + ' .msg-text')]"
        ".map(el => el.innerText).join('\\n')",
        turn_selector(turn_id),
    )


def text_length(page: Page, turn_id: str) -> int:
    return len(message_text(page, turn_id))


def wait_text_length(page: Page, turn_id: str, at_least: int) -> None:
    page.wait_for_function(
        "([sel, n]) => [...document.querySelectorAll(sel + ' .msg-text')]"
        ".reduce((sum, el) => sum + el.innerText.length, 0) >= n",
        arg=[turn_selector(turn_id), at_least],
    )


def start_sampler(page: Page, turn_id: str, every_ms: int = 50) -> None:
    """Record the answer's text length every `every_ms` in the page (window.__lengths)."""
    page.evaluate(
        """([sel, every]) => {
            window.__lengths = [];
            window.__sampler = setInterval(() => {
                const parts = [...document.querySelectorAll(sel + ' .msg-text')];
                window.__lengths.push(parts.reduce((sum, el) => sum + el.innerText.length, 0));
            }, every);
        }""",
        [turn_selector(turn_id), every_ms],
    )


def stop_sampler(page: Page) -> list[int]:
    return page.evaluate("() => { clearInterval(window.__sampler); return window.__lengths; }")


def stored_turn(page: Page, turn_id: str) -> dict[str, Any]:
    """GET /api/turns/<id> as the page's user."""
    body = page.evaluate(
        "id => fetch(`/api/turns/${id}`, {credentials: 'same-origin'}).then(r => r.text())",
        turn_id,
    )
    return json.loads(body)


def words(text: str) -> list[str]:
    """The words of a text, without punctuation, markup or whitespace."""
    return WORD.findall(text)


def markdown_words(markdown: str) -> list[str]:
    """The words a reader sees of rendered markdown: no fence info strings, no link targets."""
    return words(LINK_TARGET.sub("]", FENCE_INFO.sub(r"\1", markdown)))


def normalise(text: str) -> str:
    return " ".join(text.split())


def increases(lengths: list[int]) -> list[int]:
    """The lengths that were larger than every length before them."""
    seen, peak = [], -1
    for length in lengths:
        if length > peak:
            seen.append(length)
            peak = length
    return seen
