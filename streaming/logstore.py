"""The database side of turn logs: every turn's writes in a process, done in rounds.

Measured (bench/load.py): with a thread hop and a transaction per turn, concurrent turns
queued for the thread pool and for SQLite's write lock (whose busy handler backs off in
sleeps): p99 latency passed 100 ms at 25 turns while the server used half a core. A round
is one hop and one transaction for all the turns that have something to write; while it
runs, the next round gathers.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DatabaseError, close_old_connections, connection, transaction

from streaming.models import Turn, TurnEvent

T = TypeVar("T")
log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker (or the sweep) took the turn over; its writer must stop."""


async def db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking ORM code off the event loop, outside the thread-sensitive executor.

    The thread-sensitive executor is one thread shared by every consumer in the process; a
    slow write there stalls them all (channels#2132).
    """
    from asgiref.sync import sync_to_async

    def call() -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=False)()


class WriteBatcher:
    def __init__(self) -> None:
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._task: asyncio.Future[None] | None = None

    async def write(self, job: Callable[[], T]) -> T:
        """Run `job` (sync, in the database thread) in the next round; its result or error."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((job, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._rounds())
        return await future

    async def _rounds(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await db(_run_round, [job for job, _ in batch])
            except BaseException as exc:  # cancelled or broken: every write of it failed
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def _run_round(jobs: list[Callable[[], Any]]) -> list[Any]:
    """All jobs in one transaction. A lost lease fails its job alone (it wrote nothing);
    a database error rolls the round back and each job is then tried on its own."""
    try:
        with transaction.atomic():
            return [_attempt(job) for job in jobs]
    except DatabaseError:
        log.warning("a write round failed; retrying its %d writes one by one", len(jobs))
    results: list[Any] = []
    for job in jobs:
        try:
            with transaction.atomic():
                results.append(_attempt(job))
        except DatabaseError as exc:
            results.append(exc)
    return results


def _attempt(job: Callable[[], Any]) -> Any:
    try:
        return job()
    except LeaseLost as exc:
        return exc


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteBatcher] = (
    weakref.WeakKeyDictionary()
)


def write_batcher() -> WriteBatcher:
    """This event loop's batcher: one per loop, as a channel layer is one per process."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = WriteBatcher()
    return batcher


def update_held_turn(turn_id: Any, owner: str, values: dict[str, Any]) -> bool:
    """`UPDATE turn SET … WHERE id = … AND lease_owner = owner`; False if not held.

    The SQL the ORM's `.update()` would run, without compiling a query per call (it was
    the largest cost of a round); values go through each field's own conversion.
    """
    meta = Turn._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)  # type: ignore[union-attr]
    params = [
        field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
        for field, value in zip(fields, values.values(), strict=True)
    ]
    params += [meta.pk.get_db_prep_save(turn_id, connection), owner]  # type: ignore[union-attr]
    owner_column = meta.get_field("lease_owner").column  # type: ignore[union-attr]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {assignments} "
        f"WHERE {quote(meta.pk.column)} = %s AND {quote(owner_column)} = %s"  # type: ignore[union-attr]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


_EVENT_COLUMNS = ("turn", "seq", "type", "data", "received_ms")


def insert_events(turn_id: Any, first: int, pending: list[tuple[str, str, int]]) -> None:
    """The rows `TurnEvent.objects.bulk_create` would insert, in the same multi-row INSERTs,
    without building a model instance and compiling SQL per row (bench/README.md)."""
    if not pending:
        return
    meta = TurnEvent._meta
    fields = [meta.get_field(name) for name in _EVENT_COLUMNS]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)  # type: ignore[union-attr]
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "
    row = f"({', '.join(['%s'] * len(fields))})"
    turn = fields[0].get_db_prep_save(turn_id, connection)  # type: ignore[union-attr]
    size = max(1, connection.ops.bulk_batch_size(fields, pending))
    with connection.cursor() as cursor:
        for start in range(0, len(pending), size):
            part = pending[start : start + size]
            params: list[Any] = []
            for seq, (kind, data, ms) in enumerate(part, first + start):
                params += (turn, seq, kind, data, ms)
            cursor.execute(head + ", ".join([row] * len(part)), params)
