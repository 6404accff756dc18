"""Under load a turn's reader waits for the round that writes what it read (`make_room`), so
it reads once a round instead of once an event; alone, or with the rounds idle, it reads on."""

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


async def writers_in_slow_rounds(monkeypatch, n: int, *, busy: float, fail: bool = False):
    """`n` writers on this loop's clock, `busy` as it has lately been; every round takes
    0.3 s (and fails its writes with `fail`)."""
    turns = [await sync_to_async(make_turn)() for _ in range(n)]
    writers = [LogWriter(turn, owner="worker-a") for turn in turns]
    clock = flusher_module.flusher()
    real = logstore.write_round

    def slow(writes: list[Any]) -> Any:
        time.sleep(0.3)
        return [DatabaseError("down")] * len(writes) if fail else real(writes)

    monkeypatch.setattr(logstore, "write_round", slow)
    for writer in writers:
        writer.add_read([("{}", Read())])
    clock.busy = busy  # after the first ask made the clock
    return turns, writers


def stored(turn: Any) -> int:
    return TurnEvent.objects.filter(turn=turn).count()


async def test_with_the_rounds_busy_the_reader_waits_for_the_round_that_writes_its_read(
    monkeypatch,
) -> None:
    turns, writers = await writers_in_slow_rounds(monkeypatch, 3, busy=eventlog.BUSY + 0.3)
    waiting = [writer.make_room() for writer in writers]
    assert all(w is not None for w in waiting)
    await asyncio.sleep(0.1)
    assert not any(w.done() for w in waiting)  # the round is being written
    await asyncio.wait_for(asyncio.gather(*waiting), 5)
    assert [await sync_to_async(stored)(t) for t in turns] == [1, 1, 1]
    for writer in writers:
        writer.close()


@pytest.mark.parametrize("n, busy", [(1, eventlog.BUSY + 0.3), (3, eventlog.BUSY / 2)])
async def test_a_turn_alone_or_idle_rounds_let_the_reader_read_on(monkeypatch, n, busy) -> None:
    _, writers = await writers_in_slow_rounds(monkeypatch, n, busy=busy)
    assert all(writer.make_room() is None for writer in writers)
    await asyncio.sleep(0.5)
    for writer in writers:
        writer.close()


async def test_a_failed_round_lets_the_reader_go_on_and_its_events_are_kept(monkeypatch) -> None:
    """Unlike `flush`, the wait never fails the reader: the events stay pending for the next
    round."""
    _, writers = await writers_in_slow_rounds(monkeypatch, 2, busy=1.0, fail=True)
    waiting = [writer.make_room() for writer in writers]
    await asyncio.wait_for(asyncio.gather(*waiting), 5)  # no exception
    assert all(w.exception() is None for w in waiting)
    assert [len(writer._pending) for writer in writers] == [1, 1]
    for writer in writers:
        writer.close()
