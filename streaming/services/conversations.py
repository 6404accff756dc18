"""Conversation changes: create, rename, delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from streaming import selectors
from streaming.models import Conversation
from streaming.services.search import search_forget, search_retitle

TITLE_CHARS = 200


class ConversationBusy(Exception):
    """The conversation has a turn queued or streaming."""


def conversation_create(*, owner: Any, title: str = "") -> Conversation:
    return Conversation.objects.create(owner=owner, title=title[:TITLE_CHARS])


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    conversation.title = title[:TITLE_CHARS]
    conversation.save(update_fields=["title", "updated_at"])
    search_retitle(conversation_id=conversation.pk, title=conversation.title)
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete it with its turns and their logs; refused while a turn streams, whose worker
    would otherwise write into rows that are gone."""
    with transaction.atomic():
        if selectors.conversation_has_active_turn(conversation=conversation):
            raise ConversationBusy("stop the streaming turn before deleting the conversation")
        search_forget(conversation_id=conversation.pk)
        conversation.delete()
