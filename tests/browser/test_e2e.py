"""The chat page end to end: chromium against the served app (daphne on a free port, the
in-process worker, the built-in simulator), checked against what the relay stored."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.served import (
    increases,
    markdown_words,
    message_text,
    new_page,
    normalise,
    send,
    start_sampler,
    stop_sampler,
    stored_turn,
    text_length,
    turn_selector,
    wait_done,
    wait_text_length,
    watch,
    words,
)
from tests.served_app import ServedApp

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = ROOT / "docs" / "screenshot.png"


# Hosted tools in the catalogue, off by default: a test turns on the one it shows (the
# simulator plays a hosted tool only when the request offers it).
HOSTED = [
    {
        "name": "files",
        "label": "Files",
        "default": False,
        "tool": {"type": "file_search", "vector_store_ids": ["vs_docs"]},
    },
    {
        "name": "python",
        "label": "Python",
        "default": False,
        "tool": {"type": "code_interpreter", "container": {"type": "auto"}},
    },
]
TOOL_OF = {"file-search": "files", "code-interpreter": "python"}


@pytest.fixture
def app(served_app: ServedApp, tmp_path: Path) -> ServedApp:
    started = served_app.start()
    catalogue = tmp_path / "hosted.json"
    catalogue.write_text(json.dumps(HOSTED))
    started.manage("tools", "import", str(catalogue))
    return started


def turn_on(page, scenario: str) -> None:
    """Tick the hosted tool a scenario plays, if it plays one."""
    if scenario in TOOL_OF:
        page.check(f"#tool-toggles input[value={TOOL_OF[scenario]}]")


@pytest.fixture
def pages(request, browser, app: ServedApp, artifacts: Path) -> Iterator[list]:
    """Logged-in chat pages, opened with `pages.open()`; each is photographed at the end
    (pass or fail) into test-artifacts/e2e-<test>[-<n>].png, and its contexts closed."""

    class Pages(list):
        def open(self, **options):
            page = new_page(browser, app, **options)
            self.append(page)
            return page

    opened = Pages()
    yield opened
    name = "e2e-" + request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    try:
        for index, page in enumerate(opened):
            suffix = f"-{index + 1}" if len(opened) > 1 else ""
            if not page.is_closed():
                page.screenshot(path=artifacts / f"{name}{suffix}.png", full_page=True)
    finally:
        for context in {page.context for page in opened}:
            context.close()


def _assert_shows_stored_text(shown: str, stored: dict) -> None:
    """What the page shows is the stored output_text, word for word, once each."""
    assert stored["output_text"], stored
    assert words(shown) == markdown_words(stored["output_text"])


def test_the_answer_is_seen_growing_and_ends_as_stored(pages) -> None:
    page = pages.open()
    assert page.get_attribute("#transcript", "aria-live") == "polite"
    turn_id = send(page, "Hello [sim:markdown tps=40 deltas=200 seed=4]")
    start_sampler(page, turn_id)
    assert wait_done(page, turn_id) == "completed"
    lengths = stop_sampler(page)
    grew = [n for n in increases(lengths) if n > 0]
    assert len(grew) >= 5, lengths
    shown = message_text(page, turn_id)
    assert grew[-1] >= len(shown) * 0.9, (grew, len(shown))

    stored = stored_turn(page, turn_id)
    assert stored["status"] == "completed"
    _assert_shows_stored_text(shown, stored)
    # The same turn rendered at once from the stored turn after a reload reads the same.
    page.reload()
    assert wait_done(page, turn_id) == "completed"
    assert normalise(message_text(page, turn_id)) == normalise(shown)
    assert page.errors == []


TOOL_SCENARIOS = {
    "function-call": ("function_call", ["current_time", "Result"]),
    "file-search": ("file_search_call", []),
    "code-interpreter": ("code_interpreter_call", []),
}


@pytest.mark.parametrize("scenario", list(TOOL_SCENARIOS))
def test_tool_cards_appear(pages, scenario: str) -> None:
    item_type, expected = TOOL_SCENARIOS[scenario]
    page = pages.open()
    turn_on(page, scenario)
    turn_id = send(page, f"What now? [sim:{scenario} tps=40]")
    card = page.locator(f"{turn_selector(turn_id)} details.card[data-item-type={item_type}]")
    card.wait_for()  # the card shows while the turn still streams or right after
    assert wait_done(page, turn_id) == "completed"
    assert card.count() == 1
    stored = stored_turn(page, turn_id)
    assert stored["status"] == "completed"
    assert card.locator(".badge").inner_text() == "done"
    text = card.inner_text()
    for fragment in expected:
        assert fragment.lower() in text.lower(), text
    if scenario == "function-call":
        # The tool's result is what the relay sent back upstream, as stored.
        outputs = [i for i in stored["output"] if i.get("type") == "function_call_output"]
        assert outputs, stored["output"]
        result = card.locator("pre.output").inner_text()
        assert words(result) == words(str(outputs[0]["output"]))
    elif scenario == "file-search":
        call = next(i for i in stored["output"] if i["type"] == "file_search_call")
        assert call.get("results"), call
        for result in call["results"]:
            assert result["filename"] in text
        assert page.locator(f"{turn_selector(turn_id)} .citations li").count() >= 1
    else:
        call = next(i for i in stored["output"] if i["type"] == "code_interpreter_call")
        assert normalise(card.locator("pre.code").inner_text()) == normalise(call["code"])
        logs = "".join(o.get("logs", "") for o in call.get("outputs") or [])
        assert logs.strip() and logs.strip() in card.locator("pre.output").inner_text()
    # The answer after the tool is there as stored.
    _assert_shows_stored_text(message_text(page, turn_id), stored)
    assert page.errors == []


def test_stop_stops_the_answer(pages) -> None:
    page = pages.open()
    turn_id = send(page, "Tell me a story [sim:long tps=30 deltas=600 seed=5]")
    wait_text_length(page, turn_id, 80)
    page.click("#stop-button")
    notice = page.locator(f"{turn_selector(turn_id)} .notice-text")
    notice.wait_for()
    assert "stopped" in notice.inner_text().lower()
    assert wait_done(page, turn_id) == "cancelled"
    assert page.locator(f"{turn_selector(turn_id)} .turn-status").inner_text().startswith("Stopped")
    assert page.is_visible("#send-button") and not page.is_visible("#stop-button")
    stored = stored_turn(page, turn_id)
    assert stored["status"] == "cancelled"
    # The text stops growing: nothing more arrives in the next second and a half.
    shown = message_text(page, turn_id)
    start_sampler(page, turn_id, every_ms=100)
    page.wait_for_timeout(1500)
    assert set(stop_sampler(page)) == {len(shown)}
    assert len(words(shown)) < 400  # far from the 600 deltas asked for
    # What was shown before the stop is what was kept.
    _assert_shows_stored_text(shown, stored)
    assert page.errors == []


def _pieces(text: str) -> tuple[Counter, Counter]:
    """How often each paragraph and each sentence occurs in a text."""
    paragraphs = [normalise(p) for p in text.split("\n")]
    sentences = [normalise(s) for s in text.replace("\n", " ").split(". ")]
    return Counter(filter(None, paragraphs)), Counter(filter(None, sentences))


def test_a_reload_mid_turn_resumes_and_a_second_tab_follows(pages, app: ServedApp) -> None:
    page = pages.open()
    turn_id = send(page, "Tell me a long story [sim:long tps=40 deltas=500 seed=6]")
    url = page.url
    assert "/c/" in url
    wait_text_length(page, turn_id, 150)
    # A second tab of the same browser opens the conversation while the turn streams.
    other = watch(page.context.new_page())
    pages.append(other)
    other.goto(url)
    other.wait_for_selector(f"{turn_selector(turn_id)}.streaming")
    start_sampler(other, turn_id)
    # The first tab reloads mid-turn and picks the turn up from the log.
    before = text_length(page, turn_id)
    page.reload()
    page.wait_for_selector(turn_selector(turn_id))
    assert page.locator(f"{turn_selector(turn_id)} .turn-status").get_attribute(
        "data-status"
    ) not in ("completed", "cancelled"), "the reload should land mid-turn"
    wait_text_length(page, turn_id, before)
    assert wait_done(page, turn_id) == "completed"
    assert wait_done(other, turn_id) == "completed"
    assert len([n for n in increases(stop_sampler(other)) if n > 0]) >= 5, "the tab was live"

    stored = stored_turn(page, turn_id)
    assert stored["status"] == "completed"
    shown = message_text(page, turn_id)
    _assert_shows_stored_text(shown, stored)
    assert normalise(message_text(other, turn_id)) == normalise(shown)
    # Nothing doubled: each paragraph and sentence shows as often as the stored text has it
    # (the long scenario is plain prose, so the stored markdown reads as it is written).
    assert _pieces(shown) == _pieces(stored["output_text"])
    assert page.locator("article.turn").count() == 1
    assert other.locator("article.turn").count() == 1
    assert page.errors == [] and other.errors == []


def test_xss_payloads_stay_inert(pages, app: ServedApp) -> None:
    page = pages.open()
    response = page.goto(f"{app.url}/")
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
    page.wait_for_selector(".empty-state")
    turn_id = send(page, "Show me [sim:xss tps=0]")
    assert wait_done(page, turn_id) == "completed"
    page.reload()  # and once more, rendered from the stored turn
    assert wait_done(page, turn_id) == "completed"
    page.wait_for_timeout(300)  # give an injected handler the chance to fire
    assert page.dialogs == []
    message = page.locator(f"{turn_selector(turn_id)} .turn-assistant")
    assert message.locator("script, iframe, svg, object, embed, form, style").count() == 0
    html = message.evaluate("el => el.innerHTML")
    bad_attributes = message.evaluate(
        """el => [...el.querySelectorAll('*')].flatMap(node => [...node.attributes]
            .filter(a => a.name.startsWith('on') || a.name === 'style' || a.name === 'srcdoc'
                || /^\\s*javascript:/i.test(a.value))
            .map(a => `${node.tagName} ${a.name}=${a.value}`))"""
    )
    assert bad_attributes == []
    for href in message.evaluate(
        "el => [...el.querySelectorAll('[href]')].map(a => a.getAttribute('href'))"
    ):
        assert href.startswith(("https://", "http://", "mailto:")), href
    # The payloads are there to read, as text.
    text = message.inner_text()
    assert "<script>alert(1)</script>" in text
    assert "onerror=alert(1)" in text
    assert "<script>" not in html  # only ever escaped
    assert page.errors == []


def test_a_conversation_with_tool_cards_for_the_readme(pages, artifacts: Path) -> None:
    """Two finished turns with tool cards; with UPDATE_SCREENSHOT=1 also docs/screenshot.png."""
    page = pages.open()
    first = send(page, "What's the weather like today? [sim:function-call]")
    assert wait_done(page, first) == "completed"
    turn_on(page, "code-interpreter")
    second = send(page, "Work something out in Python [sim:code-interpreter]")
    assert wait_done(page, second) == "completed"
    cards = []
    for turn_id, item_type in ((first, "function_call"), (second, "code_interpreter_call")):
        card = page.locator(f"{turn_selector(turn_id)} details.card[data-item-type={item_type}]")
        assert card.locator(".badge").inner_text() == "done"
        cards.append(card)
    # Both turns fit in one view with the first card folded (a click on its summary).
    cards[0].locator("summary").click()
    assert cards[0].get_attribute("open") is None
    page.locator("#composer-input").blur()
    page.evaluate(
        "() => { const t = document.getElementById('transcript'); t.scrollTo(0, t.scrollHeight); }"
    )
    shot = artifacts / "e2e-readme.png"
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
    assert page.errors == []
