"""Branches of a conversation: regenerate or edit a turn (a new turn at its place), and
switch which path is active. The old branch's turns stay stored; only the active leaf moves.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from streaming import selectors
from streaming.models import Conversation, Turn
from streaming.services.turns import TurnConflict, turn_start

BUSY = "this conversation has an answer streaming; stop it first"


def turn_regenerate(*, turn: Turn, model: str | None = None) -> Turn:
    """A new answer to the same message at the same place; it becomes the active branch."""
    return turn_edit(turn=turn, text=turn.input, model=model)


def turn_edit(
    *,
    turn: Turn,
    text: str,
    model: str | None = None,
    attachments: list[Any] | None = None,
    tools: list[str] | None = None,
) -> Turn:
    """A new turn with `text` at `turn`'s place, with its attachments, model and tools
    unless others are given; it becomes the active branch. `TurnConflict` while any turn
    of the conversation is queued or streaming."""
    conversation = turn.conversation
    if selectors.conversation_has_active_turn(conversation=conversation):
        raise TurnConflict(BUSY)
    return turn_start(
        conversation=conversation,
        text=text,
        model=model or turn.model,
        attachments=list(turn.attachments.all()) if attachments is None else attachments,
        tools=list(turn.tools) if tools is None else tools,
        beside=turn,
    )


def conversation_activate(*, conversation: Conversation, turn: Turn) -> Any:
    """Make the path through `turn` active, following the newest child down from it; the
    new leaf's id. `TurnConflict` while a turn is queued or streaming (it would be left
    on a branch the user no longer sees)."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if selectors.conversation_has_active_turn(conversation=locked):
            raise TurnConflict(BUSY)
        leaf = selectors.turn_newest_leaf(turn=turn)
        Conversation.objects.filter(pk=locked.pk).update(active_leaf_id=leaf)
    conversation.active_leaf_id = leaf
    return leaf
