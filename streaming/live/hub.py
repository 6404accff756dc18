"""This process's viewers of live turns: one channel-layer membership per turn and process.

Each socket consumer used to join its turn's group with its own channel, so every batch
reached every viewer through channels' receive loop: a task, a queue and an `asyncio.wait`
per message and viewer, a third of the embedded server's CPU at 100 turns (bench/load.py).
Here the process has one hub channel; the hub joins a turn's group for the first local
viewer and leaves it with the last, receives every batch once, and hands it to the turn's
viewers (`TurnConsumer.deliver`), which send it on at once unless they are busy catching up.
The same holds for the in-memory layer and for Redis, where it also means one subscription
per turn and process instead of one per viewer.

Batches carry their group (`"group"`), so one channel serves every turn. Where the layer
can hand them over as they are sent (the in-memory layer's `listen`), the hub takes them
there, in the sender's turn of the event loop; otherwise a task receives them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

HUB_PREFIX = "relay-hub."


class Viewer(Protocol):
    async def deliver(self, message: dict[str, Any]) -> None: ...


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.viewers: dict[str, set[Viewer]] = {}
        self.joined: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self.listening = False  # batches come through `_dispatch`, not `_receive`

    async def join(self, group: str, viewer: Viewer) -> None:
        """Returns once batches for `group` reach this process."""
        await self._start()
        self.viewers.setdefault(group, set()).add(viewer)
        joining = self.joined.get(group)
        if joining is None:
            joining = self.joined[group] = asyncio.ensure_future(
                self.layer.group_add(group, self.channel)
            )
        await asyncio.shield(joining)

    async def leave(self, group: str, viewer: Viewer) -> None:
        viewers = self.viewers.get(group)
        if viewers is None:
            return
        viewers.discard(viewer)
        if viewers:
            return
        del self.viewers[group]
        joining = self.joined.pop(group, None)
        if joining is not None:
            await asyncio.gather(joining, return_exceptions=True)
        await self.layer.group_discard(group, self.channel)

    async def _start(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(self._open())
        await asyncio.shield(self._started)
        if not self.listening and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self._receive())

    async def _open(self) -> None:
        self.channel = await self.layer.new_channel(HUB_PREFIX)
        listen = getattr(self.layer, "listen", None)
        if listen is not None:
            listen(self.channel, self._dispatch)
            self.listening = True

    async def _receive(self) -> None:
        assert self.channel is not None
        receive_many = getattr(self.layer, "receive_many", None)
        while True:
            try:
                if receive_many is not None:
                    messages = await receive_many(self.channel)
                else:
                    messages = [await self.layer.receive(self.channel)]
            except Exception:  # e.g. Redis went away: the layer reconnects, keep asking
                log.exception("the hub could not receive; retrying")
                await asyncio.sleep(0.5)
                continue
            for message in messages:
                await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        for viewer in list(self.viewers.get(message.get("group", ""), ())):
            try:
                await viewer.deliver(message)
            except Exception:  # one broken socket must not stop the others
                log.exception("delivering a batch to a viewer failed")


def hub_for(layer: Any) -> Hub:
    """The hub of `layer` (one per layer, as each process has one layer per event loop)."""
    hub = getattr(layer, "_relay_hub", None)
    if hub is None:
        hub = Hub(layer)
        layer._relay_hub = hub
    return hub
