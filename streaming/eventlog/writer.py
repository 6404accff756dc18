"""The turn's event log: batched appends by its one writer, and reads for replay.

A flush writes a batch in one database round and then relays it as part of the round's one
message to the hubs, never a message per event or per turn; `streaming/eventlog/flusher.py`
runs the rounds for every turn of the process together. A batch carries its envelopes
already serialised, so no reader re-encodes JSON.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from django.conf import settings
from pydantic import BaseModel

from streaming.eventlog import store as logstore
from streaming.eventlog.flusher import Flusher, flusher
from streaming.models import Turn, TurnEvent
from streaming.protocol.finite import strict


def envelope(seq: int, data: str) -> str:
    """What every socket frame carries, live or replayed: the event as strict JSON. The log
    keeps it as received; non-finite numbers go out as null (`protocol/finite.py`)."""
    if "NaN" in data or "Infinity" in data:  # `finite.suspect`, inline: once per event sent
        data = strict(data)
    return f'{{"seq":{seq},"event":{data}}}'


def frame(envelopes: list[str]) -> str:
    return "[" + ",".join(envelopes) + "]"


FRAME_CHARS = 256 * 1024
BACKLOG_BATCHES = 4  # full batches a writer may hold before its reader waits
BUSY = 0.5  # `Flusher.busy` past which readers wait for their round (`make_room`)


def frames(envelopes: list[str], limit: int = FRAME_CHARS) -> Iterator[tuple[str, int]]:
    """The envelopes as frames of about `limit` characters at most, each with how many
    envelopes it holds, so one huge batch does not become one huge WebSocket message; an
    envelope larger than that goes alone."""
    start = size = 0
    for index, item in enumerate(envelopes):
        if size and size + len(item) > limit:
            yield frame(envelopes[start:index]), index - start
            start, size = index, 0
        size += len(item) + 1
    if start < len(envelopes):
        yield frame(envelopes[start:]), len(envelopes) - start


class LogWriter:
    """Appends a turn's events; `streaming.eventlog.flusher` writes and relays them in rounds, at
    most `RELAY_FLUSH_INTERVAL` after they arrived. `flush()` asks for a round at once and
    returns when what was pending is written and relayed; the runner waits on it when the
    rounds fall behind its reading (`make_room`), and at the end of the turn (then `close()`).

    A lost lease (another worker or the sweep ended the turn) stops the writer: `flush()`
    raises `LeaseLost` and `on_lease_lost` is called. `on_cancel_requested` is called when a
    heartbeat round finds the turn's cancel flag set (the fallback for a lost cancel message).
    """

    def __init__(
        self,
        turn: Turn,
        *,
        owner: str,
        on_cancel_requested: Callable[[], None] | None = None,
        on_lease_lost: Callable[[], None] | None = None,
    ) -> None:
        self.turn_id = turn.pk
        self.pk = logstore.db_pk(turn.pk)  # converted once, not per round
        self.group = turn.group_name
        self.owner = owner
        self.next_seq = turn.next_seq
        self.max_events = settings.RELAY_FLUSH_MAX_EVENTS
        self.on_cancel_requested = on_cancel_requested
        self.on_lease_lost = on_lease_lost
        self.turn_updates: dict[str, Any] = {}  # Turn fields to save with the next flush
        self.closed = False
        self.lost: logstore.LeaseLost | None = None
        self._pending: list[logstore.Event] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._taken_waiters: list[asyncio.Future[None]] = []
        self._readers: list[asyncio.Future[None]] = []  # `_next_round`
        self._taken_readers: list[asyncio.Future[None]] = []
        self._flusher: Flusher | None = None

    def add(self, kind: str, data: str) -> None:
        if self.lost is not None:
            return  # the turn is someone else's now; the runner is being stopped
        self._pending.append((kind, data, int(time.time() * 1000)))
        if len(self._pending) == 1:
            self._clock().ask(self)

    def add_read(self, batch: list[tuple[str, Any]]) -> None:
        """The events of one network read, as `(raw JSON, typed event)`: received together,
        so they share one receive time."""
        if self.lost is not None or not batch:
            return
        now = int(time.time() * 1000)
        pending = self._pending
        asked = bool(pending)
        pending += [(event.type, raw, now) for raw, event in batch]
        if not asked:
            self._clock().ask(self)

    def make_room(self) -> Awaitable[None] | None:
        """After adding a network read's events: what the reader waits on before it reads
        again, or None to read on at once.

        While the rounds are busy (working more than half the time, `Flusher.busy`) and
        other turns ask for the same round, the reader waits for the round that
        writes what it added: meanwhile what arrives from the upstream gathers in the
        connection's buffer and is read in one go afterwards, before the next round starts,
        so it is written no later. Under load that makes one read and one wake-up of the
        turn per round instead of one per event. A turn alone in its rounds (one fast
        stream) reads on while they are written: a full batch asks for a round at once, and
        something to wait on (`flush`) comes back only once `BACKLOG_BATCHES` batches are
        pending, the rounds having fallen behind. Waiting on every full batch left a fast
        reader idle while each was written."""
        pending = len(self._pending)
        if pending < self.max_events:
            rounds = self._flusher
            if pending and rounds is not None and rounds.busy > BUSY and len(rounds.asking) > 1:
                return self._next_round()
            return None
        if pending < self.max_events * BACKLOG_BATCHES:
            self._clock().ask(self, now=True)
            return None
        return self.flush()

    def _next_round(self) -> asyncio.Future[None]:
        """Done when the round that takes what is pending now has been relayed, whatever it
        found (a failed write is tried again in the next round, a lost lease has its own
        callback): unlike `flush`, waiting on it never fails the reader."""
        waiter = asyncio.get_running_loop().create_future()
        self._readers.append(waiter)
        return waiter

    def add_model(self, event: BaseModel) -> None:
        """Append one of the relay's own events."""
        self.add(event.type, event.model_dump_json(exclude_none=True))  # type: ignore[attr-defined]

    async def flush(self) -> None:
        """Write what is pending (and `turn_updates`) now, then relay it.

        Cancelling the caller does not cancel the write: a round that has taken the events
        writes and relays them, so the writer's seq always agrees with the database.
        """
        if self.lost is not None:
            raise self.lost
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._clock().ask(self, now=True)
        await asyncio.shield(waiter)

    def close(self) -> None:
        """No more events (the turn ended): leave the heartbeat rounds. The callbacks are
        dropped: they are the turn's runner's methods, and kept they made the runner and its
        writer a cycle, which only a full garbage collection freed (with the turn's whole
        state: its accumulator, its upstream response, its socket)."""
        self._leave()
        self.on_cancel_requested = self.on_lease_lost = None

    def _leave(self) -> None:
        self.closed = True
        if self._flusher is not None:
            self._flusher.unregister(self)

    def _clock(self) -> Flusher:
        if self._flusher is None:
            self._flusher = flusher()
            self._flusher.register(self)
        return self._flusher

    # --- called by the flusher -------------------------------------------------------

    def take(self, *, heartbeat: bool) -> logstore.Write:
        """What this round writes; the seqs are assigned now."""
        write = logstore.Write(
            self.turn_id,
            self.owner,
            self.next_seq,
            self._pending,
            self.turn_updates,
            heartbeat=heartbeat,
            pk=self.pk,
        )
        self._pending, self.turn_updates = [], {}
        self.next_seq += len(write.events)
        self._taken_waiters, self._waiters = self._waiters, []  # rounds never overlap
        self._taken_readers, self._readers = self._readers, []
        return write

    def written(self, write: logstore.Write, result: Any) -> dict[str, Any] | None:
        """After the database round: the batch of the written events to relay, if any."""
        if isinstance(result, logstore.LeaseLost):
            self.lost = result
            self._leave()  # `relayed` still calls on_lease_lost
            return None
        if isinstance(result, BaseException):  # nothing was written: try again next round
            self._pending[:0] = write.events
            self.turn_updates = {**write.updates, **self.turn_updates}
            self.next_seq = write.first
            if not self.closed:
                self._clock().ask(self)
            return None
        if not write.events:
            return None
        first = write.first
        envelopes = [envelope(first + i, data) for i, (_, data, _) in enumerate(write.events)]
        done = write.events[-1][0] == "relay.turn.done"
        return {
            "group": self.group,  # the hub routes by it (streaming/live/hub.py)
            "first": first,
            "envelopes": envelopes,
            "done": done,
        }

    def relayed(self, write: logstore.Write, result: Any) -> None:
        """After the round's layer messages: wake whoever waits, and act on what it found."""
        readers, self._taken_readers = self._taken_readers, []
        for reader in readers:
            if not reader.done():
                reader.set_result(None)
        waiters, self._taken_waiters = self._taken_waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(None)
        if isinstance(result, logstore.LeaseLost):
            if self.on_lease_lost is not None:
                self.on_lease_lost()
        elif result is True and self.on_cancel_requested is not None:
            self.on_cancel_requested()


def read_envelopes(turn_id: Any, after: int, limit: int) -> list[tuple[int, str, str]]:
    """Stored events with seq > after, oldest first, as (seq, type, envelope)."""
    rows = (
        TurnEvent.objects.filter(turn_id=turn_id, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "type", "data")[:limit]
    )
    return [(seq, kind, envelope(seq, data)) for seq, kind, data in rows]
