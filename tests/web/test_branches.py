"""The branch API's refusals: another user's turn or conversation is a 404, bad bodies are
400s naming the field; and existing turns are chained into one line by the migration."""

from __future__ import annotations

import importlib
import itertools
import json
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client

from streaming.models import Conversation, Turn

pytestmark = pytest.mark.django_db


def logged_in(name: str) -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(name)
    client = Client()
    client.force_login(user)
    return user, client


def post_json(client: Client, path: str, data: Any) -> Any:
    return client.post(path, json.dumps(data), content_type="application/json")


def a_turn(owner: Any, **fields: Any) -> Turn:
    conversation = Conversation.objects.create(owner=owner, title="mine")
    return Turn.objects.create(
        conversation=conversation, input="hi", model="sim-markdown", status="completed", **fields
    )


def test_another_users_turn_or_conversation_is_not_found() -> None:
    alice, _ = logged_in("alice")
    _, bob = logged_in("bob")
    turn = a_turn(alice)
    assert post_json(bob, f"/api/turns/{turn.pk}/regenerate", {}).status_code == 404
    assert post_json(bob, f"/api/turns/{turn.pk}/edit", {"input": "x"}).status_code == 404
    active = f"/api/conversations/{turn.conversation_id}/active"
    assert post_json(bob, active, {"turn": str(turn.pk)}).status_code == 404
    assert Turn.objects.count() == 1


def test_a_turn_of_another_conversation_cannot_be_made_active() -> None:
    alice, client = logged_in("alice")
    mine, other = a_turn(alice), a_turn(alice)
    path = f"/api/conversations/{mine.conversation_id}/active"
    response = post_json(client, path, {"turn": str(other.pk)})
    assert response.status_code == 404


def test_bad_bodies_are_400s_naming_the_field() -> None:
    alice, client = logged_in("alice")
    turn = a_turn(alice)
    edit = post_json(client, f"/api/turns/{turn.pk}/edit", {"input": "  "})
    assert edit.status_code == 400 and "'input'" in edit.json()["error"]
    edit = post_json(client, f"/api/turns/{turn.pk}/edit", {"input": "x", "tools": ["nope"]})
    assert edit.status_code == 400 and "nope" in edit.json()["error"]
    path = f"/api/conversations/{turn.conversation_id}/active"
    for body in ({}, {"turn": "not-a-uuid"}, {"turn": 3}):
        response = post_json(client, path, body)
        assert response.status_code == 400 and "'turn'" in response.json()["error"], body
    assert Turn.objects.count() == 1


def test_the_migration_chains_existing_turns_and_marks_the_newest_active() -> None:
    alice, client = logged_in("alice")
    first = a_turn(alice)
    conversation = first.conversation
    later = [
        Turn.objects.create(conversation=conversation, input=f"n{i}", model="m", status="failed")
        for i in range(3)
    ]
    migration = importlib.import_module("streaming.migrations.0014_branches")
    migration.chain_existing_turns(apps, None)
    chain = [first, *later]
    for before, after in itertools.pairwise(chain):
        after.refresh_from_db()
        assert after.parent_id == before.pk
    conversation.refresh_from_db()
    assert conversation.active_leaf_id == later[-1].pk
    turns = client.get(f"/api/conversations/{conversation.pk}").json()["turns"]
    assert [t["id"] for t in turns] == [str(t.pk) for t in chain]
    assert all(t["siblings"] == [t["id"]] for t in turns)


def test_export_and_share_follow_the_active_path() -> None:
    """The branch not shown is neither exported nor shared; switching changes both."""
    alice, client = logged_in("alice")
    first = a_turn(alice, output_text="root answer")
    conversation = first.conversation

    def reply(text: str) -> Turn:
        return Turn.objects.create(
            conversation=conversation,
            parent=first,
            input=f"{text} question",
            output_text=f"{text} answer",
            model="m",
            status="completed",
        )

    old, new = reply("old"), reply("new")
    Conversation.objects.filter(pk=conversation.pk).update(active_leaf=new)
    export = f"/api/conversations/{conversation.pk}/export"
    url = client.post(f"/api/conversations/{conversation.pk}/share").json()["url"]
    _, bob = logged_in("bob")

    def shown() -> tuple[str, list[str], str]:
        markdown = client.get(export, {"format": "markdown"}).content.decode()
        data = json.loads(client.get(export, {"format": "json"}).content)
        page = bob.get(url).content.decode()
        return markdown, [t["input"] for t in data["turns"]], page

    markdown, inputs, page = shown()
    assert "new answer" in markdown and "old answer" not in markdown
    assert inputs == ["hi", "new question"]
    assert "new answer" in page and "old answer" not in page
    active = f"/api/conversations/{conversation.pk}/active"
    assert post_json(client, active, {"turn": str(old.pk)}).status_code == 200
    markdown, inputs, page = shown()
    assert "old answer" in markdown and "new answer" not in markdown
    assert inputs == ["hi", "old question"]
    assert "old answer" in page and "new answer" not in page
