"""The search index on SQLite: an FTS5 table ranked by bm25."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db import DatabaseError, connection

from streaming.search import COLUMNS, RESULTS, START, STOP, TABLE

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


INSERT = (
    f"INSERT INTO {TABLE} (rowid, {', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * (len(COLUMNS) + 1))})"
)


def row_key(turn_id: Any) -> int:
    """The index row's rowid, made from the turn's id: FTS5 finds a row by rowid at once,
    while a match on the unindexed `turn_id` column reads the whole table."""
    return uuid.UUID(str(turn_id)).int >> 65  # 63 bits: a positive SQLite integer


def write(row: dict[str, Any]) -> None:
    key = row_key(row["turn_id"])
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE rowid = %s", [key])
        cursor.execute(INSERT, [key, *(row[column] for column in COLUMNS)])


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
