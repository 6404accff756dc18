"""The relay end to end in one process: API → worker → log → layer → WebSocket."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from streaming.models import ToolEntry, Turn, TurnEvent
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = "Hello [sim:markdown tps=0 deltas=40 seed=1]"
PACED = "Hello [sim:markdown tps=200 deltas=120 seed=2]"


async def test_a_turn_is_streamed_stored_and_numbered_without_gaps(relay: Relay) -> None:
    """The log runs from seq 0 without gaps, the upstream events as received, framed by
    relay events, and the row holds the folded output."""
    turn_id = await relay.start(QUICK)
    turn = await relay.wait_done(turn_id)
    stored = await relay.stored(turn_id)
    assert [e["seq"] for e in stored] == list(range(len(stored)))
    types = [e["event"]["type"] for e in stored]
    assert types[0] == "relay.request.started"
    assert types[1] == "response.created"
    assert types[-2] == "response.completed"
    assert types[-1] == "relay.turn.done"
    assert stored[-1]["event"]["status"] == "completed"
    deltas = "".join(
        e["event"]["delta"] for e in stored if e["event"]["type"].endswith("text.delta")
    )
    assert turn.status == "completed"
    assert turn.output_text == deltas and len(deltas) > 40
    assert turn.usage["output_tokens"] > 0
    assert turn.first_text_at is not None and turn.finished_at >= turn.first_text_at
    assert stored[-1]["event"]["timings"] == turn.timings
    assert turn.timings["ttft_ms"] is not None


async def test_it_replays_from_every_split_point_of_a_finished_turn(relay: Relay) -> None:
    """Whatever `after` a client gives, it receives exactly the stored events after it."""
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    stored = await relay.stored(turn_id)
    for after in range(-1, len(stored)):
        viewer = await (await relay.watch(turn_id, after=after)).read_until_closed()
        assert viewer.envelopes == stored[after + 1 :], f"after={after}"
        assert viewer.replay_done


async def test_clients_joining_mid_turn_get_replay_then_live_with_nothing_missing(
    relay: Relay,
) -> None:
    """Viewers that connect at different moments, with different `after`, each end with
    exactly the stored log after their `after`, no duplicates."""
    turn_id = await relay.start(PACED)
    viewers = []
    for _ in range(8):
        count = await TurnEvent.objects.filter(turn_id=turn_id).acount()
        for after in {-1, count - 1, max(-1, count - 5), count + 3}:
            viewers.append((after, await relay.watch(turn_id, after=after)))
        await asyncio.sleep(0.06)
    results = await asyncio.gather(*(v.read_until_closed() for _, v in viewers))
    turn = await relay.wait_done(turn_id)
    assert turn.status == "completed"
    stored = await relay.stored(turn_id)
    for (after, _), viewer in zip(viewers, results, strict=True):
        assert viewer.envelopes == stored[after + 1 :], f"after={after}"


async def test_two_viewers_receive_identical_sequences(relay: Relay) -> None:
    """Two tabs on one turn see the same events in the same order."""
    turn_id = await relay.start(PACED)
    first, second = await relay.watch(turn_id), await relay.watch(turn_id)
    a, b = await asyncio.gather(first.read_until_closed(), second.read_until_closed())
    assert a.envelopes == b.envelopes == await relay.stored(turn_id)


async def test_closing_the_tab_does_not_stop_the_turn(relay: Relay) -> None:
    """A viewer that disconnects mid-turn leaves the turn running to the end and stored."""
    turn_id = await relay.start(PACED)
    viewer = await relay.watch(turn_id)
    await viewer.communicator.receive_output(timeout=10)
    await viewer.communicator.disconnect()
    turn = await relay.wait_done(turn_id)
    assert turn.status == "completed"
    assert len(turn.output_text) > 100


async def test_cancel_closes_the_upstream_and_keeps_the_partial_output(
    relay: Relay, simulator_url: str
) -> None:
    """Cancel ends the turn `cancelled`, the simulator sees the client go, output kept."""
    turn_id = await relay.start("Story [sim:long tps=50 deltas=2000 seed=3]")
    while not await TurnEvent.objects.filter(
        turn_id=turn_id, type__endswith="text.delta"
    ).aexists():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    response = await relay.client.post(f"/api/turns/{turn_id}/cancel")
    assert response.status_code == 202
    turn = await relay.wait_done(turn_id, timeout=5)
    assert turn.status == "cancelled"
    assert turn.output_text
    stored = await relay.stored(turn_id)
    assert stored[-1]["event"] == {
        **stored[-1]["event"],
        "type": "relay.turn.done",
        "status": "cancelled",
    }
    async with httpx.AsyncClient() as client:
        for _ in range(40):
            seen = (await client.get(f"{simulator_url}/_requests")).json()
            ours = [r for r in seen if r["id"] in turn.response_ids]
            if ours and ours[0]["ended"] == "client_disconnected":
                break
            await asyncio.sleep(0.05)
    assert ours and ours[0]["ended"] == "client_disconnected"


async def test_the_next_turn_sends_the_conversation_so_far(relay: Relay) -> None:
    """A second turn in a conversation carries the first exchange as input items."""
    conversation = await relay.conversation()
    first = await relay.wait_done(await relay.start(QUICK, conversation))
    second = await relay.wait_done(
        await relay.start("And again [sim:markdown tps=0]", conversation)
    )
    assert second.status == "completed"
    from asgiref.sync import sync_to_async

    from streaming.worker.history import input_for

    items, previous = await sync_to_async(input_for)(second)
    assert previous is None
    assert items[0] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": first.input}],
    }
    assert items[1] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": first.output_text, "annotations": []}],
    }
    assert items[2]["content"] == [{"type": "input_text", "text": second.input}]


async def test_a_function_call_runs_the_tool_and_streams_on(relay: Relay) -> None:
    """function_call → tool output sent back → a second request answers with it (the
    catalogue's one function: the simulator's demo plug-in)."""
    await ToolEntry.objects.all().adelete()
    await ToolEntry.objects.acreate(
        name="get_weather",
        label="Weather",
        default=True,
        function="streaming.simulator.tools:get_weather",
    )
    turn_id = await relay.start("Weather? [sim:function-call tps=0]")
    turn = await relay.wait_done(turn_id)
    assert turn.status == "completed", turn.error
    types = [e["event"]["type"] for e in await relay.stored(turn_id)]
    assert types.count("relay.request.started") == 2
    assert types.count("relay.tool.output") == 1
    tool = next(e for e in await relay.stored(turn_id) if e["event"]["type"] == "relay.tool.output")
    assert json.loads(tool["event"]["output"])["sky"] == "clear"
    assert "clear" in turn.output_text
    assert len(turn.response_ids) == 2
    kinds = [item["type"] for item in turn.output]
    assert kinds == ["function_call", "function_call_output", "message"]
    assert turn.output[1]["output"] == tool["event"]["output"]
    assert turn.output[1]["call_id"] == turn.output[0]["call_id"]


async def test_a_second_turn_while_one_streams_is_a_conflict(relay: Relay) -> None:
    """One streaming turn per conversation: the second POST gets 409 and a message."""
    conversation = await relay.conversation()
    turn_id = await relay.start(PACED, conversation)
    response = await relay.post_turn(conversation, "again")
    assert response.status_code == 409
    assert "streaming" in response.json()["error"]
    await relay.wait_done(turn_id)
    assert (await relay.post_turn(conversation, QUICK)).status_code == 202


async def test_an_expired_lease_ends_the_turn_interrupted_with_its_output(
    relay: Relay, caplog
) -> None:
    """A turn whose worker died (lease expired) is ended `interrupted` by the sweep, its
    output rebuilt from the stored log, and its last event appended after the stored ones
    though the row's `next_seq` (saved on heartbeats) lags them."""
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    # Make it look as if the worker died just before the end.
    done = await TurnEvent.objects.filter(turn_id=turn_id).order_by("-seq").afirst()
    await TurnEvent.objects.filter(pk=done.pk).adelete()
    await Turn.objects.filter(pk=turn_id).aupdate(
        status="streaming",
        lease_owner="dead-worker",
        next_seq=1,  # as of the last heartbeat
        output_text="",
        lease_expires_at=None,
    )
    from django.utils import timezone

    await Turn.objects.filter(pk=turn_id).aupdate(lease_expires_at=timezone.now())
    turn = await relay.wait_done(turn_id, timeout=5)
    assert turn.status == "interrupted"
    assert turn.output_text and "stopped" in turn.error
    stored = await relay.stored(turn_id)
    assert stored[-1]["event"]["status"] == "interrupted"
    assert [e["seq"] for e in stored] == list(range(len(stored)))

    def said_interrupted() -> bool:  # logged once turn_finish returns, after the commit
        logged = [r for r in caplog.records if getattr(r, "turn_id", None) == str(turn_id)]
        return any("interrupted" in r.getMessage() for r in logged)

    async with asyncio.timeout(5):
        while not said_interrupted():
            await asyncio.sleep(0.02)


async def test_chaining_sends_previous_response_id_and_falls_back_when_forgotten(
    relay: Relay, settings
) -> None:
    """With chaining on, a follow-up turn sends only the new message and the previous
    response id; when the upstream no longer has that response, the full history is sent."""
    settings.RELAY_PREVIOUS_RESPONSE_ID = True
    conversation = await relay.conversation()
    first = await relay.wait_done(await relay.start(QUICK, conversation))
    second = await relay.wait_done(await relay.start("More [sim:markdown tps=0]", conversation))
    assert second.status == "completed"
    started = [
        e["event"]
        for e in await relay.stored(second.pk)
        if e["event"]["type"] == "relay.request.started"
    ]
    assert started == [
        {
            "type": "relay.request.started",
            "request": 1,
            "model": "sim-markdown",
            "previous_response_id": first.response_ids[-1],
            "background": False,
        }
    ]

    await Turn.objects.filter(pk=second.pk).aupdate(response_ids=["resp_forgotten"])
    third = await relay.wait_done(await relay.start("Again [sim:markdown tps=0]", conversation))
    assert third.status == "completed", third.error
    started = [
        e["event"]
        for e in await relay.stored(third.pk)
        if e["event"]["type"] == "relay.request.started"
    ]
    assert [s.get("previous_response_id") for s in started] == ["resp_forgotten", None]
    assert not [e for e in await relay.stored(third.pk) if e["event"]["type"] == "relay.error"]
