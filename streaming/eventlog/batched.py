"""Calls of a blocking function for one item each, run as one call for every item that came
while the previous call ran.

A call is awaited by its caller as if it ran alone, and gets its own result. The first call
starts a task that runs the function on what has come by then (every caller of that turn of
the event loop), then on what came while it ran, and so on until nothing waits. Under load
the calls group themselves; alone, a call runs at once. If a whole batch fails, each item is
tried on its own, so one bad item fails only its own caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Runner = Callable[..., Awaitable[Any]]  # how the blocking function is run: `db_rounds(fn, arg)`


class Batched(Generic[T, R]):
    def __init__(self, fn: Callable[[list[T]], list[R]], run: Runner) -> None:
        self.fn, self.run = fn, run
        self._waiting: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[R]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            task = loop.create_task(self._drain(loop, waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        waiting.append((item, future))
        return await future

    async def _drain(
        self, loop: asyncio.AbstractEventLoop, waiting: list[tuple[T, asyncio.Future[R]]]
    ) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while waiting:
                batch = waiting[:]
                waiting.clear()
                await self._one_batch(batch)
            batch = []
        finally:
            del self._waiting[loop]
            for _, future in batch + waiting:  # cancelled (the loop is closing): none hangs
                future.cancel()

    async def _one_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.run(self.fn, [item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], error=exc)
                return
            for item, future in batch:
                try:
                    (result,) = await self.run(self.fn, [item])
                except Exception as alone:
                    _settle(future, error=alone)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[Any], result: Any = None, error: Exception | None = None):
    if future.done():  # its caller was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
