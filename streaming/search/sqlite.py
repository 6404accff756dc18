"""The search index on SQLite: an FTS5 table ranked by bm25."""

from __future__ import annotations

import re
from typing import Any

from django.db import DatabaseError, connection

from streaming.search import RESULTS, START, STOP, TABLE, insert

CREATE = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(turn_id UNINDEXED, "
    "owner_id UNINDEXED, conversation_id UNINDEXED, title, input, answer, "
    "tokenize='unicode61 remove_diacritics 2')"
]
DROP = [f"DROP TABLE IF EXISTS {TABLE}"]
# bm25 weights, one per column: a word in the title counts most, then the message.
RANK = f"bm25({TABLE}, 0, 0, 0, 5.0, 2.0, 1.0)"
QUERY = (
    f"SELECT s.turn_id, s.conversation_id, s.title, "
    f"snippet({TABLE}, -1, '{START}', '{STOP}', '…', 16), t.created_at "
    f"FROM {TABLE} s JOIN streaming_turn t ON t.id = s.turn_id "
    f"WHERE {TABLE} MATCH %s AND s.owner_id = %s ORDER BY {RANK} LIMIT {RESULTS}"
)
WORD = re.compile(r"\w+")


def write(row: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE turn_id = %s", [row["turn_id"]])
        insert(cursor, row)


def forget(*, conversation_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE conversation_id = %s", [conversation_id])


def plain_words(query: str) -> str:
    """The query's words, each quoted: FTS5 syntax no longer applies."""
    return " ".join(f'"{word}"' for word in WORD.findall(query))


def find(*, owner_id: int, query: str) -> list[tuple[Any, ...]]:
    """Ranked rows; a query FTS5 cannot parse is searched again as plain words."""
    for expression in (query, plain_words(query)):
        if not expression.strip():
            return []
        try:
            with connection.cursor() as cursor:
                cursor.execute(QUERY, [expression, owner_id])
                return cursor.fetchall()
        except DatabaseError:
            continue
    return []
