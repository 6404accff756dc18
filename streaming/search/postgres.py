"""The search index on PostgreSQL: a generated tsvector with a GIN index, queried with
`websearch_to_tsquery`, which reads quotes, OR and -word and never fails on syntax.

The newest matches come from the (owner_id, created_at) index when the words are common
(the planner walks it from the newest row, testing each until it has CANDIDATES) and from
the GIN index when they are not (few matches, sorted by time)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from streaming import search
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
    f"|| setweight(to_tsvector('{CONFIG}', answer), 'C')) STORED, "
    "created_at timestamptz NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_document ON {TABLE} USING gin (document)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_recent ON {TABLE} (owner_id, created_at DESC)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_conversation ON {TABLE} (conversation_id)",
]
DROP = [f"DROP TABLE IF EXISTS {TABLE}"]
HEADLINE = f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=8, MaxFragments=2"
# The newest matches, ranked; headlines for the page of results only (ts_headline is the
# costly part). The candidates carry no text: a sort of wide rows would spill to disk.
QUERY = (
    f"SELECT s.turn_id, s.conversation_id, s.title, "
    f"ts_headline('{CONFIG}', s.input || ' … ' || s.answer, r.q, '{HEADLINE}'), s.created_at "
    f"FROM (SELECT c.turn_id, c.q, c.rank, c.created_at FROM ("
    f"SELECT turn_id, created_at, q, ts_rank(document, q) AS rank "
    f"FROM {TABLE}, websearch_to_tsquery('{CONFIG}', %s) q "
    f"WHERE owner_id = %s AND document @@ q ORDER BY created_at DESC LIMIT %s) c "
    f"ORDER BY c.rank DESC, c.created_at DESC LIMIT {RESULTS}) r "
    f"JOIN {TABLE} s ON s.turn_id = r.turn_id ORDER BY r.rank DESC, r.created_at DESC"
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
        cursor.execute(QUERY, [query, owner_id, search.CANDIDATES])
        return cursor.fetchall()
