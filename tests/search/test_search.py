"""Search of one's own chats, the sidebar's pages, and feedback on answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from streaming import search
from streaming.models import Conversation, Feedback, Turn
from streaming.search import TABLE
from streaming.search.sqlite import row_keys
from streaming.services.conversations import conversation_delete, conversation_rename
from streaming.services.search import search_index_turn

pytestmark = pytest.mark.django_db(transaction=True)


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(name)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def finished(owner: Any, text: str, answer: str, title: str = "chat") -> Turn:
    conversation = Conversation.objects.create(owner=owner, title=title)
    turn = Turn.objects.create(
        conversation=conversation, input=text, output_text=answer, model="m", status="completed"
    )
    search_index_turn(turn_id=turn.pk)
    return turn


def searched(client: Client, query: str) -> list[dict[str, Any]]:
    response = client.get("/api/search", {"q": query})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_it_finds_own_turns_by_input_answer_and_title_with_highlights() -> None:
    alice = make_user("alice")
    turn = finished(alice, "how do penguins sleep", "standing up, mostly", title="Birds")
    client = logged_in(alice)
    for query in ("penguins", "mostly", "birds"):
        results = searched(client, query)
        assert [r["turn"] for r in results] == [str(turn.pk)], query
    hit = searched(client, "penguins")[0]
    assert hit["conversation"] == str(turn.conversation_id) and hit["title"] == "Birds"
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end].lower() == "penguins"


def test_it_never_finds_another_users_turns() -> None:
    alice, bob = make_user("alice"), make_user("bob")
    finished(bob, "secret walrus plans", "noted")
    mine = finished(alice, "walrus facts", "tusks")
    assert [r["turn"] for r in searched(logged_in(alice), "walrus")] == [str(mine.pk)]
    assert searched(logged_in(alice), "secret") == []


@pytest.mark.parametrize(
    "query",
    ["walrus) OR (secret", "secret OR walrus", "owner : secret OR walrus", "NOT walrus", "-walrus"],
)
def test_no_operator_reaches_another_users_turns(query: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    theirs = {str(finished(bob, "secret walrus plans", "noted").pk)}
    finished(alice, "walrus facts", "tusks")
    found = {r["turn"] for r in searched(logged_in(alice), query)}
    assert not found & theirs


def test_the_owner_is_no_word_to_search_for() -> None:
    """The SQLite index holds the owner as a token of its own: the owner's id typed as a
    word finds only turns with that number in them."""
    alice = make_user("alice")
    finished(alice, "walrus facts", "tusks")
    counted = finished(alice, f"there are {alice.pk} walruses", "ok")
    assert [r["turn"] for r in searched(logged_in(alice), str(alice.pk))] == [str(counted.pk)]


def test_ranking_weighs_the_title_most_and_keeps_the_newest_matches(monkeypatch: Any) -> None:
    """Among the matches ranked, a title match comes first, and equal ones newest first; past
    CANDIDATES matches, only the newest are ranked."""
    alice = make_user("alice")
    best = finished(alice, "a note", "nothing", title="Otter otter otter")
    older, newer = (finished(alice, "an otter", "swam") for _ in range(2))
    client = logged_in(alice)
    assert [r["turn"] for r in searched(client, "otter")] == [
        str(t.pk) for t in (best, newer, older)
    ]
    monkeypatch.setattr(search, "CANDIDATES", 2)
    assert [r["turn"] for r in searched(client, "otter")] == [str(newer.pk), str(older.pk)]


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "AND OR NOT",
        "walrus)",
        "(",
        "owner_id:1",
        "*",
        "NEAR(",
        "walrus -",
        "^",
        "\x00",
    ],
)
def test_fts_syntax_errors_become_plain_word_searches(query: str) -> None:
    alice = make_user("alice")
    finished(alice, "walrus facts", "tusks")
    results = searched(logged_in(alice), query)
    if "walrus" in query:
        assert len(results) == 1


def test_unicode_queries_match() -> None:
    alice = make_user("alice")
    turn = finished(alice, "Ein Gedicht über Bären 🐻", "日本語のテキスト")
    assert [r["turn"] for r in searched(logged_in(alice), "über")] == [str(turn.pk)]
    assert [r["turn"] for r in searched(logged_in(alice), "Baren")] in ([str(turn.pk)], [])


def test_rename_and_delete_keep_the_index_current() -> None:
    alice = make_user("alice")
    turn = finished(alice, "anything", "else", title="old name")
    conversation_rename(conversation=turn.conversation, title="zebra notes")
    assert len(searched(logged_in(alice), "zebra")) == 1
    conversation_delete(conversation=turn.conversation)
    assert searched(logged_in(alice), "anything") == []


def test_indexing_a_turn_again_replaces_its_one_row() -> None:
    """On SQLite the row sits in the rowids of the turn's creation time, so it is replaced
    without reading the whole index; on PostgreSQL the upsert on turn_id does the same."""
    alice = make_user("alice")
    turn = finished(alice, "first draft about otters", "ok")
    Turn.objects.filter(pk=turn.pk).update(output_text="final words about beavers")
    search_index_turn(turn_id=turn.pk)
    client = logged_in(alice)
    assert [r["turn"] for r in searched(client, "beavers")] == [str(turn.pk)]
    assert [r["turn"] for r in searched(client, "otters")] == [str(turn.pk)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE owner_id = %s", [alice.pk])
        assert cursor.fetchone()[0] == 1
        if connection.vendor == "sqlite":
            first, last = row_keys(turn.created_at)
            cursor.execute(
                f"SELECT turn_id FROM {TABLE} WHERE rowid BETWEEN %s AND %s", [first, last]
            )
            assert cursor.fetchall() == [(turn.pk.hex,)]


def test_a_turn_is_indexed_when_it_ends_not_before() -> None:
    alice = make_user("alice")
    conversation = Conversation.objects.create(owner=alice)
    Turn.objects.create(conversation=conversation, input="pending llama", model="m")
    assert searched(logged_in(alice), "llama") == []


def test_conversations_page_with_a_cursor() -> None:
    alice = make_user("alice")
    made = [Conversation.objects.create(owner=alice, title=f"c{i}") for i in range(5)]
    client = logged_in(alice)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        data = client.get("/api/conversations", params).json()
        seen += [c["id"] for c in data["results"]]
        cursor = data["next"]
        if cursor is None:
            break
    assert seen == [str(c.pk) for c in reversed(made)]
    assert client.get("/api/conversations", {"cursor": "garbage"}).status_code == 400
    assert client.get("/api/conversations", {"limit": "0"}).status_code == 400


def post_json(client: Client, path: str, data: Any) -> Any:
    return client.post(path, json.dumps(data), content_type="application/json")


def test_feedback_is_the_owners_and_changeable() -> None:
    alice, bob = make_user("alice"), make_user("bob")
    turn = finished(alice, "q", "a")
    path = f"/api/turns/{turn.pk}/feedback"
    assert post_json(logged_in(bob), path, {"rating": "up"}).status_code == 404
    assert post_json(logged_in(alice), path, {"rating": "meh"}).status_code == 400
    assert post_json(logged_in(alice), path, {"rating": "up"}).status_code == 200
    answer = post_json(logged_in(alice), path, {"rating": "down", "comment": "wrong"})
    assert answer.json() == {"turn": str(turn.pk), "rating": "down", "comment": "wrong"}
    assert Feedback.objects.get(turn=turn).rating == "down"


def test_feedback_waits_for_the_answer_to_finish() -> None:
    alice = make_user("alice")
    conversation = Conversation.objects.create(owner=alice)
    turn = Turn.objects.create(conversation=conversation, input="q", model="m")
    answer = post_json(logged_in(alice), f"/api/turns/{turn.pk}/feedback", {"rating": "up"})
    assert answer.status_code == 409
