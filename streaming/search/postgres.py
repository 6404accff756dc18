"""The search index on PostgreSQL: a generated tsvector with a GIN index, queried with
`websearch_to_tsquery`, which reads quotes, OR and -word and never fails on syntax."""

from __future__ import annotations

from typing import Any

from django.db import connection

from streaming.search import RESULTS, START, STOP, TABLE, insert

CONFIG = "simple"  # no stemming or stop words: the team writes in more than one language
CREATE = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "turn_id uuid PRIMARY KEY REFERENCES streaming_turn (id) ON DELETE CASCADE "
    "DEFERRABLE INITIALLY DEFERRED, "
    "owner_id bigint NOT NULL, conversation_id uuid NOT NULL, "
    "title text NOT NULL, input text NOT NULL, answer text NOT NULL, "
    f"document tsvector GENERATED ALWAYS AS (setweight(to_tsvector('{CONFIG}', title), 'A') "
    f"|| setweight(to_tsvector('{CONFIG}', input), 'B') "
    f"|| setweight(to_tsvector('{CONFIG}', answer), 'C')) STORED)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_document ON {TABLE} USING gin (document)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {TABLE} (owner_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_conversation ON {TABLE} (conversation_id)",
]
DROP = [f"DROP TABLE IF EXISTS {TABLE}"]
HEADLINE = f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=8, MaxFragments=2"
# Rank first, then make headlines for the page of results only (ts_headline is the costly
# part).
QUERY = (
    f"SELECT r.turn_id, r.conversation_id, r.title, "
    f"ts_headline('{CONFIG}', r.input || ' … ' || r.answer, q, '{HEADLINE}'), t.created_at "
    f"FROM (SELECT s.*, q, ts_rank(document, q) AS rank FROM {TABLE} s, "
    f"websearch_to_tsquery('{CONFIG}', %s) q WHERE document @@ q AND owner_id = %s "
    f"ORDER BY rank DESC LIMIT {RESULTS}) r JOIN streaming_turn t ON t.id = r.turn_id "
    "ORDER BY r.rank DESC"
)


def write(row: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        insert(
            cursor,
            row,
            suffix=" ON CONFLICT (turn_id) DO UPDATE SET "
            "title = EXCLUDED.title, input = EXCLUDED.input, answer = EXCLUDED.answer",
        )


def forget(*, conversation_id: str) -> None:
    """Nothing to do: the rows go with their turns (ON DELETE CASCADE)."""


def find(*, owner_id: int, query: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(QUERY, [query, owner_id])
        return cursor.fetchall()
