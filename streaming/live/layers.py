"""The embedded default's channel layer: channels' in-memory layer, made linear.

channels' `InMemoryChannelLayer` scans every channel queue and every group membership
(`_clean_expired`) on each `receive` and `group_send`, and fans a group message out through
a task per member. With N live turns and viewers that is O(N) work per batch, O(N²) per
second: measured (bench/load.py, 100 turns) as a third of the event loop. Here the scan
runs at most once a second (expiries are 60 s and a day, so nothing is late by more than
that second) and members are sent to directly. Semantics are otherwise channels' own, but
for copies: channels deep-copies every message it queues; here a message sent to one
receiver is handed over as it is (the sender must not change it afterwards: the flusher and
the services make a new dict per message), and one sent to several is copied per receiver,
cheaply when its values are plain (`_copy`). With a hub per process (streaming/live/hub.py) a
turn's group has one member, and the copy was 7% of the server's CPU at 200 turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from streaming.live.hub import HUB_PREFIX

CLEAN_EVERY = 1.0  # seconds


Handler = Callable[[dict[str, Any]], Awaitable[None]]


class InMemoryLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._next_clean = 0.0
        self._handlers: dict[str, Handler] = {}

    def listen(self, channel: str, handler: Handler) -> None:
        """Group messages for `channel` are handed to `handler` as they are sent, in order,
        not queued for a `receive`: the hub's way in (streaming/live/hub.py). A queue and a
        receiving task cost a turn of the event loop between a flush round and its sockets,
        5-10 ms per batch with the loop busy (bench/load.py, 300 turns)."""
        self._handlers[channel] = handler

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now >= self._next_clean:
            self._next_clean = now + CLEAN_EVERY
            super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.group_send_many([(group, message)])

    async def group_send_many(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        """A message to each group (the flusher's round: one batch per turn)."""
        self._clean_expired()
        handed: list[tuple[Handler, dict[str, Any]]] = []
        handlers = self._handlers
        for group, message in sends:
            assert isinstance(message, dict), "Message is not a dict"
            members = self.groups.get(group)  # a group with members was checked on joining
            if not members:
                self.require_valid_group_name(group)
                continue
            shared = len(members) > 1  # a hub is usually a group's one member
            for channel in list(members):
                copied = _copy(message) if shared else message
                handler = handlers.get(channel)
                if handler is not None:
                    handed.append((handler, copied))
                    continue
                # Full: dropped, as channels does; the consumer reads the gap from the log.
                with contextlib.suppress(ChannelFull):
                    self._put(channel, copied)
        for handler, message in handed:
            await handler(message)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, _copy(message))

    async def receive(self, channel: str) -> dict[str, Any]:
        return (await self._receive(channel, 1))[0]

    async def receive_many(self, channel: str) -> list[dict[str, Any]]:
        """Every message waiting on `channel` (at least one): the hub takes a round at once."""
        return await self._receive(channel, None)

    async def _receive(self, channel: str, most: int | None) -> list[dict[str, Any]]:
        # channels' receive makes a new Queue on every call (setdefault's default), and
        # the hub receives once per batch of every turn.
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            messages = [(await queue.get())[1]]
            while not queue.empty() and (most is None or len(messages) < most):
                messages.append(queue.get_nowait()[1])
        finally:
            if queue.empty():
                self.channels.pop(channel, None)
        return messages

    def get_capacity(self, channel: str) -> int:
        # A hub channel carries every turn's batches for the process: unbounded (0), as
        # its one reader takes them all at once.
        return 0 if channel.startswith(HUB_PREFIX) else super().get_capacity(channel)

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None


_FLAT = (str, int, float, bool, type(None))


def _copy(message: dict[str, Any]) -> dict[str, Any]:
    """What channels' `deepcopy` gives (each receiver its own message), for a fraction of its
    cost when values are plain or lists of plain values (a relay batch: strings and ints)."""
    copied = {}
    for key, value in message.items():
        if isinstance(value, _FLAT):
            copied[key] = value
        elif type(value) is list and all(isinstance(item, _FLAT) for item in value):
            copied[key] = list(value)
        else:
            return copy.deepcopy(message)
    return copied


class RedisPubSubLayer(RedisPubSubChannelLayer):
    """channels_redis' pub-sub layer, plus `group_send_many`: a flush round's batches (one
    per turn) in one pipelined round trip per shard. Its `group_send` takes a shard lock and
    waits for one `PUBLISH` at a time, so a round of 300 turns was 300 round trips in a row.
    It reaches into the layer's shards (channels-redis 4.x); without them, one at a time."""

    async def group_send_many(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        layer = self._get_layer()
        shards: dict[Any, list[tuple[str, bytes]]] = {}
        try:
            for group, message in sends:
                channel = layer._get_group_channel_name(group)
                shards.setdefault(layer._get_shard(channel), []).append(
                    (channel, self.serialize(message))
                )
            locks = [(shard, shard._lock, shard._ensure_redis) for shard in shards]
        except AttributeError:  # another channels-redis: its own group_send, in turn
            for group, message in sends:
                await self.group_send(group, message)
            return
        for shard, lock, ensure_redis in locks:
            async with lock:
                ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, data in shards[shard]:
                    pipe.publish(channel, data)
                await pipe.execute()
