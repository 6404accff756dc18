"""Per-user limits and the worker's graceful stop."""

from __future__ import annotations

import asyncio

import pytest

from streaming.models import TurnEvent
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "Long [sim:long tps=40 deltas=2000 seed=7]"
QUICK = "Hi [sim:markdown tps=0 deltas=20 seed=8]"


async def test_too_many_streaming_turns_get_429_with_a_message(relay: Relay, settings) -> None:
    """Over the concurrent-turn limit, a new turn is refused with 429 and says why."""
    settings.LIMIT_ACTIVE_TURNS_PER_USER = 2
    running = [await relay.start(SLOW), await relay.start(SLOW)]
    response = await relay.post_turn(await relay.conversation(), QUICK)
    assert response.status_code == 429
    assert "2 answers streaming" in response.json()["error"]
    assert response.headers["Retry-After"]
    for turn_id in running:
        await relay.client.post(f"/api/turns/{turn_id}/cancel")
        await relay.wait_done(turn_id)
    assert (await relay.post_turn(await relay.conversation(), QUICK)).status_code == 202


async def test_too_many_turns_a_minute_get_429_with_when_to_retry(relay: Relay, settings) -> None:
    """Over the per-minute limit, a new turn is refused with 429 and a Retry-After."""
    settings.LIMIT_TURNS_PER_MINUTE = 3
    for _ in range(3):
        await relay.wait_done(await relay.start(QUICK))
    response = await relay.post_turn(await relay.conversation(), QUICK)
    assert response.status_code == 429
    assert "3 messages a minute" in response.json()["error"]
    assert 1 <= int(response.headers["Retry-After"]) <= 61


async def test_a_stopping_worker_finishes_short_turns_and_interrupts_long_ones(
    relay: Relay, settings
) -> None:
    """On shutdown the worker takes no new turns, lets running ones finish within the
    grace period, and ends the rest `interrupted` with their partial output."""
    settings.RELAY_SHUTDOWN_GRACE = 4.0  # room for the short turn on a loaded machine
    long_turn = await relay.start(SLOW)
    short_turn = await relay.start("Hi [sim:markdown tps=100 ttft=0 deltas=10 seed=9]")
    while not await TurnEvent.objects.filter(
        turn_id=long_turn, type="response.output_text.delta"
    ).aexists():
        await asyncio.sleep(0.05)
    await relay.worker.shutdown()
    assert (await relay.wait_done(short_turn, timeout=1)).status == "completed"
    interrupted = await relay.wait_done(long_turn, timeout=1)
    assert interrupted.status == "interrupted"
    assert interrupted.output_text
    assert "shut down" in interrupted.error
    stored = await relay.stored(long_turn)
    assert stored[-1]["event"]["status"] == "interrupted"
