"""Under load a turn's reader waits for the next round to start (`make_room`), and the round
lets it read just before it takes, so it reads once a round instead of once an event and what
it reads joins that round; alone, or with the rounds idle, it reads on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError

from streaming.eventlog import flusher as flusher_module
from streaming.eventlog import store as logstore
from streaming.eventlog import writer as eventlog
from streaming.eventlog.writer import LogWriter
from streaming.models import TurnEvent
from tests.eventlog.test_store import Read, make_turn

pytestmark = pytest.mark.django_db(transaction=True)


async def writers_in_slow_rounds(
    monkeypatch, n: int, *, busy: float, fail: bool = False, rounds: list[int] | None = None
):
    """`n` writers on this loop's clock, `busy` as it has lately been; every round takes
    0.3 s (and fails its writes with `fail`) and appends how many events it took to `rounds`."""
    turns = [await sync_to_async(make_turn)() for _ in range(n)]
    writers = [LogWriter(turn, owner="worker-a") for turn in turns]
    clock = flusher_module.flusher()
    real = logstore.write_round

    def slow(writes: list[Any]) -> Any:
        if rounds is not None:
            rounds.append(sum(len(write.events) for write in writes))
        time.sleep(0.3)
        return [DatabaseError("down")] * len(writes) if fail else real(writes)

    monkeypatch.setattr(logstore, "write_round", slow)
    for writer in writers:
        writer.add_read([("{}", Read())])
    clock.busy = busy  # after the first ask made the clock
    return turns, writers


def stored(turn: Any) -> int:
    return TurnEvent.objects.filter(turn=turn).count()


def reads_when_released(writer: LogWriter, waiting: Any) -> None:
    """What a released reader does: it reads what gathered meanwhile (one event)."""
    waiting.add_done_callback(lambda _: writer.add_read([("{}", Read())]))


async def test_with_the_rounds_busy_the_reader_reads_into_the_next_round(monkeypatch) -> None:
    rounds: list[int] = []
    turns, writers = await writers_in_slow_rounds(
        monkeypatch, 3, busy=eventlog.BUSY + 0.3, rounds=rounds
    )
    waiting = [writer.make_room() for writer in writers]
    assert all(w is not None for w in waiting)
    for writer, w in zip(writers, waiting, strict=True):
        reads_when_released(writer, w)
    await asyncio.sleep(0.1)  # the first round is being written
    assert all(w.done() for w in waiting)  # released when it started, before it took
    for writer in writers:  # read while the round is written: wait for the next one
        writer.add_read([("{}", Read())])
    later = [writer.make_room() for writer in writers]
    assert all(w is not None for w in later)
    for writer, w in zip(writers, later, strict=True):
        reads_when_released(writer, w)
    await asyncio.sleep(0.1)
    assert not any(w.done() for w in later)
    await asyncio.wait_for(asyncio.gather(*later), 5)
    for writer in writers:
        await asyncio.wait_for(writer.flush(), 5)
    # Each round took what its readers read when it released them: 2 events a turn.
    assert rounds[:2] == [6, 6] and sum(rounds) == 12
    assert [await sync_to_async(stored)(t) for t in turns] == [4, 4, 4]
    for writer in writers:
        writer.close()


async def test_a_waiting_reader_is_released_when_its_writer_closes(monkeypatch) -> None:
    _, writers = await writers_in_slow_rounds(monkeypatch, 2, busy=1.0)
    await asyncio.sleep(0.1)  # the first round is being written
    for writer in writers:
        writer.add_read([("{}", Read())])
    waiting = writers[0].make_room()
    assert waiting is not None and not waiting.done()
    writers[0].close()
    assert waiting.done() and waiting.exception() is None
    writers[1].close()


@pytest.mark.parametrize("n, busy", [(1, eventlog.BUSY + 0.3), (3, eventlog.BUSY / 2)])
async def test_a_turn_alone_or_idle_rounds_let_the_reader_read_on(monkeypatch, n, busy) -> None:
    _, writers = await writers_in_slow_rounds(monkeypatch, n, busy=busy)
    assert all(writer.make_room() is None for writer in writers)
    await asyncio.sleep(0.5)
    for writer in writers:
        writer.close()


async def test_a_failed_round_lets_the_reader_go_on_and_its_events_are_kept(monkeypatch) -> None:
    """Unlike `flush`, the wait never fails the reader: the events stay pending for the next
    round, whose start releases the reader again."""
    rounds: list[int] = []
    _, writers = await writers_in_slow_rounds(
        monkeypatch, 2, busy=1.0, fail=True, rounds=rounds
    )
    await asyncio.sleep(0.1)  # the first round is being written, and will fail
    for writer in writers:
        writer.add_read([("{}", Read())])
    waiting = [writer.make_room() for writer in writers]
    await asyncio.wait_for(asyncio.gather(*waiting), 5)  # no exception
    assert all(w.exception() is None for w in waiting)
    async with asyncio.timeout(5):
        while len(rounds) < 2:  # released as the second round started, before it took
            await asyncio.sleep(0.01)
    assert rounds[:2] == [2, 4]  # the failed round's events were taken again with the new
    for writer in writers:
        writer.close()
