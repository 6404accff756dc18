"""Background mode in the worker: asked for and said, refused and remembered, cancelled."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from streaming.models import ToolEntry, Turn, TurnEvent
from streaming.upstream import background as bg
from streaming.worker import runner
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


WEATHER_CALLS: list[str] = []


def counted_weather(location: str) -> str:
    """The weather for a place (the test counts the calls)."""
    WEATHER_CALLS.append(location)
    return json.dumps({"location": location, "sky": "clear"})


async def left_by_a_dead_worker(
    relay: Relay, done: Turn, *, keep: int, taken_by: str | None = None
) -> str:
    """A turn as a worker that died would have left it: streaming, its lease expired, its
    log the first `keep` events of `done`'s. `taken_by`: already taken over by that owner
    (its lease runs, so the sweep leaves it alone)."""
    rows = [
        row
        async for row in TurnEvent.objects.filter(turn_id=done.pk, seq__lt=keep)
        .order_by("seq")
        .values_list("type", "data", "received_ms")
    ]
    conversation = await relay.conversation()
    now = timezone.now()
    turn = await Turn.objects.acreate(
        conversation_id=conversation,
        input=done.input,
        model=done.model,
        tools=done.tools,
        status=Turn.Status.STREAMING,
        started_at=now,
        lease_owner=taken_by or "worker.dead",
        lease_expires_at=now + timedelta(seconds=60 if taken_by else -1),
        next_seq=len(rows),
    )
    await TurnEvent.objects.abulk_create(
        TurnEvent(turn=turn, seq=seq, type=kind, data=data, received_ms=ms)
        for seq, (kind, data, ms) in enumerate(rows)
    )
    return str(turn.pk)


@pytest.mark.parametrize(
    ("output_logged", "chain"),
    [(False, False), (True, False), (False, True)],
    ids=["output-not-logged", "output-logged", "output-not-logged-chained"],
)
async def test_a_takeover_in_a_tool_round_runs_an_unanswered_call_once_and_goes_on(
    relay: Relay, settings, output_logged: bool, chain: bool
) -> None:
    """The worker died after the response asked for a function call: the next worker runs
    the call again if its output was not logged (never twice if it was), sends it (after the
    stored response, or with the whole history), and the conversation goes on to the
    answer, in the same log."""
    settings.RELAY_BACKGROUND = "on"
    settings.RELAY_PREVIOUS_RESPONSE_ID = chain
    await ToolEntry.objects.all().adelete()
    await ToolEntry.objects.acreate(
        name="get_weather", label="Weather", function=f"{__name__}:counted_weather", default=True
    )
    WEATHER_CALLS.clear()
    done = await relay.wait_done(await relay.start("Weather? [sim:function-call tps=0 seed=4]"))
    assert done.status == "completed", done.error
    assert WEATHER_CALLS and len(WEATHER_CALLS) == 1
    kinds = [e["event"]["type"] for e in await relay.stored(done.pk)]
    cut = kinds.index("relay.tool.output") + output_logged
    turn_id = await left_by_a_dead_worker(relay, done, keep=cut)

    turn = await relay.wait_done(turn_id, timeout=30)
    assert turn.status == "completed", turn.error
    assert len(WEATHER_CALLS) == (1 if output_logged else 2)
    stored = await relay.stored(turn_id)
    assert [e["seq"] for e in stored] == list(range(len(stored)))
    kinds = [e["event"]["type"] for e in stored]
    assert kinds.count("relay.request.started") == 2
    assert kinds.count("relay.tool.output") == 1
    assert kinds.count("response.completed") == 2 and kinds[-1] == "relay.turn.done"
    assert turn.output_text == done.output_text
    if not chain:  # the simulator picks its scenario from the user text the request carries
        assert WEATHER_CALLS[0] in turn.output_text
    second = [e["event"] for e in stored if e["event"]["type"] == "relay.request.started"][1]
    assert second.get("previous_response_id") == (done.response_ids[0] if chain else None)


async def test_auto_stops_asking_a_base_url_whose_responses_cannot_be_retrieved(
    relay: Relay, settings
) -> None:
    """A taken-over background turn whose upstream answers retrieval with a 405: the turn
    ends `interrupted` with the reason and what streamed, and `auto` asks that base URL
    for background mode no more (it could not resume there)."""
    settings.RELAY_BACKGROUND = "on"
    done = await relay.wait_done(await relay.start("Hi [sim:markdown tps=0 deltas=20 seed=6]"))
    assert done.status == "completed", done.error
    stored = await relay.stored(done.pk)
    kinds = [e["event"]["type"] for e in stored]
    keep = kinds.index("response.output_text.delta") + 3
    last_seq = stored[keep - 1]["event"]["sequence_number"]
    turn_id = await left_by_a_dead_worker(relay, done, keep=keep, taken_by="sweep.test")
    settings.RELAY_BACKGROUND = "auto"
    settings.OPENAI_BASE_URL = base_url = "http://no-retrieval.test/v1"
    asked: list[httpx.Request] = []

    def no_retrieval(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(405, json={"error": {"message": "Method Not Allowed"}})

    assert await bg.background_wanted(base_url)
    turn = await Turn.objects.select_related("conversation").aget(pk=turn_id)
    async with httpx.AsyncClient(transport=httpx.MockTransport(no_retrieval)) as client:
        await runner.turn_resume(turn=turn, owner="sweep.test", runs={}, client=client)
    turn = await relay.wait_done(turn_id)
    assert turn.status == "interrupted" and "resuming failed" in turn.error
    assert turn.output_text and done.output_text.startswith(turn.output_text)
    first = asked[0]
    assert first.method == "GET" and first.url.path == f"/v1/responses/{done.response_ids[0]}"
    assert first.url.params["starting_after"] == str(last_seq)
    assert not await bg.background_wanted(base_url)
