"""The pages give their scripts the status sets from the server (streaming/web/pages.py),
and no script repeats them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from streaming.protocol import statuses

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "static").rglob("*.js") if "vendor" not in p.parts)
CONSTANTS = re.compile(r'<script id="relay-constants" type="application/json">(.*?)</script>')
# Words that are nothing but the relay's own turn statuses: a script that spells one out is
# repeating the set it belongs to.
TURN_ONLY = {"interrupted"}
WATCHED = {*statuses.TURN_STATUSES, *statuses.TERMINAL_EVENT_TYPES, *statuses.ITEM_PHASES}
QUOTED = re.compile(r"""(["'`])([a-z_.]+)\1""")
# Array literals (a Set's too) and regular-expression alternations.
LISTS = re.compile(r"\[([^\[\]]*)\]|\(((?:[a-z_]+\|)+[a-z_]+)\)")


def page_constants_of(html: str) -> Any:
    match = CONSTANTS.search(html)
    assert match is not None, "the page has no relay-constants element"
    return json.loads(match.group(1))


def without_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"(^|\s)//.*$", r"\1", source, flags=re.MULTILINE)


def status_lists(source: str) -> list[set[str]]:
    """Every literal list in `source` naming two or more statuses or terminal event types."""
    found = []
    for match in LISTS.finditer(without_comments(source)):
        if match.group(1) is not None:
            members = {word for _, word in QUOTED.findall(match.group(1))}
        else:
            members = set(match.group(2).split("|"))
        if len(members & WATCHED) >= 2:
            found.append(members & WATCHED)
    return found


@pytest.mark.django_db
def test_the_chat_page_carries_the_status_sets() -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("alice"))
    page = client.get("/").content.decode()
    assert page_constants_of(page) == statuses.page_constants()


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(ROOT)) for p in SCRIPTS])
def test_no_script_repeats_a_status_set(script: Path) -> None:
    """No list of statuses or terminal event types, and no turn-only status, outside
    comments: the scripts take them from static/chat/constants.js."""
    source = script.read_text(encoding="utf-8")
    assert status_lists(source) == []
    words = {word for _, word in QUOTED.findall(without_comments(source))}
    assert not words & TURN_ONLY


@pytest.mark.parametrize(
    "source",
    [
        'const TERMINAL = new Set(["completed", "incomplete", "failed"]);',
        "const DONE = ['completed', 'failed'];",
        "const STATUS = /^response\\.[a-z_]+\\.(in_progress|completed|failed)$/;",
        'if (["response.completed", "error"].includes(type)) return;',
    ],
)
def test_the_check_finds_a_hard_coded_list(source: str) -> None:
    """The check itself: each of these shapes is what the scripts used to hold."""
    assert status_lists(source)


def test_the_check_ignores_lists_in_comments() -> None:
    source = '// once: new Set(["completed", "failed"])\n/* ["queued", "streaming"] */\nx();'
    assert status_lists(source) == []
