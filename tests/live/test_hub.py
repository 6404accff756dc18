"""The process's hub: one group membership per turn, every local viewer served."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from streaming.live.hub import Hub
from streaming.live.layers import InMemoryLayer, RedisPubSubLayer
from tests.team import REDIS_PORT, team_services


class Viewer:
    def __init__(self, fail: bool = False) -> None:
        self.got: list[int] = []
        self.fail = fail

    async def deliver(self, message: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("a broken socket")
        self.got.append(message["first"])


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_viewers_of_a_turn_share_one_membership_and_each_get_every_batch() -> None:
    layer = InMemoryLayer()
    hub = Hub(layer)
    first, second, elsewhere = Viewer(), Viewer(), Viewer()
    await hub.join("turn.a", first)
    await hub.join("turn.a", second)
    await hub.join("turn.b", elsewhere)
    assert len(layer.groups["turn.a"]) == 1
    for n in range(3):
        await layer.group_send_many(
            [
                ("turn.a", {"type": "stream.events", "group": "turn.a", "first": n}),
                ("turn.b", {"type": "stream.events", "group": "turn.b", "first": 10 + n}),
            ]
        )
    await settle()
    assert first.got == second.got == [0, 1, 2] and elsewhere.got == [10, 11, 12]
    await hub.leave("turn.a", first)
    assert "turn.a" in layer.groups
    await hub.leave("turn.a", second)
    assert "turn.a" not in layer.groups


async def test_the_in_memory_layer_hands_a_round_to_the_hub_as_it_is_sent() -> None:
    """No queue and no receiving task between a round and its viewers: each batch is with
    its viewer when `group_send_many` returns, in order, and nothing waits in a queue."""
    layer = InMemoryLayer()
    hub = Hub(layer)
    first, second = Viewer(), Viewer()
    await hub.join("turn.a", first)
    await hub.join("turn.b", second)
    await layer.group_send_many(
        [
            ("turn.a", {"type": "stream.events", "group": "turn.a", "first": 0}),
            ("turn.b", {"type": "stream.events", "group": "turn.b", "first": 5}),
            ("turn.a", {"type": "stream.events", "group": "turn.a", "first": 1}),
        ]
    )
    assert first.got == [0, 1] and second.got == [5]
    assert hub.listening and hub._task is None and not layer.channels


async def test_a_viewer_that_fails_does_not_stop_the_others() -> None:
    layer = InMemoryLayer()
    hub = Hub(layer)
    broken, fine = Viewer(fail=True), Viewer()
    await hub.join("turn.a", broken)
    await hub.join("turn.a", fine)
    await layer.group_send("turn.a", {"type": "stream.events", "group": "turn.a", "first": 0})
    await layer.group_send("turn.a", {"type": "stream.events", "group": "turn.a", "first": 1})
    await settle()
    assert fine.got == [0, 1]


async def test_a_round_of_many_turns_is_not_dropped_by_the_channel_capacity() -> None:
    """The hub channel takes every turn's batch of a round: more than a channel's capacity."""
    layer = InMemoryLayer(capacity=10)
    hub = Hub(layer)
    viewers = [Viewer() for _ in range(50)]
    for i, viewer in enumerate(viewers):
        await hub.join(f"turn.{i}", viewer)
    await layer.group_send_many(
        [(f"turn.{i}", {"type": "x", "group": f"turn.{i}", "first": i}) for i in range(50)]
    )
    await settle()
    assert [v.got for v in viewers] == [[i] for i in range(50)]


@pytest.mark.services
async def test_over_redis_a_round_reaches_every_turns_viewers_in_order() -> None:
    """Our pub-sub layer's `group_send_many` (one pipelined round trip per round), through
    the hub: each viewer gets its own turn's batches, in order, and nothing else."""
    team_services()
    layer = RedisPubSubLayer(
        hosts=[{"address": f"redis://127.0.0.1:{REDIS_PORT}/0", "socket_timeout": None}],
        prefix=f"test-hub-{uuid.uuid4().hex[:8]}",
    )
    hub = Hub(layer)
    viewers = [Viewer() for _ in range(30)]
    try:
        for i, viewer in enumerate(viewers):
            await hub.join(f"turn.{i}", viewer)
        for n in range(3):
            await layer.group_send_many(
                [(f"turn.{i}", {"type": "x", "group": f"turn.{i}", "first": n}) for i in range(30)]
            )
        async with asyncio.timeout(5):
            while any(len(v.got) < 3 for v in viewers):
                await asyncio.sleep(0.02)
        assert [v.got for v in viewers] == [[0, 1, 2]] * 30
    finally:
        for i, viewer in enumerate(viewers):
            await hub.leave(f"turn.{i}", viewer)
        await layer.flush()
