"""When turn logs are written: one clock per event loop for every LogWriter on it.

A writer that gets a first pending event asks for a round. With the rounds idle, the round
runs at once (the next turn of the event loop); after a round, the next one rests for that
round's length times how busy the rounds have lately been (at most `RELAY_FLUSH_INTERVAL`),
and what arrives meanwhile joins it. So at light load an event is written and relayed within
about a millisecond, and under load rounds grow with the load instead of multiplying. A writer that must flush now (its
batch is full, the turn ends) skips the rest. A round takes what every asking writer has
pending, writes it all in one database round (`logstore.write_round`: one transaction),
then publishes every turn's batch in one message to the hubs (streaming/live/hub.py).
The log is always written before anything is relayed.

Every `RELAY_LEASE_SECONDS / 3` a round also includes every open writer, pending or not: it
renews their leases, saves their `next_seq` and reads their turns' cancel flags (the fallback
for a lost cancel message), in the same statements. Other rounds only check the leases.

About once a second, after a round, the WAL is checkpointed in a thread of its own
(`logstore.checkpoint`, `logstore.db_checkpoints`), one checkpoint at a time, while the
rounds go on. The fixed costs (a thread hop, a transaction, a layer message) are paid per
round, not per turn or per event.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any

from django.conf import settings

from streaming.eventlog import store as logstore
from streaming.live.hub import hub

if TYPE_CHECKING:
    from streaming.eventlog.writer import LogWriter

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 1.0  # seconds
BUSY_WEIGHT = 0.2  # of the latest round in `Flusher.busy`, a moving average


class Flusher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.interval = settings.RELAY_FLUSH_INTERVAL
        self.heartbeat = settings.RELAY_LEASE_SECONDS / 3
        self.hub = hub()
        self.open: weakref.WeakSet[LogWriter] = weakref.WeakSet()
        self.asking: dict[LogWriter, None] = {}  # an ordered set
        self.due: float | None = None  # loop time `asking` began, None when nobody asks
        self.urgent = False  # someone must be written now (a full batch, a turn's end)
        self.rest_until = 0.0  # loop time before which an ordinary round waits
        self.ready = loop.time()  # when the rounds could take more work (after a rest)
        self.busy = 0.0  # how much of the time the rounds have lately been working, 0..1
        self.next_heartbeat = loop.time() + self.heartbeat
        self.task: asyncio.Task[None] | None = None
        self.next_checkpoint = loop.time() + CHECKPOINT_EVERY
        self.checkpointing: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None

    def register(self, writer: LogWriter) -> None:
        self.open.add(writer)
        self._ensure_running()

    def unregister(self, writer: LogWriter) -> None:
        self.open.discard(writer)
        self.asking.pop(writer, None)

    def ask(self, writer: LogWriter, *, now: bool = False) -> None:
        """A round for `writer`: at once when the rounds are idle or `now`; after the rest
        that follows a round otherwise (see `_rested`)."""
        self.asking[writer] = None
        wake = self.due is None or (now and not self.urgent)
        if self.due is None:
            self.due = self.loop.time()
        self.urgent = self.urgent or now
        if wake and self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
        self._ensure_running()

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())
            self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A clock cancelled (the loop is closing) while writers wait on it: a turn being
        cancelled at the same time still writes its last events and `relay.turn.done`,
        so the clock starts again for them."""
        if self.asking and self.task is task and not self.loop.is_closed():
            self.task = None
            self._ensure_running()

    async def _run(self) -> None:
        while self.open or self.asking:
            await self._sleep()
            heartbeat = self.loop.time() >= self.next_heartbeat
            writers = list(self.asking)
            self.asking.clear()
            asked = self.due
            self.due, self.urgent = None, False
            started = self.loop.time()
            idle = None if asked is None else max(0.0, asked - self.ready)
            if heartbeat:
                self.next_heartbeat = started + self.heartbeat
                writers += [w for w in list(self.open) if w not in writers]
            try:
                await self._round(writers, heartbeat=heartbeat)
            except Exception:  # never lose the clock: each writer has been told already
                log.exception("a flush round failed")
            self._rested(started, idle)
            self._checkpoint_if_due()

    def _rested(self, started: float, idle: float | None) -> None:
        """After a round, the next ordinary one waits for a time that follows the load: the
        round's own length times how busy the rounds have lately been (`busy`, the share of
        time spent in rounds rather than waiting with nothing to write), at most the
        interval. Under load something always waits when a rest ends, so the rest is as long
        as the round and what arrives meanwhile gathers into the next one: rounds grow with
        the load instead of multiplying, and their thread is busy about half the time. At
        light load the rounds mostly wait for work, the rest shrinks towards nothing, and an
        event is written and relayed at once."""
        ended = self.loop.time()
        took = ended - started
        if idle is not None and took + idle > 0:  # not a heartbeat nobody asked for
            self.busy += BUSY_WEIGHT * (took / (took + idle) - self.busy)
        self.rest_until = ended + min(self.interval, took * self.busy)
        self.ready = self.rest_until

    def _checkpoint_if_due(self) -> None:
        if self.loop.time() < self.next_checkpoint:
            return
        if self.checkpointing is not None and not self.checkpointing.done():
            return
        self.next_checkpoint = self.loop.time() + CHECKPOINT_EVERY
        self.checkpointing = self.loop.create_task(_checkpoint())

    async def _sleep(self) -> None:
        while True:
            due = self.next_heartbeat
            if self.due is not None:
                start = self.due if self.urgent else max(self.due, self.rest_until)
                due = min(start, due)
            delay = due - self.loop.time()
            if delay <= 0 or not (self.open or self.asking):
                return
            self._wakeup = wakeup = self.loop.create_future()
            timer = self.loop.call_later(delay, _resolve, wakeup)
            try:
                await wakeup
            finally:
                timer.cancel()
                self._wakeup = None

    async def _round(self, writers: list[LogWriter], *, heartbeat: bool) -> None:
        taken = [(w, w.take(heartbeat=heartbeat)) for w in writers if not w.closed]
        if not taken:
            return
        try:
            results: list[Any] = await logstore.db_rounds(
                logstore.write_round, [write for _, write in taken]
            )
        except Exception as exc:  # the thread hop itself failed: every write of it did
            results = [exc] * len(taken)
        batches = []
        for (writer, write), result in zip(taken, results, strict=True):
            batch = writer.written(write, result)
            if batch is not None:
                batches.append(batch)
        try:
            await self.hub.publish(batches)
        finally:
            for (writer, write), result in zip(taken, results, strict=True):
                writer.relayed(write, result)


async def _checkpoint() -> None:
    try:
        await logstore.db_checkpoints(logstore.checkpoint)
    except Exception:  # the next one tries again; commits checkpoint past the backstop
        log.exception("a WAL checkpoint failed")


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Flusher] = (
    weakref.WeakKeyDictionary()
)


def flusher() -> Flusher:
    """This event loop's flusher: one per loop, as a channel layer is one per process."""
    loop = asyncio.get_running_loop()
    found = _flushers.get(loop)
    if found is None:
        found = _flushers[loop] = Flusher(loop)
    return found
