"""This process's viewers of live turns, and the way a write round reaches them.

A write round (streaming/eventlog/flusher.py) publishes what it wrote as one message: a list
of batches, one per turn. Every process's hub receives each round once and hands each batch
to the sockets of this process that view that turn (`TurnConsumer.deliver`); a batch nobody
here views is dropped, as it is already in the log.

- Embedded default (the in-memory layer, so one process): the round goes from the flusher to
  this event loop's hub directly, with no layer in between.
- Team (a layer that crosses processes): the round is one `group_send` to `LIVE_GROUP`, which
  every process's hub joins once; a task receives from it.

One message per round, not per turn: the layer's cost is paid per message (serialising,
a publish, a wake-up of each receiver), and a round carries every turn that had events.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger(__name__)

LIVE_GROUP = "relay.live"
HUB_PREFIX = "relay-hub."
ROUND = "stream.round"  # the layer message's type; its batches travel inside


class Viewer(Protocol):
    async def deliver(self, batch: dict[str, Any]) -> None: ...


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.viewers: dict[str, set[Viewer]] = {}
        self.local = layer is None or isinstance(layer, InMemoryChannelLayer)
        self._joined: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def join(self, group: str, viewer: Viewer) -> None:
        """Returns once rounds published from now on reach `viewer`."""
        self.viewers.setdefault(group, set()).add(viewer)
        if not self.local:
            await self._listen()

    def leave(self, group: str, viewer: Viewer) -> None:
        viewers = self.viewers.get(group)
        if viewers is not None:
            viewers.discard(viewer)
            if not viewers:
                del self.viewers[group]

    async def publish(self, batches: list[dict[str, Any]]) -> None:
        """A round's batches: to this process's viewers, or to every process's hub."""
        if not batches:
            return
        if self.local:
            await self.dispatch(batches)
        else:
            await self.layer.group_send(LIVE_GROUP, {"type": ROUND, "batches": batches})

    async def dispatch(self, batches: list[dict[str, Any]]) -> None:
        viewers = self.viewers
        for batch in batches:
            for viewer in list(viewers.get(batch["group"], ())):
                try:
                    await viewer.deliver(batch)
                except Exception:  # one broken socket must not stop the others
                    log.exception("delivering a batch to a viewer failed")

    async def _listen(self) -> None:
        if self._joined is None:
            self._joined = asyncio.ensure_future(self._join_layer())
        await asyncio.shield(self._joined)

    async def _join_layer(self) -> None:
        channel = await self.layer.new_channel(HUB_PREFIX)
        await self.layer.group_add(LIVE_GROUP, channel)
        self._task = asyncio.ensure_future(self._receive(channel))

    async def _receive(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. Redis went away: the layer reconnects, keep asking
                log.exception("the hub could not receive; retrying")
                await asyncio.sleep(0.5)
                continue
            if message.get("type") == ROUND:
                await self.dispatch(message["batches"])


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This event loop's hub, on the default channel layer (one per loop, as the flusher)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(get_channel_layer())
    return found
