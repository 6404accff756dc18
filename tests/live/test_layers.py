"""The embedded channel layer: channels' in-memory semantics, linear cost."""

from __future__ import annotations

from channels.layers import InMemoryChannelLayer

from streaming.live import layers
from streaming.live.layers import InMemoryLayer


async def test_group_send_reaches_every_member_once() -> None:
    """Each member of the group gets the message exactly once; others get nothing."""
    layer = InMemoryLayer()
    members = [await layer.new_channel() for _ in range(3)]
    outsider = await layer.new_channel()
    for channel in members:
        await layer.group_add("turn.x", channel)
    await layer.group_send("turn.x", {"type": "stream.events", "first": 0})
    for channel in members:
        assert await layer.receive(channel) == {"type": "stream.events", "first": 0}
    # Nothing is left for anyone (channels drops a queue once it is empty).
    left = [layer.channels.get(c) for c in [*members, outsider]]
    assert all(queue is None or queue.empty() for queue in left)


async def test_a_full_member_is_skipped_and_the_rest_still_receive() -> None:
    """A member at capacity drops the message (it will read the gap from the log)."""
    layer = InMemoryLayer(capacity=1)
    full, fine = await layer.new_channel(), await layer.new_channel()
    for channel in (full, fine):
        await layer.group_add("g", channel)
    await layer.send(full, {"type": "x"})
    await layer.group_send("g", {"type": "y"})
    assert await layer.receive(full) == {"type": "x"}
    assert await layer.receive(fine) == {"type": "y"}


async def test_the_expiry_scan_runs_at_most_once_a_second(monkeypatch) -> None:
    """Sends and receives no longer scan every channel each time."""
    scans = []
    monkeypatch.setattr(InMemoryChannelLayer, "_clean_expired", lambda self: scans.append(1))
    clock = [100.0]
    monkeypatch.setattr(layers.time, "monotonic", lambda: clock[0])
    layer = InMemoryLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    for _ in range(50):
        await layer.group_send("g", {"type": "y"})
        await layer.receive(channel)
    assert len(scans) == 1
    clock[0] += layers.CLEAN_EVERY
    await layer.group_send("g", {"type": "y"})
    assert len(scans) == 2
