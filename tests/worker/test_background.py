"""Background mode in the worker: asked for and said, refused and remembered, cancelled."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from streaming.models import TurnEvent
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)


def started_events(stored: list[dict]) -> list[dict]:
    return [e["event"] for e in stored if e["event"]["type"] == "relay.request.started"]


async def test_on_asks_for_background_mode_and_the_log_says_so(
    relay: Relay, settings, simulator_url: str
) -> None:
    settings.RELAY_BACKGROUND = "on"
    turn = await relay.wait_done(await relay.start("Hi [sim:markdown tps=0 seed=2]"))
    assert turn.status == "completed", turn.error
    assert [s["background"] for s in started_events(await relay.stored(turn.pk))] == [True]
    async with httpx.AsyncClient() as client:
        seen = (await client.get(f"{simulator_url}/_requests")).json()
        stored = (await client.get(f"{simulator_url}/responses/{turn.response_ids[0]}")).json()
    assert [r.get("background") for r in seen if r["id"] in turn.response_ids] == [True]
    assert stored["status"] == "completed" and stored["background"] is True


async def test_auto_falls_back_on_a_server_without_it_and_remembers(
    relay: Relay, settings, simulator_url: str
) -> None:
    """A 400 naming `background`: the same request again, plainly; the next request to that
    base URL does not ask. (`localhost` is this test's own base URL, so nothing else in the
    process finds it remembered.)"""
    settings.RELAY_BACKGROUND = "auto"
    settings.OPENAI_BASE_URL = simulator_url.replace("127.0.0.1", "localhost")
    first = await relay.wait_done(await relay.start("Hi [sim:markdown tps=0 nobackground=1]"))
    assert first.status == "completed", first.error
    second = await relay.wait_done(await relay.start("Again [sim:markdown tps=0 nobackground=1]"))
    assert second.status == "completed", second.error
    for turn in (first, second):
        stored = await relay.stored(turn.pk)
        assert [s["background"] for s in started_events(stored)] == [False]
        assert not [e for e in stored if e["event"]["type"] == "relay.error"]
    async with httpx.AsyncClient() as client:
        seen = (await client.get(f"{simulator_url}/_requests")).json()
    refused = [r for r in seen if r.get("ended") == "background refused"]
    assert len(refused) == 1  # the second turn did not ask again


async def test_on_reports_a_refusal_instead_of_hiding_it(relay: Relay, settings) -> None:
    settings.RELAY_BACKGROUND = "on"
    turn = await relay.wait_done(await relay.start("Hi [sim:markdown tps=0 nobackground=1]"))
    assert turn.status == "failed" and "background" in turn.error


async def test_stop_on_a_background_turn_cancels_it_upstream(
    relay: Relay, settings, simulator_url: str
) -> None:
    settings.RELAY_BACKGROUND = "on"
    turn_id = await relay.start("Story [sim:long tps=50 deltas=2000 seed=3]")
    while not await TurnEvent.objects.filter(
        turn_id=turn_id, type__endswith="text.delta"
    ).aexists():
        await asyncio.sleep(0.05)
    response = await relay.client.post(f"/api/turns/{turn_id}/cancel")
    assert response.status_code == 202
    turn = await relay.wait_done(turn_id, timeout=10)
    assert turn.status == "cancelled" and turn.output_text
    async with httpx.AsyncClient() as client:
        stored = (await client.get(f"{simulator_url}/responses/{turn.response_ids[0]}")).json()
    assert stored["status"] == "cancelled"
