"""The search index's writes: a turn indexed when it ends, titles kept current, rows of a
deleted conversation removed. A failure here is logged and never fails the turn."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, connection, models

from streaming import search
from streaming.models import Turn

log = logging.getLogger(__name__)
_UUID = models.UUIDField()


def _db_id(value: Any) -> Any:
    return _UUID.get_db_prep_value(value, connection)


def search_index_turn(*, turn_id: Any) -> None:
    """(Re)write the turn's row; called once per turn, when it ends."""
    found = Turn.objects.filter(pk=turn_id).values(
        "input",
        "output_text",
        "created_at",
        "conversation_id",
        "conversation__title",
        "conversation__owner_id",
    )
    row = found.first()
    if row is None:
        return
    try:
        search.backend().write(
            {
                "turn_id": _db_id(turn_id),
                "owner_id": row["conversation__owner_id"],
                "conversation_id": _db_id(row["conversation_id"]),
                "title": search.clean(row["conversation__title"]),
                "input": search.clean(row["input"]),
                "answer": search.clean(row["output_text"]),
                "created_at": row["created_at"],
            }
        )
    except DatabaseError:
        log.exception("could not index turn %s for search", turn_id)


def search_retitle(*, conversation_id: Any, title: str) -> None:
    search.retitle(conversation_id=_db_id(conversation_id), title=search.clean(title))


def search_forget(*, conversation_id: Any) -> None:
    search.backend().forget(conversation_id=_db_id(conversation_id))
