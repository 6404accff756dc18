"""The database side of turn logs: every turn's pending writes in a process, in one round.

A round is one thread hop and one transaction for every turn that has something to write,
and a fixed number of statements whatever the number of turns: one `SELECT` of the turns the
owner still holds (the lease check; `FOR SHARE` on PostgreSQL, so a take-over waits for the
round), and one multi-row `INSERT` of every turn's new events. A heartbeat round
(`Write.heartbeat`, every `RELAY_LEASE_SECONDS / 3`) instead renews the leases and saves each
turn's `next_seq` in one `UPDATE` (its `WHERE lease_owner = …` is then the lease check), and
reads the cancel flags. So between heartbeats, and until the turn's final write, a streaming
turn's `next_seq` may lag its log; whoever takes a turn over counts its log instead.
A hop, a transaction and two statements per turn and flush made the database thread a large
share of the server's CPU under load, and an `UPDATE` in every round, with its `CASE` over
every turn, a large share of each round: hence one round for all turns, and the heartbeat.
`streaming/eventlog/flusher.py` decides when rounds run.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.utils import timezone

from streaming.eventlog.storable import storable, storable_raw
from streaming.models import Turn, TurnEvent

T = TypeVar("T")
log = logging.getLogger(__name__)
Event = tuple[str, str, int]  # type, the JSON as received, receive time in ms


class LeaseLost(Exception):
    """Another worker (or the sweep) took the turn over; its writer must stop."""


async def db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking ORM code off the event loop, outside the thread-sensitive executor.

    The thread-sensitive executor is one thread shared by every consumer in the process; a
    slow write there stalls them all (channels#2132).
    """
    return await _off_the_loop(None, fn, *args, **kwargs)


_threads: dict[str, ThreadPoolExecutor] = {}


def _thread(name: str) -> ThreadPoolExecutor:
    executor = _threads.get(name)
    if executor is None:
        executor = _threads[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    return executor


async def db_rounds(fn: Callable[..., T], *args: Any) -> T:
    """`db`, in the one thread that runs this process's write rounds.

    One thread means one database connection, whose page cache stays warm from one round to
    the next: in WAL mode SQLite drops a connection's cache when another connection wrote,
    and rounds spread over the executor's threads re-read the index pages they touch on
    every round."""
    return await _off_the_loop(_thread("log-rounds"), fn, *args)


async def db_checkpoints(fn: Callable[..., T], *args: Any) -> T:
    """`db`, in a thread of its own for WAL checkpoints. A passive checkpoint blocks no
    writer, but run in the rounds' thread each one held up the round after it for as long
    as copying the WAL's frames took, and every event relayed meanwhile was late by that."""
    return await _off_the_loop(_thread("log-checkpoints"), fn, *args)


async def _off_the_loop(
    executor: ThreadPoolExecutor | None, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """`fn` in `executor` (None: the loop's default), closing connections that are too old
    or broken before and after, as Django does around a request.

    Except on SQLite: these threads live as long as the process, and a SQLite connection
    never goes stale (Django's `is_usable` is always true there), so closing it would only
    throw its page cache away and open a new one for every call."""
    from asgiref.sync import sync_to_async

    tidy = connection.vendor != "sqlite"

    def call() -> T:
        if tidy:
            close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            if tidy:
                close_old_connections()

    return await sync_to_async(call, thread_sensitive=False, executor=executor)()


@dataclass(slots=True)
class Write:
    """One turn's part of a round: its events from seq `first`, and Turn fields to save.

    The lease is checked; with `heartbeat` it is also renewed, `next_seq` is saved and the
    cancel flag is read. `updates` are saved with `next_seq` (and a renewed lease, unless they
    set `lease_owner`: the final write releases it). `pk` is the turn's id as the database
    takes it (`db_pk`), given by a writer that converted it once.
    """

    turn_id: Any
    owner: str
    first: int
    events: list[Event] = field(default_factory=list)
    updates: dict[str, Any] = field(default_factory=dict)
    heartbeat: bool = False
    pk: Any = None

    def __post_init__(self) -> None:
        if self.pk is None:
            self.pk = db_pk(self.turn_id)


def write_round(writes: list[Write]) -> list[bool | Exception]:
    """Every write in one transaction; per write, its turn's cancel flag (when asked) or the
    error that failed it. A lost lease fails its write alone (it wrote nothing); a database
    error rolls the round back and each write is then tried on its own."""
    try:
        with transaction.atomic():
            return _write_together(writes)
    except DatabaseError:
        log.warning("a write round failed; retrying its %d writes one by one", len(writes))
    results: list[bool | Exception] = []
    for write in writes:
        try:
            with transaction.atomic():
                results.extend(_write_together([write]))
        except DatabaseError as exc:
            results.append(exc)
    return results


def checkpoint() -> None:
    """SQLite: copy what the WAL holds back into the database file, without waiting for
    readers or blocking writers (a passive checkpoint). Elsewhere nothing.

    Left to the commits (SQLite's default, every 1,000 WAL pages), a round that crossed the
    mark paid for copying and syncing every page written since, often under load. A
    checkpoint a second,
    beside the rounds, copies each page once however many rounds rewrote it."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _write_together(writes: list[Write]) -> list[bool | Exception]:
    lease_until = timezone.now() + timedelta(seconds=settings.RELAY_LEASE_SECONDS)
    held: set[int] = set()
    renewing: dict[str, list[int]] = {}
    checking: dict[str, list[int]] = {}
    updating: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
    for index, write in enumerate(writes):
        if write.updates:
            values = {"next_seq": write.first + len(write.events), **write.updates}
            if "lease_owner" not in write.updates:
                values["lease_expires_at"] = lease_until
            updating.setdefault(tuple(values), []).append((index, values))
        else:
            (renewing if write.heartbeat else checking).setdefault(write.owner, []).append(index)
    for items in updating.values():
        held |= _update_held([(i, writes[i], values) for i, values in items])
    for owner, indexes in renewing.items():
        held |= _renew_held(owner, [(i, writes[i]) for i in indexes], lease_until)
    for owner, indexes in checking.items():
        held |= _still_held(owner, [(i, writes[i]) for i in indexes])
    insert_rows((writes[i].pk, writes[i].first, writes[i].events) for i in sorted(held))
    asked = [writes[i].pk for i in held if writes[i].heartbeat]
    cancelled = _cancel_requested(asked) if asked else set()
    return [
        write.pk in cancelled
        if index in held
        else LeaseLost(f"turn {write.turn_id} is no longer held by {write.owner}")
        for index, write in enumerate(writes)
    ]


def db_pk(turn_id: Any) -> Any:
    """The turn's id as the database takes it (also for the log's foreign key). A writer
    converts it once per turn: the UUID field's conversion, and the look-up of the
    connection it needs, per turn and round, were a large share of the database thread's
    time under load."""
    return Turn._meta.pk.get_db_prep_save(turn_id, _converting())  # type: ignore[union-attr]


@functools.cache
def _converting() -> Any:
    """A connection object for conversions only, never opened. Writers are made on the
    event loop's thread, where `connection` is one object per task (asgiref's `Local` keeps
    one per async context): each turn made one, a cycle of seven objects, left to the full
    garbage collection."""
    return connections.create_connection(DEFAULT_DB_ALIAS)


def _chunks(items: list[T], params_each: int, extra: int = 0) -> Iterable[list[T]]:
    size = max(1, ((connection.features.max_query_params or 10_000) - extra) // params_each)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _renew_held(owner: str, writes: list[tuple[int, Write]], until: Any) -> set[int]:
    """`UPDATE turn SET next_seq = CASE id …, lease_expires_at = … WHERE id IN (…) AND
    lease_owner = owner`: the indexes of the writes whose turn the owner still holds."""
    meta = Turn._meta
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)  # type: ignore[union-attr]
    expires = meta.get_field("lease_expires_at")
    until_db = expires.get_db_prep_save(until, connection)  # type: ignore[union-attr]
    columns = {name: quote(meta.get_field(name).column) for name in ("next_seq", "lease_owner")}  # type: ignore[union-attr]
    held: set[int] = set()
    for part in _chunks(writes, 3, extra=2):
        ids = [write.pk for _, write in part]
        cases = " ".join(["WHEN %s THEN %s"] * len(part))
        marks = ", ".join(["%s"] * len(part))
        params: list[Any] = []
        for (_, write), turn_pk in zip(part, ids, strict=True):
            params += (turn_pk, write.first + len(write.events))
        sql = (
            f"UPDATE {table} SET {columns['next_seq']} = CASE {pk} {cases} "
            f"ELSE {columns['next_seq']} END, {quote(expires.column)} = %s "  # type: ignore[union-attr]
            f"WHERE {pk} IN ({marks}) AND {columns['lease_owner']} = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, until_db, *ids, owner])
            if cursor.rowcount == len(part):
                held.update(index for index, _ in part)
                continue
            cursor.execute(
                f"SELECT {pk} FROM {table} WHERE {pk} IN ({marks}) "
                f"AND {columns['lease_owner']} = %s",
                [*ids, owner],
            )
            still = {row[0] for row in cursor.fetchall()}
        held.update(
            index for (index, _), turn_pk in zip(part, ids, strict=True) if turn_pk in still
        )
    return held


def _still_held(owner: str, writes: list[tuple[int, Write]]) -> set[int]:
    """`SELECT id FROM turn WHERE id IN (…) AND lease_owner = owner`: the indexes of the
    writes whose turn the owner still holds, read without writing the turns. On PostgreSQL
    the rows are locked `FOR SHARE` until the round commits: a take-over (an `UPDATE` of
    `lease_owner`) waits for it, so the events it reads include the round's. SQLite's write
    transaction already excludes every other writer."""
    meta = Turn._meta
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)  # type: ignore[union-attr]
    owner_column = quote(meta.get_field("lease_owner").column)  # type: ignore[union-attr]
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    still: set[Any] = set()
    with connection.cursor() as cursor:
        for part in _chunks(writes, 1, extra=1):
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT {pk} FROM {table} WHERE {pk} IN ({marks}) AND {owner_column} = %s{lock}",
                [*(write.pk for _, write in part), owner],
            )
            still.update(row[0] for row in cursor.fetchall())
    return {index for index, write in writes if write.pk in still}


def _cancel_requested(pks: list[Any]) -> set[Any]:
    meta = Turn._meta
    quote = connection.ops.quote_name
    pk = quote(meta.pk.column)  # type: ignore[union-attr]
    flag = quote(meta.get_field("cancel_requested").column)  # type: ignore[union-attr]
    found: set[Any] = set()
    with connection.cursor() as cursor:
        for part in _chunks(pks, 1):
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT {pk} FROM {quote(meta.db_table)} WHERE {pk} IN ({marks}) AND {flag}",
                part,
            )
            found.update(row[0] for row in cursor.fetchall())
    return found


def _update_held(items: list[tuple[int, Write, dict[str, Any]]]) -> set[int]:
    """`update_held_turn` for writes that set the same fields (the turns starting in a round
    note their first event, those ending store their result): the turns still held are read
    (`_still_held`, which locks them on PostgreSQL), then one statement is run for all of them,
    with psycopg in one round trip instead of one per turn (with many turns ending at once,
    the deltas still streaming stalled behind one round trip each). The indexes of the
    writes whose turn is held."""
    if len(items) == 1:
        index, write, values = items[0]
        return (
            {index} if update_held_turn(write.turn_id, write.owner, values, pk=write.pk) else set()
        )
    by_owner: dict[str, list[tuple[int, Write]]] = {}
    for index, write, _ in items:
        by_owner.setdefault(write.owner, []).append((index, write))
    held: set[int] = set()
    for owner, writes in by_owner.items():
        held |= _still_held(owner, writes)
    if not held:
        return held
    sql, fields = update_sql(tuple(items[0][2]))
    rows = [
        [*prepared(fields, values.values()), write.pk, write.owner]
        for index, write, values in items
        if index in held
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return held


def update_sql(names: tuple[str, ...], *, held: bool = True) -> tuple[str, list[Any]]:
    """`UPDATE turn SET (names) WHERE id = %s AND lease_owner = %s` (without the owner if not
    `held`), and the fields, whose `get_db_prep_save` converts each value."""
    meta = Turn._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)  # type: ignore[union-attr]
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # type: ignore[union-attr]
    if held:
        sql += f" AND {quote(meta.get_field('lease_owner').column)} = %s"  # type: ignore[union-attr]
    return sql, fields


def prepared(fields: list[Any], values: Iterable[Any]) -> list[Any]:
    """Each value as the database takes it, by its field's own conversion (JSON, dates)."""
    return [
        field.get_db_prep_save(storable(value), connection)
        for field, value in zip(fields, values, strict=True)
    ]


def update_held_turn(turn_id: Any, owner: str, values: dict[str, Any], pk: Any = None) -> bool:
    """`UPDATE turn SET … WHERE id = … AND lease_owner = owner`; False if not held.

    The SQL the ORM's `.update()` would run, without compiling a query per call (it was
    the largest cost of a round); values go through each field's own conversion.
    """
    sql, fields = update_sql(tuple(values))
    params = [*prepared(fields, values.values()), db_pk(turn_id) if pk is None else pk, owner]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


_EVENT_COLUMNS = ("turn", "seq", "type", "data", "received_ms")


def insert_events(turn_id: Any, first: int, events: list[Event]) -> None:
    """One turn's events from seq `first`."""
    insert_rows([(db_pk(turn_id), first, events)])


def insert_rows(turns: Iterable[tuple[Any, int, list[Event]]]) -> None:
    """The rows `TurnEvent.objects.bulk_create` would insert, in the same multi-row INSERTs,
    without building a model instance and compiling SQL per row (which dominated a round under bench/load.py); the
    events of every turn of a round go in the same statements. `turns`: (the turn's id as
    the database takes it, the first seq, its events)."""
    meta = TurnEvent._meta
    fields = [meta.get_field(name) for name in _EVENT_COLUMNS]
    width = len(fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)  # type: ignore[union-attr]
    if connection.vendor == "postgresql":
        _copy_postgresql(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN", turns)
        return
    values: list[Any] = []  # the rows' values, one after the other
    for pk, first, events in turns:
        for seq, (kind, data, received) in enumerate(events, first):
            values += (pk, seq, kind, storable_raw(data), received)
    if not values:
        return
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "
    if connection.vendor == "sqlite":
        _insert_sqlite(head, width, values)
        return
    row = f"({', '.join(['%s'] * width)})"
    size = max(1, connection.ops.bulk_batch_size(fields, range(len(values) // width))) * width
    with connection.cursor() as cursor:
        for start in range(0, len(values), size):
            part = values[start : start + size]
            cursor.execute(head + ", ".join([row] * (len(part) // width)), part)


SQLITE_ROWS_PER_INSERT = 256


def _insert_sqlite(head: str, width: int, values: list[Any]) -> None:
    """Multi-row INSERTs of `SQLITE_ROWS_PER_INSERT` rows (then one for the rest), straight
    on the sqlite3 cursor with its own `?` marks.

    sqlite3 lets go of the GIL around each statement it steps. `executemany` steps once per
    row, so every row had to win the GIL back from the event loop, which holds it while it
    parses: with the loop busy, each row waited up to the switch interval. One statement
    per 256 rows asks for it once per 256. The statement text repeats, so sqlite3's statement
    cache prepares it once, and Django's `%s` to `?` rewrite of a long SQL text is skipped.
    """
    one = "(" + ",".join("?" * width) + ")"
    full = head + ",".join([one] * SQLITE_ROWS_PER_INSERT)
    step = SQLITE_ROWS_PER_INSERT * width
    connection.ensure_connection()
    # sqlite3's errors become Django's, as they do through Django's own cursor.
    with connection.wrap_database_errors, closing(connection.connection.cursor()) as cursor:
        start = 0
        while len(values) - start >= step:
            cursor.execute(full, values[start : start + step])
            start += step
        if start < len(values):
            rest = values[start:]
            cursor.execute(head + ",".join([one] * (len(rest) // width)), rest)


def _copy_postgresql(sql: str, turns: Iterable[tuple[Any, int, list[Event]]]) -> None:
    """The rows through `COPY … FROM STDIN` on psycopg's cursor: no statement of 1,500
    parameters for the server to parse and plan each round, nor for psycopg to adapt one by
    one (several times faster for a round of many one-event turns). A duplicate seq fails
    the COPY as it failed the INSERT, and psycopg's errors become Django's."""
    rows = [
        (pk, seq, kind, storable_raw(data), received)
        for pk, first, events in turns
        for seq, (kind, data, received) in enumerate(events, first)
    ]
    if not rows:
        return
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors, raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
