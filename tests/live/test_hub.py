"""The process's hub: a write round reaches every local viewer of each turn in it, through no
layer in the embedded default and through one layer message per round in a team."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from streaming.live.hub import LIVE_GROUP, Hub
from tests.team import REDIS_PORT, team_services


class Viewer:
    def __init__(self, fail: bool = False) -> None:
        self.got: list[int] = []
        self.fail = fail

    async def deliver(self, batch: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("a broken socket")
        self.got.append(batch["first"])


def batch(group: str, first: int) -> dict[str, Any]:
    return {"group": group, "first": first, "envelopes": [], "done": False}


class CountingLayer(InMemoryChannelLayer):
    """An in-memory layer that counts what is sent through it (nothing should be)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = 0

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.messages += 1
        await super().group_send(group, message)


async def test_a_round_reaches_each_turns_viewers_in_order_and_nobody_else() -> None:
    hub = Hub(InMemoryChannelLayer())
    first, second, elsewhere = Viewer(), Viewer(), Viewer()
    await hub.join("turn.a", first)
    await hub.join("turn.a", second)
    await hub.join("turn.b", elsewhere)
    for n in range(3):
        await hub.publish([batch("turn.a", n), batch("turn.b", 10 + n), batch("turn.c", 0)])
    assert first.got == second.got == [0, 1, 2] and elsewhere.got == [10, 11, 12]
    hub.leave("turn.a", first)
    await hub.publish([batch("turn.a", 3)])
    assert first.got == [0, 1, 2] and second.got == [0, 1, 2, 3]


async def test_the_embedded_hub_hands_rounds_over_without_the_layer() -> None:
    """In one process a round is with its viewers when `publish` returns: no layer message,
    no queue, no receiving task."""
    layer = CountingLayer()
    hub = Hub(layer)
    viewer = Viewer()
    await hub.join("turn.a", viewer)
    await hub.publish([batch("turn.a", 0), batch("turn.a", 1)])
    assert viewer.got == [0, 1]
    assert layer.messages == 0 and not layer.groups


async def test_a_viewer_that_fails_does_not_stop_the_others() -> None:
    hub = Hub(InMemoryChannelLayer())
    broken, fine = Viewer(fail=True), Viewer()
    await hub.join("turn.a", broken)
    await hub.join("turn.a", fine)
    await hub.publish([batch("turn.a", 0)])
    await hub.publish([batch("turn.a", 1)])
    assert fine.got == [0, 1]


@pytest.mark.services
async def test_over_redis_a_round_is_one_message_to_every_processs_hub() -> None:
    """channels_redis' own pub-sub layer: two hubs (two processes' worth) each get every
    round once, as one message, and hand each turn's batches to their own viewers."""
    team_services()
    config = {
        "hosts": [{"address": f"redis://127.0.0.1:{REDIS_PORT}/0", "socket_timeout": None}],
        "prefix": f"test-hub-{uuid.uuid4().hex[:8]}",
    }
    layers = [RedisPubSubChannelLayer(**config) for _ in range(3)]
    hubs = [Hub(layers[0]), Hub(layers[1])]
    publisher = Hub(layers[2])  # a worker process: it publishes, it has no viewers
    viewers = [[Viewer() for _ in range(20)] for _ in hubs]
    try:
        for hub, mine in zip(hubs, viewers, strict=True):
            for i, viewer in enumerate(mine):
                await hub.join(f"turn.{i}", viewer)
        for n in range(3):
            await publisher.publish([batch(f"turn.{i}", n) for i in range(20)])
        async with asyncio.timeout(5):
            while any(len(v.got) < 3 for mine in viewers for v in mine):
                await asyncio.sleep(0.02)
        assert [v.got for mine in viewers for v in mine] == [[0, 1, 2]] * 40
        assert LIVE_GROUP == "relay.live"
    finally:
        for layer in layers:
            await layer.flush()
