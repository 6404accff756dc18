"""The write rounds on PostgreSQL (`COPY … FROM STDIN`), in a `manage.py shell` against a
fresh database of the machine's server: the suite's own database is SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served_app import ServedApp
from tests.team import Team, team_services

# Data COPY's text format must escape: tabs, newlines, backslashes, its own null marker.
TRICKY = ['{"a":"tab\there"}', '{"b":"a \\n and a \\\\"}', "\\N", "two\nlines", "✓ 漢字", "\\"]

SCRIPT = """
import json
from django.contrib.auth import get_user_model
from streaming.eventlog import store as logstore
from streaming.models import Conversation, Turn, TurnEvent

user = get_user_model().objects.get(username="alice")
turns = [
    Turn.objects.create(
        conversation=Conversation.objects.create(owner=user), input="x",
        status="streaming", lease_owner="w",
    )
    for _ in range(2)
]
tricky = json.loads(TRICKY)
first = logstore.write_round([
    logstore.Write(turns[0].pk, "w", 0, [("t", data, 7) for data in tricky]),
    logstore.Write(turns[1].pk, "w", 0, [("t", "{}", 8)]),
])
# Seq 0 again for the first turn: its write fails alone, the second turn's goes in.
second = logstore.write_round([
    logstore.Write(turns[0].pk, "w", 0, [("t", "{}", 9)]),
    logstore.Write(turns[1].pk, "w", 1, [("u", "[1]", 10)]),
])
rows = [
    list(TurnEvent.objects.filter(turn=turn).order_by("seq").values_list(
        "seq", "type", "data", "received_ms"))
    for turn in turns
]
print(json.dumps({
    "first": [repr(r) for r in first],
    "second": [type(r).__name__ for r in second],
    "rows": rows,
}))
"""


@pytest.fixture
def database(tmp_path: Path) -> Iterator[ServedApp]:
    team_services()
    team = Team(tmp_path, upstream="http://127.0.0.1:9")
    try:
        team.start(servers=0, workers=0)
        yield ServedApp(tmp_path, team.env)
    finally:
        team.stop()


def test_a_round_copies_every_row_as_given_and_a_duplicate_fails_only_its_turn(
    database: ServedApp,
) -> None:
    script = SCRIPT.replace("TRICKY)", f"{json.dumps(json.dumps(TRICKY))})")
    out = json.loads(database.manage("shell", "-c", script).strip().splitlines()[-1])
    assert out["first"] == ["False", "False"]
    assert out["second"] == ["IntegrityError", "bool"]
    assert out["rows"][0] == [[i, "t", data, 7] for i, data in enumerate(TRICKY)]
    assert out["rows"][1] == [[0, "t", "{}", 8], [1, "u", "[1]", 10]]


POISON_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from streaming.eventlog import store as logstore
from streaming.models import Conversation, Turn, TurnEvent

user = get_user_model().objects.get(username="alice")
poisoned, healthy = [
    Turn.objects.create(
        conversation=Conversation.objects.create(owner=user), input="x",
        status="streaming", lease_owner="w",
    )
    for _ in range(2)
]
bad = "nul\\x00 and \\ud800 lone"
results = logstore.write_round([
    logstore.Write(poisoned.pk, "w", 0, [("t", bad, 7)],
                   updates={"output_text": bad, "output": [{"text": bad}]}),
    logstore.Write(healthy.pk, "w", 0, [("t", "{}", 8)]),
])
poisoned.refresh_from_db()
print(json.dumps({
    "results": [repr(r) for r in results],
    "data": TurnEvent.objects.get(turn=poisoned).data,
    "text": poisoned.output_text,
    "output": poisoned.output,
    "healthy": TurnEvent.objects.filter(turn=healthy).count(),
}))
"""


def test_nul_and_lone_surrogates_from_upstream_are_stored_and_poison_no_round(
    database: ServedApp,
) -> None:
    """PostgreSQL refuses NUL in text and JSON, and UTF-8 has no lone surrogates: the turn's
    fields lose them, its raw event keeps them as JSON escapes, and the round's other turn is
    written too."""
    out = json.loads(database.manage("shell", "-c", POISON_SCRIPT).strip().splitlines()[-1])
    assert out["results"] == ["False", "False"]
    assert out["data"] == "nul\\u0000 and \\ud800 lone"
    assert out["text"] == "nul and  lone"
    assert out["output"] == [{"text": "nul and  lone"}]
    assert out["healthy"] == 1
