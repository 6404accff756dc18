"""Export of one's own conversation, and read-only shares: a teammate reads, revoke → 404,
nothing for anonymous visitors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from streaming.models import Conversation, Turn

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(name: str) -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(name)
    client = Client()
    client.force_login(user)
    return user, client


def a_conversation(owner: Any) -> Conversation:
    conversation = Conversation.objects.create(owner=owner, title="Trip plans")
    Turn.objects.create(
        conversation=conversation,
        input="Where to in May?",
        output_text="Lisbon is lovely.",
        output=[{"type": "message", "content": [{"type": "output_text", "text": "Lisbon"}]}],
        model="m",
        status="completed",
    )
    return conversation


def test_export_as_markdown_and_json_is_the_owners() -> None:
    alice, client = logged_in("alice")
    conversation = a_conversation(alice)
    path = f"/api/conversations/{conversation.pk}/export"
    markdown = client.get(path, {"format": "markdown"})
    assert "attachment" in markdown["Content-Disposition"]
    text = markdown.content.decode()
    assert "# Trip plans" in text and "Where to in May?" in text and "Lisbon is lovely." in text
    data = json.loads(client.get(path, {"format": "json"}).content)
    assert data["title"] == "Trip plans"
    assert data["turns"][0]["output"][0]["type"] == "message"
    assert client.get(path, {"format": "pdf"}).status_code == 400
    _, bob = logged_in("bob")
    assert bob.get(path).status_code == 404


def test_a_teammate_reads_a_share_until_it_is_revoked() -> None:
    alice, client = logged_in("alice")
    conversation = a_conversation(alice)
    path = f"/api/conversations/{conversation.pk}/share"
    _, bob = logged_in("bob")
    assert bob.post(path).status_code == 404
    url = client.post(path).json()["url"]
    assert client.post(path).json()["url"] == url
    shared = url.split("testserver", 1)[1]
    page = bob.get(shared)
    assert page.status_code == 200 and "Lisbon is lovely." in page.content.decode()
    assert "composer" not in page.content.decode()
    anonymous = Client().get(shared)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client.delete(path).status_code == 204
    assert bob.get(shared).status_code == 404
