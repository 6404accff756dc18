"""Full-text search of a user's own turns: SQLite FTS5 on the embedded default, PostgreSQL
full-text search in a team. The index holds one row per finished turn (its conversation's
title, its input and its answer), written when the turn ends, never per event.

Both rank at most the CANDIDATES newest of the owner's matching turns: ranking is the cost
of a search, and a word found in nearly every turn would otherwise rank them all, while it
says little about which of them is wanted. A query with fewer matches ranks them all.

`backend()` picks the module for the database in use; both offer the same functions.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.db import connection

TABLE = "streaming_search"
# Marks around matched words in a snippet, turned into offsets before they leave the server
# (private-use characters, removed from the indexed text).
START, STOP = "\ue000", "\ue001"
# Prefixes the owner's id in the SQLite index's owner token, so that no typed word matches it.
OWNER = "\ue002"
RESULTS = 20
CANDIDATES = 2000
COLUMNS = ("turn_id", "owner_id", "conversation_id", "title", "input", "answer", "created_at")
INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"


def insert(cursor: Any, row: dict[str, Any], *, suffix: str = "") -> None:
    """One turn's row; `suffix` ends the statement (PostgreSQL's upsert clause)."""
    cursor.execute(INSERT + suffix, [row[column] for column in COLUMNS])


def retitle(*, conversation_id: str, title: str) -> None:
    """The same on both databases: the title is an ordinary column."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET title = %s WHERE conversation_id = %s", [title, conversation_id]
        )


def backend() -> ModuleType:
    if connection.vendor == "postgresql":
        from streaming.search import postgres

        return postgres
    from streaming.search import sqlite

    return sqlite


def clean(text: str) -> str:
    return text.replace(START, "").replace(STOP, "").replace(OWNER, "").replace("\x00", "")


def highlights(marked: str) -> tuple[str, list[list[int]]]:
    """A marked snippet as plain text and the [start, end) offsets of its matched words."""
    plain: list[str] = []
    ranges: list[list[int]] = []
    length, begin = 0, None
    for part in marked:
        if part == START:
            begin = length
        elif part == STOP and begin is not None:
            ranges.append([begin, length])
            begin = None
        elif part != STOP:
            plain.append(part)
            length += 1
    return "".join(plain), ranges
