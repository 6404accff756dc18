"""`Batched`: one call of the blocking function for every item that waits."""

from __future__ import annotations

import asyncio
import threading

import pytest

from streaming.eventlog.batched import Batched


class Recorder:
    """A blocking function on a batch that records each batch; `gate` holds it while set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.started.set()
        self.gate.wait(5)
        if any(item < 0 for item in items):
            raise ValueError(f"bad item in {items}")
        return [item * 10 for item in items]


async def in_thread(fn, arg):
    return await asyncio.to_thread(fn, arg)


async def test_calls_of_one_turn_of_the_loop_run_as_one_batch() -> None:
    fn = Recorder()
    batched = Batched(fn, run=in_thread)
    assert await asyncio.gather(*(batched(i) for i in range(5))) == [0, 10, 20, 30, 40]
    assert fn.batches == [[0, 1, 2, 3, 4]]


async def test_calls_that_come_while_a_batch_runs_make_the_next_batch() -> None:
    fn = Recorder()
    fn.gate.clear()
    batched = Batched(fn, run=in_thread)
    first = asyncio.ensure_future(batched(1))
    await asyncio.to_thread(fn.started.wait, 5)
    later = [asyncio.ensure_future(batched(i)) for i in (2, 3)]
    await asyncio.sleep(0.05)
    assert fn.batches == [[1]]  # the others wait for it
    fn.gate.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30]
    assert fn.batches == [[1], [2, 3]]
    assert await batched(4) == 40  # nothing waiting: a new batch at once
    assert fn.batches[-1] == [4]


async def test_a_failed_batch_is_tried_item_by_item_and_fails_only_the_bad_one() -> None:
    fn = Recorder()
    batched = Batched(fn, run=in_thread)
    results = await asyncio.gather(batched(1), batched(-1), batched(2), return_exceptions=True)
    assert results[0] == 10 and results[2] == 20
    assert isinstance(results[1], ValueError)
    assert fn.batches == [[1, -1, 2], [1], [-1], [2]]


async def test_a_cancelled_caller_does_not_break_the_batch() -> None:
    fn = Recorder()
    fn.gate.clear()
    batched = Batched(fn, run=in_thread)
    gone = asyncio.ensure_future(batched(1))
    kept = asyncio.ensure_future(batched(2))
    await asyncio.to_thread(fn.started.wait, 5)
    gone.cancel()
    fn.gate.set()
    assert await kept == 20
    with pytest.raises(asyncio.CancelledError):
        await gone
