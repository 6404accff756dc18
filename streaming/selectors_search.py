"""Queries for search and the sidebar's pages (apart from selectors.py, which other work
changes): each scoped to the user's own rows."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils.dateparse import parse_datetime

from streaming import search
from streaming.models import Conversation


class BadCursor(ValueError):
    pass


def turn_search(*, user: Any, query: str) -> list[dict[str, Any]]:
    rows = search.backend().find(owner_id=user.pk, query=search.clean(query))
    results = []
    for turn_id, conversation_id, title, marked, created_at in rows:
        snippet, ranges = search.highlights(marked or "")
        moment = created_at if isinstance(created_at, datetime) else parse_datetime(created_at)
        results.append(
            {
                "conversation": str(uuid.UUID(str(conversation_id))),
                "turn": str(uuid.UUID(str(turn_id))),
                "title": title,
                "snippet": snippet,
                "highlights": ranges,
                "created_at": moment.isoformat() if moment else None,
            }
        )
    return results


def cursor_of(conversation: Conversation) -> str:
    raw = f"{conversation.updated_at.isoformat()}|{conversation.pk.hex}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.split("|")
        parsed = parse_datetime(moment)
        if parsed is None:
            raise ValueError(moment)
        return parsed, uuid.UUID(pk)
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("'cursor' is not one this server gave") from None


def conversation_page(
    *, user: Any, limit: int, cursor: str | None
) -> tuple[list[Conversation], str | None]:
    """A page of the user's conversations, newest first (keyset: pages never shift)."""
    page = Conversation.objects.filter(owner=user).order_by("-updated_at", "-pk")
    if cursor:
        moment, pk = _parse_cursor(cursor)
        page = page.filter(Q(updated_at__lt=moment) | Q(updated_at=moment, pk__lt=pk))
    rows = list(page[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (cursor_of(rows[-1]) if more and rows else None)
