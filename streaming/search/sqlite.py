"""The search index on SQLite: an FTS5 table ranked by bm25.

The owner is a token of the index's own (`owner`), matched in a MATCH of its own: FTS5 then
reads only the owner's rows, and nothing in the user's query can widen it (two MATCH
constraints are joined by AND, whatever either says). Rowids follow the turns' creation, so
"the newest matches" is FTS5 walking its rowids downwards and stopping early.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection

from streaming import search
from streaming.search import COLUMNS, OWNER, RESULTS, START, STOP, TABLE

CREATE = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(turn_id UNINDEXED, "
    "owner_id UNINDEXED, conversation_id UNINDEXED, title, input, answer, "
    "created_at UNINDEXED, owner, tokenize='unicode61 remove_diacritics 2')"
]
DROP = [f"DROP TABLE IF EXISTS {TABLE}"]
# bm25 weights, one per column: a word in the title counts most, then the message.
RANK = f"bm25({TABLE}, 0, 0, 0, 5.0, 2.0, 1.0, 0, 0)"
SNIPPET = f"snippet({TABLE}, -1, '{START}', '{STOP}', '…', 16)"
# How many turns of anyone's the words match, counted up to search.CANDIDATES + 1.
COUNT = f"SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE {TABLE} MATCH %s LIMIT %s)"
# Few matches: rank them all. The owner token stays out of this one, because bm25 counts the
# rows of every phrase in the match once per query, and the owner's are all their turns.
ALL = (
    f"SELECT turn_id, conversation_id, title, {SNIPPET}, created_at FROM {TABLE} "
    f"WHERE {TABLE} MATCH %s AND owner_id = %s ORDER BY {RANK}, rowid DESC LIMIT {RESULTS}"
)
# Many: the owner's newest, ranked; snippets for the page of results only (the outer MATCH,
# on the user's words alone, finds each by rowid).
NEWEST = (
    f"WITH top AS (SELECT id, rank FROM (SELECT rowid AS id, {RANK} AS rank FROM {TABLE} "
    f"WHERE {TABLE} MATCH %s AND {TABLE} MATCH %s ORDER BY rowid DESC LIMIT %s) "
    f"ORDER BY rank, id DESC LIMIT {RESULTS}) "
    f"SELECT s.turn_id, s.conversation_id, s.title, {SNIPPET}, s.created_at "
    f"FROM top JOIN {TABLE} s ON s.rowid = top.id "
    f"WHERE {TABLE} MATCH %s AND s.owner_id = %s ORDER BY top.rank, top.id DESC"
)
WORD = re.compile(r"\w+")
# A turn's rowid is its creation time in microseconds times SLOTS, plus the first slot free:
# turns created in the same microsecond (never SLOTS of them) still get rowids of their own.
SLOTS = 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

INSERT = (
    f"INSERT INTO {TABLE} (rowid, {', '.join(COLUMNS)}, owner) "
    f"SELECT coalesce(max(rowid) + 1, %s), {', '.join(['%s'] * (len(COLUMNS) + 1))} "
    f"FROM {TABLE} WHERE rowid BETWEEN %s AND %s"
)


def row_keys(created_at: datetime) -> tuple[int, int]:
    """The first and last rowid a turn created at that moment can have."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    first = (created_at - EPOCH) // timedelta(microseconds=1) * SLOTS
    return first, first + SLOTS - 1


def owner_token(owner_id: int) -> str:
    return f"{OWNER}{owner_id}"


def write(row: dict[str, Any]) -> None:
    """Replace the turn's row: its rowid lies in the range of its creation time, so finding
    it reads a few rows, not the whole index (`turn_id` is not indexed)."""
    first, last = row_keys(row["created_at"])
    values = [
        *(row[column] for column in COLUMNS[:-1]),
        connection.ops.adapt_datetimefield_value(row["created_at"]),
        owner_token(row["owner_id"]),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE rowid BETWEEN %s AND %s AND turn_id = %s",
            [first, last, row["turn_id"]],
        )
        cursor.execute(INSERT, [first, *values, first, last])


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
                _ranked(cursor, owner_id=owner_id, expression=expression)
                return cursor.fetchall()
        except DatabaseError:
            continue
    return []


def _ranked(cursor: Any, *, owner_id: int, expression: str) -> None:
    limit = search.CANDIDATES
    cursor.execute(COUNT, [expression, limit + 1])
    if cursor.fetchone()[0] <= limit:
        cursor.execute(ALL, [expression, owner_id])
    else:
        owner = f'owner : "{owner_token(owner_id)}"'
        cursor.execute(NEWEST, [owner, expression, limit, expression, owner_id])
