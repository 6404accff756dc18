"""Conversation changes: create, rename, update, delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from streaming import selectors
from streaming.models import Conversation, Upload
from streaming.services.files import files_delete
from streaming.services.search import search_forget, search_retitle

TITLE_CHARS = 200


class ConversationBusy(Exception):
    """The conversation has a turn queued or streaming."""


def conversation_create(*, owner: Any, title: str = "", **options: Any) -> Conversation:
    """`options`: model, instructions, reasoning_effort, verbosity, preset (validated)."""
    return Conversation.objects.create(owner=owner, title=title[:TITLE_CHARS], **options)


def conversation_update(*, conversation: Conversation, **changes: Any) -> Conversation:
    """Change the title or what the next turn runs with (validated by the caller)."""
    for name, value in changes.items():
        setattr(conversation, name, value)
    conversation.save(update_fields=[*changes, "updated_at"])
    return conversation


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
        files_delete(uploads=list(Upload.objects.filter(turns__conversation=conversation)))
        search_forget(conversation_id=conversation.pk)
        conversation.delete()
