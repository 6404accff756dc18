"""The turn's event log: batched appends by its one writer, and reads for replay.

A flush is one database transaction and then one channel-layer message to the turn's group,
never one per event (measured: a `group_send` per event caps the relay at ~3k events/s).
The message carries the envelopes already serialised, so no reader re-encodes JSON.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from pydantic import BaseModel

from streaming import logstore
from streaming.models import Turn, TurnEvent

T = TypeVar("T")


def envelope(seq: int, data: str) -> str:
    return f'{{"seq":{seq},"event":{data}}}'


def frame(envelopes: list[str]) -> str:
    return "[" + ",".join(envelopes) + "]"


FRAME_CHARS = 256 * 1024


def frames(envelopes: list[str], limit: int = FRAME_CHARS) -> Iterator[str]:
    """The envelopes as frames of about `limit` characters at most, so one huge batch does
    not become one huge WebSocket message; an envelope larger than that goes alone."""
    start = size = 0
    for index, item in enumerate(envelopes):
        if size and size + len(item) > limit:
            yield frame(envelopes[start:index])
            start, size = index, 0
        size += len(item) + 1
    if start < len(envelopes):
        yield frame(envelopes[start:])


class LogWriter:
    """Appends a turn's events. Flushes when asked, or after `interval` from the first
    pending event (the caller runs `run_timer`), or when `max_events` are pending.

    Every flush renews the writer's lease; when nothing is flushed for a third of the lease,
    `run_timer` renews it anyway and checks the turn's cancel flag (the fallback for a lost
    cancel message), calling `on_cancel_requested`.
    """

    def __init__(
        self,
        turn: Turn,
        *,
        owner: str,
        on_cancel_requested: Callable[[], None] | None = None,
    ) -> None:
        self.turn_id = turn.pk
        self.group = turn.group_name
        self.owner = owner
        self.next_seq = turn.next_seq
        self.interval = settings.RELAY_FLUSH_INTERVAL
        self.max_events = settings.RELAY_FLUSH_MAX_EVENTS
        self.heartbeat = settings.RELAY_LEASE_SECONDS / 3
        self.on_cancel_requested = on_cancel_requested
        self._pending: list[tuple[str, str, int]] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._layer = get_channel_layer()
        self.turn_updates: dict[str, Any] = {}  # Turn fields to save with the next flush

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.max_events

    def add(self, kind: str, data: str) -> None:
        self._pending.append((kind, data, int(time.time() * 1000)))
        self._wake.set()

    def add_model(self, event: BaseModel) -> None:
        """Append one of the relay's own events."""
        self.add(event.type, event.model_dump_json(exclude_none=True))  # type: ignore[attr-defined]

    async def run_timer(self) -> None:
        """Flush pending events at most `interval` after they arrived. Runs until cancelled."""
        while True:
            try:
                # Not `wait_for`: on 3.11 it swallows a cancel that lands as the event is
                # set, and the timer would flush again after the turn's final write.
                async with asyncio.timeout(self.heartbeat):
                    await self._wake.wait()
            except TimeoutError:
                if await self.flush(check_cancel=True) and self.on_cancel_requested:
                    self.on_cancel_requested()
                continue
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self, *, check_cancel: bool = False) -> bool:
        """Write what is pending, then relay it. Returns the turn's cancel flag when asked.

        A write that has started always completes and is relayed, even if the task is
        cancelled meanwhile: otherwise the writer's seq would disagree with the database.
        """
        task = asyncio.ensure_future(self._flush(check_cancel))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            raise

    async def _flush(self, check_cancel: bool) -> bool:
        async with self._lock:
            self._wake.clear()
            pending, self._pending = self._pending, []
            updates, self.turn_updates = self.turn_updates, {}
            first = self.next_seq
            write = functools.partial(self._write, pending, first, updates, check_cancel)
            cancel = await logstore.write_batcher().write(write)
            self.next_seq = first + len(pending)
            if pending:
                envelopes = [envelope(first + i, data) for i, (_, data, _) in enumerate(pending)]
                done = pending[-1][0] == "relay.turn.done"
                await self._layer.group_send(
                    self.group,
                    {"type": "stream.events", "first": first, "envelopes": envelopes, "done": done},
                )
            return cancel

    def _write(
        self, pending: list[tuple[str, str, int]], first: int, updates: dict, check_cancel: bool
    ) -> bool:
        """One turn's part of a write round (inside the round's transaction)."""
        values = {"next_seq": first + len(pending), **updates}
        if "lease_owner" not in updates:
            lease = timedelta(seconds=settings.RELAY_LEASE_SECONDS)
            values["lease_expires_at"] = timezone.now() + lease
        if not logstore.update_held_turn(self.turn_id, self.owner, values):
            raise logstore.LeaseLost(f"turn {self.turn_id} is no longer held by {self.owner}")
        logstore.insert_events(self.turn_id, first, pending)
        if check_cancel:
            return Turn.objects.filter(pk=self.turn_id, cancel_requested=True).exists()
        return False


def read_envelopes(turn_id: Any, after: int, limit: int) -> list[tuple[int, str, str]]:
    """Stored events with seq > after, oldest first, as (seq, type, envelope)."""
    rows = (
        TurnEvent.objects.filter(turn_id=turn_id, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "type", "data")[:limit]
    )
    return [(seq, kind, envelope(seq, data)) for seq, kind, data in rows]
