"""A past turn's stored output becomes typed input items: assistant text as `output_text`
parts, function calls only with their outputs, reasoning only when it came encrypted."""

from __future__ import annotations

from typing import Any

from streaming.models import Turn
from streaming.worker.history import input_for, output_items

CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "c1",
    "name": "weather",
    "arguments": "{}",
}
ANSWER = {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "It is sunny.", "annotations": []}],
}


def test_calls_with_their_outputs_and_the_message_are_kept_typed() -> None:
    items = output_items([CALL, ANSWER, MESSAGE], "It is sunny.")
    assert items == [
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "It is sunny.", "annotations": []}],
        },
    ]


def test_an_unanswered_call_is_left_out() -> None:
    assert output_items([CALL], "") == []


def test_reasoning_is_sent_again_only_when_encrypted() -> None:
    plain = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "x"}]}
    sealed = {**plain, "id": "rs_2", "encrypted_content": "gAAAA"}
    items = output_items([plain, sealed, MESSAGE], "It is sunny.")
    assert items[0] == {
        "type": "reasoning",
        "id": "rs_2",
        "summary": plain["summary"],
        "encrypted_content": "gAAAA",
    }
    assert len(items) == 2


def test_text_without_a_message_item_still_goes_as_an_assistant_message() -> None:
    items = output_items([], "partial answer")
    assert items == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "partial answer", "annotations": []}],
        }
    ]


def test_earlier_attachments_are_sent_again_only_within_the_budget(
    db: None, settings: Any, tmp_path: Any
) -> None:
    """Newest first while they fit ATTACHMENTS_HISTORY_MAX_BYTES; the new turn's always go."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    from streaming.models import Conversation, Upload

    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.ATTACHMENTS_HISTORY_MAX_BYTES = 15
    settings.RELAY_PREVIOUS_RESPONSE_ID = False
    owner = get_user_model().objects.create_user("alice")
    conversation = Conversation.objects.create(owner=owner)
    turns = []
    for name in ("old.txt", "recent.txt", "new.txt"):
        upload = Upload(owner=owner, name=name, size=10, content_type="text/plain")
        upload.file.save(name, ContentFile(b"0123456789"), save=True)
        turn = conversation.turns.create(
            input=name, model="m", status="completed", parent=turns[-1] if turns else None
        )
        turn.attachments.add(upload)
        turns.append(turn)
    Turn.objects.filter(pk=turns[-1].pk).update(status="queued")
    items, _ = input_for(turns[-1])
    sent = [[p["text"].split(":")[0] for p in i["content"][1:]] for i in items]
    assert sent == [[], ["recent.txt"], ["new.txt"]]
