"""The admin's conversation page: the whole transcript (every turn, oldest first, each with
its flags, feedback and attachments, in the chat renderer's shape), its audit records, and
exports of selected conversations like the turn list's."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client

from streaming.models import Conversation, Feedback, TranscriptView, Turn, Upload

# Transactional: the exports read their pages in threads of their own (streaming/review/export.py).
pytestmark = pytest.mark.django_db(transaction=True)

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _staff() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", password=None))
    return client


def _turn(conversation: Conversation, text: str, **fields: Any) -> Turn:
    fields.setdefault("status", "completed")
    return Turn.objects.create(
        conversation=conversation,
        input=text,
        model="sim-markdown",
        output_text=f"answer to {text}",
        output=[
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": f"answer to {text}"}],
            }
        ],
        **fields,
    )


@pytest.fixture
def chat() -> dict[str, Any]:
    alice = get_user_model().objects.create_user("alice")
    conversation = Conversation.objects.create(owner=alice, title="Three turns")
    first = _turn(conversation, "first question")
    second = _turn(
        conversation,
        "second question",
        flagged=True,
        moderation_status="flagged",
        moderation={"categories": ["harassment"]},
    )
    third = _turn(conversation, "third question", status="failed", error="upstream said no")
    Feedback.objects.create(turn=first, rating="up", comment="spot on")
    Feedback.objects.create(turn=third, rating="down", comment="broke")
    image = Upload.objects.create(
        owner=alice,
        file=ContentFile(PNG, name="dot.png"),
        name="dot.png",
        size=len(PNG),
        content_type="image/png",
    )
    second.attachments.add(image)
    other = Conversation.objects.create(owner=alice, title="Another")
    _turn(other, "not in this one")
    return {"conversation": conversation, "turns": [first, second, third], "image": image}


def _transcript(client: Client, conversation: Conversation) -> list[dict[str, Any]]:
    page = client.get(f"/admin/streaming/conversation/{conversation.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="conversation-review"' in html and "review/conversation.js" in html
    return page.context["transcript"]


def test_the_page_carries_every_turn_oldest_first_in_the_chat_renderers_shape(chat) -> None:
    turns = _transcript(_staff(), chat["conversation"])
    assert [t["id"] for t in turns] == [str(t.pk) for t in chat["turns"]]
    assert [t["input"] for t in turns] == ["first question", "second question", "third question"]
    for shown, stored in zip(turns, chat["turns"], strict=True):
        assert shown["output"] == stored.output and shown["status"] == stored.status
        assert shown["admin_url"] == f"/admin/streaming/turn/{stored.pk}/change/"
    assert turns[2]["error"] == "upstream said no"


def test_every_branch_is_shown_and_turns_off_the_active_path_say_so(chat) -> None:
    """A regenerated answer leaves its older version stored: the page shows both, and marks
    the one the user no longer sees."""
    first, second, third = chat["turns"]
    conversation = chat["conversation"]
    Turn.objects.filter(pk=second.pk).update(parent=first)
    Turn.objects.filter(pk=third.pk).update(parent=first)  # another version of the second
    Conversation.objects.filter(pk=conversation.pk).update(active_leaf=third)
    conversation.refresh_from_db()
    turns = _transcript(_staff(), conversation)
    assert [t["on_path"] for t in turns] == [True, False, True]
    assert turns[1]["parent"] == turns[2]["parent"] == str(first.pk)


def test_each_turn_has_its_flags_and_feedback(chat) -> None:
    first, second, third = _transcript(_staff(), chat["conversation"])
    assert first["feedback"] == {"rating": "up", "comment": "spot on"}
    assert second["feedback"] is None and third["feedback"]["rating"] == "down"
    assert second["flagged"] and second["categories"] == ["harassment"]
    assert not first["flagged"] and first["categories"] == []


def test_attachments_come_with_a_url_staff_may_open(chat) -> None:
    client = _staff()
    _, second, _ = _transcript(client, chat["conversation"])
    (shown,) = second["attachments"]
    assert shown["name"] == "dot.png" and shown["content_type"] == "image/png"
    image = client.get(shown["url"])
    assert image.status_code == 200 and b"".join(image.streaming_content) == PNG


def test_the_turns_json_is_escaped_in_the_page(chat) -> None:
    Turn.objects.filter(pk=chat["turns"][0].pk).update(input="</script><b>x</b>")
    page = _staff().get(f"/admin/streaming/conversation/{chat['conversation'].pk}/change/")
    assert "</script><b>x</b>" not in page.content.decode()


def test_opening_the_page_records_a_view_of_each_turn(chat) -> None:
    _transcript(_staff(), chat["conversation"])
    views = TranscriptView.objects.values_list("viewer_name", "turn_ref", "kind")
    assert sorted(views) == sorted(("boss", str(t.pk), "page") for t in chat["turns"])


def _export(client: Client, action: str, conversations: list[Conversation]) -> str:
    response = client.post(
        "/admin/streaming/conversation/",
        {"action": action, "_selected_action": [str(c.pk) for c in conversations]},
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return async_to_sync(_read)(response.streaming_content).decode()


async def _read(chunks: Any) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def test_selected_conversations_export_their_turns_as_jsonl(chat) -> None:
    body = _export(_staff(), "export_jsonl", [chat["conversation"]])
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["id"] for line in lines] == [str(t.pk) for t in chat["turns"]]
    assert {line["conversation"] for line in lines} == {str(chat["conversation"].pk)}
    assert "events" not in lines[0]


def test_the_jsonl_export_with_events_carries_each_log(chat) -> None:
    body = _export(_staff(), "export_jsonl_with_events", [chat["conversation"]])
    lines = [json.loads(line) for line in body.splitlines()]
    assert len(lines) == 3 and all(line["events"] == [] for line in lines)


def test_the_csv_export_summarises_the_selected_conversations_turns(chat) -> None:
    every = list(Conversation.objects.all())
    rows = list(csv.DictReader(io.StringIO(_export(_staff(), "export_csv", every))))
    assert len(rows) == 4 and {r["input"] for r in rows} >= {"first question", "not in this one"}
    assert [r["flagged"] for r in rows if r["input"] == "second question"] == ["True"]


def test_a_reviewer_without_the_view_permission_cannot_export(chat) -> None:
    clerk = get_user_model().objects.create_user("clerk", is_staff=True)
    client = Client()
    client.force_login(clerk)
    response = client.post(
        "/admin/streaming/conversation/",
        {"action": "export_jsonl", "_selected_action": [str(chat["conversation"].pk)]},
    )
    assert response.status_code == 403
