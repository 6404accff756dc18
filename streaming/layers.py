"""The embedded default's channel layer: channels' in-memory layer, made linear.

channels' `InMemoryChannelLayer` scans every channel queue and every group membership
(`_clean_expired`) on each `receive` and `group_send`, and fans a group message out through
a task per member. With N live turns and viewers that is O(N) work per batch, O(N²) per
second: measured (bench/load.py, 100 turns) as a third of the event loop. Here the scan
runs at most once a second (expiries are 60 s and a day, so nothing is late by more than
that second) and members are sent to directly. Semantics are otherwise channels' own.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

CLEAN_EVERY = 1.0  # seconds


class InMemoryLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._next_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now >= self._next_clean:
            self._next_clean = now + CLEAN_EVERY
            super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            # Full: dropped, as channels does; the consumer reads the gap from the log.
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)
