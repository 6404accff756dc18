"""Batched writes of turn logs: rounds, lease isolation, heartbeats, the raw update."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone

from streaming.eventlog import flusher as flusher_module
from streaming.eventlog import store as logstore
from streaming.eventlog import writer as eventlog
from streaming.eventlog.store import LeaseLost, Write
from streaming.eventlog.writer import LogWriter
from streaming.models import Conversation, Turn, TurnEvent

pytestmark = pytest.mark.django_db(transaction=True)


def make_turn(owner: str = "worker-a") -> Turn:
    user, _ = get_user_model().objects.get_or_create(username="bob")
    conversation = Conversation.objects.create(owner=user)
    return Turn.objects.create(
        conversation=conversation, input="hi", model="m", status="completed", lease_owner=owner
    )


def write(turn: Turn, first: int, n: int, owner: str = "worker-a", **kw: Any) -> Write:
    return Write(turn.pk, owner, first, [("t", "{}", 0)] * n, **kw)


def test_a_lost_lease_fails_only_its_own_write_in_a_round() -> None:
    """One round, three turns of one owner: the one whose lease is gone writes nothing (the
    round's one UPDATE misses it and the held ones are read back), the others write."""
    held, lost, other = make_turn(), make_turn(owner="someone-else"), make_turn()
    for heartbeat in (False, True):  # the lease read, and the lease renewed
        first = 3 if heartbeat else 0
        results = logstore.write_round(
            [
                write(held, first, 3, heartbeat=heartbeat),
                write(lost, 0, 2, heartbeat=heartbeat),
                write(other, first, 1, heartbeat=heartbeat),
            ]
        )
        assert results[0] is False and isinstance(results[1], LeaseLost) and results[2] is False
        assert TurnEvent.objects.filter(turn=held).count() == first + 3
        assert not TurnEvent.objects.filter(turn=lost).exists()
        saved = [0, 0, 0] if not heartbeat else [6, 0, 4]  # `next_seq` waits for a heartbeat
        assert [Turn.objects.get(pk=t.pk).next_seq for t in (held, lost, other)] == saved


def test_an_ordinary_round_reads_the_turn_rows_and_writes_only_the_log() -> None:
    """Between heartbeats a round checks the lease with a SELECT: no turn row is written
    (an UPDATE of every turn was a third of a round's CPU at 300 turns)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    turns = [make_turn() for _ in range(3)]
    before = [Turn.objects.get(pk=t.pk).lease_expires_at for t in turns]
    with CaptureQueriesContext(connection) as queries:
        assert logstore.write_round([write(t, 0, 2) for t in turns]) == [False] * 3
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert "UPDATE" not in statements and "SELECT" in statements
    assert [Turn.objects.get(pk=t.pk).lease_expires_at for t in turns] == before
    assert TurnEvent.objects.filter(turn__in=turns).count() == 6


def test_a_database_error_in_a_round_is_isolated_to_its_write() -> None:
    """A duplicate seq fails its write; the round is retried write by write, others land."""
    first, second = make_turn(), make_turn()
    logstore.write_round([write(first, 0, 2)])
    results = logstore.write_round([write(first, 1, 1), write(second, 0, 2)])
    assert isinstance(results[0], Exception) and results[1] is False
    assert TurnEvent.objects.filter(turn=first).count() == 2
    assert TurnEvent.objects.filter(turn=second).count() == 2


def test_a_heartbeat_round_renews_leases_moves_next_seq_and_reads_cancel_flags() -> None:
    turns = [make_turn() for _ in range(4)]
    Turn.objects.filter(pk=turns[2].pk).update(cancel_requested=True)
    before = timezone.now()
    results = logstore.write_round([write(t, 0, i, heartbeat=True) for i, t in enumerate(turns)])
    assert results == [False, False, True, False]
    for i, turn in enumerate(turns):
        turn.refresh_from_db()
        assert turn.next_seq == i and turn.lease_expires_at > before
        assert list(TurnEvent.objects.filter(turn=turn).values_list("seq", flat=True)) == list(
            range(i)
        )


def test_a_final_write_saves_its_fields_and_releases_the_lease() -> None:
    turn = make_turn()
    updates = {"status": "completed", "lease_owner": "", "lease_expires_at": None}
    assert logstore.write_round([write(turn, 0, 2, updates=updates)]) == [False]
    turn.refresh_from_db()
    assert (turn.next_seq, turn.lease_owner, turn.lease_expires_at) == (2, "", None)
    assert isinstance(logstore.write_round([write(turn, 2, 1)])[0], LeaseLost)


def test_the_raw_update_converts_each_field_as_the_orm_would() -> None:
    """JSON, dates and text survive `update_held_turn` exactly."""
    turn = make_turn()
    when = dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)
    output = [{"type": "message", "content": [{"type": "output_text", "text": "é ✓"}]}]
    assert logstore.update_held_turn(
        turn.pk, "worker-a", {"output": output, "finished_at": when, "error": "x", "usage": None}
    )
    turn.refresh_from_db()
    assert (turn.output, turn.finished_at, turn.error, turn.usage) == (output, when, "x", None)
    assert not logstore.update_held_turn(turn.pk, "worker-b", {"error": "y"})


def test_turns_that_save_the_same_fields_are_updated_by_one_statement(monkeypatch) -> None:
    """Ending turns store their results in one `executemany`, each its own values; a turn
    no longer held fails alone and is not written."""
    turns = [make_turn() for _ in range(3)]
    singles: list[Any] = []
    real = logstore.update_held_turn
    monkeypatch.setattr(
        logstore, "update_held_turn", lambda *a, **kw: singles.append(a[0]) or real(*a, **kw)
    )

    def ending(turn: Turn, i: int) -> Write:
        return write(turn, 0, 1, updates={"output_text": f"answer {i}", "lease_owner": ""})

    assert logstore.write_round([ending(t, i) for i, t in enumerate(turns)]) == [False] * 3
    assert singles == []  # one statement for the three
    assert [Turn.objects.get(pk=t.pk).output_text for t in turns] == [
        f"answer {i}" for i in range(3)
    ]
    assert [Turn.objects.get(pk=t.pk).next_seq for t in turns] == [1, 1, 1]

    again = [make_turn(), make_turn(owner="someone-else")]
    results = logstore.write_round([ending(t, i) for i, t in enumerate(again)])
    assert results[0] is False and isinstance(results[1], LeaseLost)
    assert singles == []
    assert Turn.objects.get(pk=again[0].pk).output_text == "answer 0"
    lost = Turn.objects.get(pk=again[1].pk)
    assert (lost.output_text, lost.lease_owner) == ("", "someone-else")


async def test_concurrent_flushes_share_rounds(monkeypatch) -> None:
    """Writers that flush while a round runs go together into the next one."""
    turns = [await sync_to_async(make_turn)() for _ in range(12)]
    rounds: list[int] = []
    real = logstore.write_round

    def counting(writes):
        rounds.append(len(writes))
        return real(writes)

    monkeypatch.setattr(logstore, "write_round", counting)
    writers = [LogWriter(turn, owner="worker-a") for turn in turns]

    async def one(writer: LogWriter) -> None:
        writer.add("t", "{}")
        await writer.flush()
        writer.close()

    await asyncio.gather(*(one(w) for w in writers))
    assert sum(rounds) == 12 and len(rounds) < 12
    counts = await sync_to_async(
        lambda: [TurnEvent.objects.filter(turn=t).count() for t in turns]
    )()
    assert counts == [1] * 12


async def test_events_are_flushed_within_the_interval_without_asking(settings) -> None:
    settings.RELAY_FLUSH_INTERVAL = 0.02
    turn = await sync_to_async(make_turn)()
    writer = LogWriter(turn, owner="worker-a")
    writer.add("t", "{}")
    writer.add("t", "{}")
    await asyncio.sleep(0.5)
    assert await sync_to_async(TurnEvent.objects.filter(turn=turn).count)() == 2
    assert writer.next_seq == 2
    writer.close()


class Read:
    """A typed event as the upstream reader hands it over (only `type` is read here)."""

    type = "response.output_text.delta"


async def test_a_read_fills_the_batch_then_the_reader_waits_only_when_rounds_fall_behind(
    settings, monkeypatch
) -> None:
    """The rounds idle, a read is written at once; a full batch is written at once while the
    reader goes on; only with `BACKLOG_BATCHES` batches pending must the reader wait, and
    what it waits for has everything written. Events of one read share one receive time."""
    settings.RELAY_FLUSH_INTERVAL = 30.0
    settings.RELAY_FLUSH_MAX_EVENTS = 4
    turn = await sync_to_async(make_turn)()
    writer = LogWriter(turn, owner="worker-a")
    stored = sync_to_async(lambda: TurnEvent.objects.filter(turn=turn).count())

    writer.add_read([("{}", Read())] * 3)
    assert writer.make_room() is None
    await asyncio.sleep(0.3)
    assert await stored() == 3  # not full, but nothing else was being written

    writer.add_read([("{}", Read())] * 4)
    assert writer.make_room() is None  # full: a round at once, and no waiting
    await asyncio.sleep(0.5)
    assert await stored() == 7

    gate = asyncio.Event()  # rounds fall behind: the next one waits for the gate
    real = logstore.write_round
    monkeypatch.setattr(
        logstore, "write_round", lambda writes: (async_to_sync(gate.wait)(), real(writes))[1]
    )
    writer.add_read([("{}", Read())] * 4)
    assert writer.make_room() is None  # one full batch: its round starts, held at the gate
    await asyncio.sleep(0.1)
    writer.add_read([("{}", Read())] * (4 * eventlog.BACKLOG_BATCHES))
    waiting = writer.make_room()
    assert waiting is not None  # four full batches pending: the reader waits
    gate.set()
    await asyncio.wait_for(waiting, 5)
    assert await stored() == 7 + 4 + 4 * eventlog.BACKLOG_BATCHES
    times = await sync_to_async(
        lambda: set(
            TurnEvent.objects.filter(turn=turn, seq__lt=3).values_list("received_ms", flat=True)
        )
    )()
    assert len(times) == 1
    writer.close()


async def _rounds_while_one_is_slow(monkeypatch, *, busy: float | None) -> tuple[Any, ...]:
    """Three turns: the first one's event starts a round that takes 0.4 s; the other two
    add theirs while it runs. `busy` sets how busy the rounds have lately been."""
    turns = [await sync_to_async(make_turn)() for _ in range(3)]
    writers = [LogWriter(turn, owner="worker-a") for turn in turns]
    clock = flusher_module.flusher()
    if busy is not None:
        clock.busy, clock.ready = busy, clock.loop.time()
    rounds: list[int] = []
    real = logstore.write_round

    def slow_first(writes: list[Any]) -> Any:
        rounds.append(len(writes))
        if len(rounds) == 1:
            time.sleep(0.4)
        return real(writes)

    monkeypatch.setattr(logstore, "write_round", slow_first)
    count = sync_to_async(lambda t: TurnEvent.objects.filter(turn=t).count())
    writers[0].add("t", "{}")
    await asyncio.sleep(0.1)
    assert rounds == [1]  # idle: at once
    writers[1].add("t", "{}")
    writers[2].add("t", "{}")
    return turns, writers, rounds, count


async def test_under_load_what_arrives_during_a_round_rests_as_long_as_it_took(
    settings, monkeypatch
) -> None:
    """Rounds busy all the time lately: events that arrive while a round is being written
    wait until it ends and then as long again (at most the interval), and go in one round:
    under load rounds grow instead of multiplying."""
    settings.RELAY_FLUSH_INTERVAL = 30.0  # the cap is not what decides here
    turns, writers, rounds, count = await _rounds_while_one_is_slow(monkeypatch, busy=1.0)
    await asyncio.sleep(0.5)  # the first round ended at about 0.4 s; the rest lasts to 0.8
    assert rounds == [1] and await count(turns[1]) == 0
    await asyncio.sleep(0.6)
    assert rounds == [1, 2] and await count(turns[1]) == await count(turns[2]) == 1
    for writer in writers:
        writer.close()


async def test_at_light_load_what_arrives_during_a_round_goes_right_after_it(
    settings, monkeypatch
) -> None:
    """Rounds idle lately: no rest. What arrived during the slow round goes, in one round,
    as soon as that round ends."""
    settings.RELAY_FLUSH_INTERVAL = 30.0
    turns, writers, rounds, count = await _rounds_while_one_is_slow(monkeypatch, busy=0.0)
    await asyncio.sleep(0.5)  # the first round ended at about 0.4 s
    assert rounds == [1, 2] and await count(turns[1]) == await count(turns[2]) == 1
    for writer in writers:
        writer.close()


async def test_how_busy_the_rounds_are_follows_the_load() -> None:
    """`busy` moves towards the share of time in rounds: towards 1 when work is always
    waiting as a rest ends, towards 0 when the rounds mostly wait for work; the rest after
    a round is its length times that share."""
    loop = asyncio.get_running_loop()
    clock = flusher_module.Flusher(loop)  # not this loop's clock: nothing registers on it
    clock.busy = 0.5
    for _ in range(30):  # a round of 1 ms, work already waiting
        clock._rested(loop.time() - 0.001, 0.0)
    assert clock.busy > 0.99
    assert clock.rest_until - loop.time() == pytest.approx(0.001, abs=0.0005)
    for _ in range(30):  # a round of 1 ms after 9 ms with nothing to write
        clock._rested(loop.time() - 0.001, 0.009)
    assert clock.busy == pytest.approx(0.1, abs=0.01)
    clock._rested(loop.time() - 0.001, None)  # a heartbeat nobody asked for
    assert clock.busy == pytest.approx(0.1, abs=0.01)


async def test_heartbeat_rounds_renew_idle_leases_and_pass_on_a_cancel_flag(settings) -> None:
    """No events for a third of the lease: a round renews it anyway and reads the flag."""
    settings.RELAY_LEASE_SECONDS = 0.6
    cancelled: list[bool] = []
    turn = await sync_to_async(make_turn)()
    loop = asyncio.get_running_loop()
    flushers_before = dict(flusher_module._flushers)
    flusher_module._flushers.pop(loop, None)  # a clock with this test's settings
    try:
        writer = LogWriter(
            turn, owner="worker-a", on_cancel_requested=lambda: cancelled.append(True)
        )
        first = timezone.now()  # as claimed; an ordinary round leaves it alone
        await sync_to_async(Turn.objects.filter(pk=turn.pk).update)(lease_expires_at=first)
        await writer.flush()
        assert (await sync_to_async(Turn.objects.get)(pk=turn.pk)).lease_expires_at == first
        await sync_to_async(Turn.objects.filter(pk=turn.pk).update)(cancel_requested=True)
        await asyncio.sleep(0.5)
        renewed = (await sync_to_async(Turn.objects.get)(pk=turn.pk)).lease_expires_at
        assert renewed > first and cancelled
        writer.close()
    finally:
        flusher_module._flushers.clear()
        flusher_module._flushers.update(flushers_before)


async def test_a_lost_lease_stops_the_writer_and_says_so() -> None:
    turn = await sync_to_async(make_turn)()
    lost: list[bool] = []
    writer = LogWriter(turn, owner="worker-a", on_lease_lost=lambda: lost.append(True))
    await sync_to_async(Turn.objects.filter(pk=turn.pk).update)(lease_owner="sweeper")
    writer.add("t", "{}")
    with pytest.raises(LeaseLost):
        await writer.flush()
    assert lost == [True] and writer.closed
    with pytest.raises(LeaseLost):
        await writer.flush()
    assert not await sync_to_async(TurnEvent.objects.filter(turn=turn).exists)()


async def test_a_flush_asked_while_the_clock_is_being_cancelled_still_completes() -> None:
    """At loop shutdown every task is cancelled at once; a turn that then writes its last
    events must not wait forever on a clock that was cancelled with it."""
    turn = await sync_to_async(make_turn)()
    writer = LogWriter(turn, owner="worker-a")
    clock = flusher_module.flusher()
    writer.add("t", "{}")
    await writer.flush()  # the clock is running, waiting for its next round
    assert clock.task is not None and not clock.task.done()
    clock.task.cancel()  # its cancel is pending when the writer asks
    writer.add("t", "{}")
    async with asyncio.timeout(5):  # not wait_for: its task would ask a loop step later
        await writer.flush()
    assert await sync_to_async(TurnEvent.objects.filter(turn=turn).count)() == 2
    writer.close()


def test_a_round_larger_than_one_insert_statement_stores_every_row_in_order() -> None:
    """Rows go in statements of a fixed number of rows and one for the rest: every event of
    every turn lands once, with its own seq, type, data and time, whatever the split."""
    size = logstore.SQLITE_ROWS_PER_INSERT
    turns = [make_turn(), make_turn()]
    events = [
        [(f"t{i}", f'{{"n":{i},"turn":{k}}}', 1000 + i) for i in range(n)]
        for k, n in enumerate((size + 7, 2 * size - 3))
    ]
    writes = [Write(t.pk, "worker-a", 5, e) for t, e in zip(turns, events, strict=True)]
    assert logstore.write_round(writes) == [False, False]
    for turn, expected in zip(turns, events, strict=True):
        rows = TurnEvent.objects.filter(turn=turn).order_by("seq")
        stored = list(rows.values_list("seq", "type", "data", "received_ms"))
        assert stored == [(5 + i, *event) for i, event in enumerate(expected)]


def test_the_rounds_connection_keeps_statement_journals_in_memory() -> None:
    """SQLite: a round's INSERT journals the index pages it changes; on a temporary file
    that was thousands of writes a second (settings: temp_store=MEMORY)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's temp_store")
    logstore.write_round([Write(make_turn().pk, "worker-a", 0, [("t", "{}", 1)])])
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA temp_store")
        assert cursor.fetchone()[0] == 2  # MEMORY


def stored_in_the_file(turn: Turn) -> int:
    """The turn's rows in the database file itself, not counting what is still only in the
    WAL (an `immutable` connection reads the file alone)."""
    import sqlite3

    from django.db import connection

    path = connection.settings_dict["NAME"]
    with contextlib.closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as reader:
        query = f"SELECT count(*) FROM {TurnEvent._meta.db_table} WHERE turn_id = ?"
        return reader.execute(query, [logstore.db_pk(turn.pk)]).fetchone()[0]


async def test_rounds_leave_the_wal_to_a_checkpoint_of_their_own(monkeypatch) -> None:
    """SQLite: commits do not copy the WAL back (only past a backstop of pages); the flusher
    checkpoints beside its rounds, so the rows reach the database file."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("a SQLite checkpoint")
    turn = await sync_to_async(make_turn)()
    await sync_to_async(logstore.checkpoint)()  # the tables, and the turn, in the file
    assert await sync_to_async(stored_in_the_file)(turn) == 0
    writer = LogWriter(turn, owner="worker-a")
    monkeypatch.setattr(flusher_module, "CHECKPOINT_EVERY", 3600.0)
    writer._clock().next_checkpoint = asyncio.get_running_loop().time() + 3600
    writer.add("t", "{}")
    await writer.flush()
    assert await sync_to_async(stored_in_the_file)(turn) == 0  # in the WAL only

    clock = writer._clock()
    clock.next_checkpoint = 0.0  # due: the next round checkpoints after it
    writer.add("t", "{}")
    await writer.flush()
    assert clock.checkpointing is not None
    await clock.checkpointing
    assert await sync_to_async(stored_in_the_file)(turn) == 2
    writer.close()


async def test_every_round_runs_in_one_thread_of_its_own(monkeypatch) -> None:
    """One connection for every round, so its page cache stays warm between them."""
    import threading

    threads: set[int] = set()
    real = logstore.write_round

    def noting(writes):
        threads.add(threading.get_ident())
        return real(writes)

    monkeypatch.setattr(logstore, "write_round", noting)
    turns = [await sync_to_async(make_turn)() for _ in range(3)]
    busy = sync_to_async(time.sleep, thread_sensitive=False)  # other work in the executor
    for turn in turns:
        writer = LogWriter(turn, owner="worker-a")
        for _ in range(3):
            others = [asyncio.ensure_future(busy(0.05)) for _ in range(2)]
            await asyncio.sleep(0)
            writer.add("t", "{}")
            await writer.flush()
            await asyncio.gather(*others)
        writer.close()
    assert len(threads) == 1 and threading.get_ident() not in threads


async def test_a_round_does_not_wait_for_a_checkpoint(monkeypatch) -> None:
    """Checkpoints run in a thread of their own: a slow one (80-110 ms at 100 turns) held
    up the round after it when both shared the rounds' thread."""
    import threading

    release = threading.Event()
    started = threading.Event()

    def slow_checkpoint() -> None:
        started.set()
        release.wait(30)

    monkeypatch.setattr(logstore, "checkpoint", slow_checkpoint)
    turn = await sync_to_async(make_turn)()
    writer = LogWriter(turn, owner="worker-a")
    clock = writer._clock()
    clock.next_checkpoint = 0.0  # due: the next round starts one
    try:
        writer.add("t", "{}")
        await writer.flush()
        assert clock.checkpointing is not None
        await sync_to_async(started.wait, thread_sensitive=False)(10)
        writer.add("t", "{}")
        await asyncio.wait_for(writer.flush(), 10)  # while the checkpoint still runs
        assert not clock.checkpointing.done()
    finally:
        release.set()
    await clock.checkpointing
    assert await sync_to_async(TurnEvent.objects.filter(turn=turn).count)() == 2
    writer.close()


async def test_a_closed_writer_lets_its_runner_go_without_the_collector() -> None:
    """The runner holds its writer and the writer held the runner's methods: a cycle, so a
    turn's whole state waited for a full garbage collection. Closing drops the methods."""
    import gc
    import weakref

    class Runner:
        def cancel(self) -> None: ...

        def lease_lost(self) -> None: ...

    turn = await sync_to_async(make_turn)()
    runner = Runner()
    runner.writer = LogWriter(
        turn, owner="worker-a", on_cancel_requested=runner.cancel, on_lease_lost=runner.lease_lost
    )
    runner.writer.add("t", "{}")
    await runner.writer.flush()
    runner.writer.close()
    gone = weakref.ref(runner)
    gc.disable()
    try:
        del runner
        assert gone() is None  # freed by its reference count, no collection needed
    finally:
        gc.enable()


async def test_writers_made_in_tasks_make_no_connection_objects(monkeypatch) -> None:
    """On the event loop's thread Django's `connection` is one object per task; a writer
    converting its turn's id through it left one (a cycle) per turn for the collector."""
    from django.db import connections

    turns = [await sync_to_async(make_turn)() for _ in range(3)]
    made: list[str] = []
    real = connections.create_connection

    def counting(alias: str) -> Any:
        made.append(alias)
        return real(alias)

    LogWriter(turns[0], owner="worker-a").close()  # whatever is made once, is made
    monkeypatch.setattr(connections, "create_connection", counting)

    async def make_one(turn: Turn) -> None:
        LogWriter(turn, owner="worker-a").close()

    # tasks as the worker starts them: contexts where nothing looked up a connection yet
    tasks = [contextvars.Context().run(asyncio.ensure_future, make_one(turn)) for turn in turns]
    await asyncio.gather(*tasks)
    assert made == []
