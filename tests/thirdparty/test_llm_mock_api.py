"""The relay against llm-mock-api 0.1.2, a Responses server from another project (PyPI),
running as its own process: turns end to end through the worker, the log and the row.

What the server received is read from its debug log, which gives, per request, how many
input items it parsed (`messages=N`) and the last user message. It cannot answer from
what a tool returned or from earlier turns (its rules match the last user message only), so
those tests check what it was sent, and our side of the round trip.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from streaming.models import ToolEntry, TurnEvent
from tests.relay_harness import Relay
from tests.thirdparty.servers import ServerProcess

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST = re.compile(r"responses request: model=\S+ streaming=(\w+) messages=(\d+)")
STORY = (
    "Once upon a time a relay streamed every word of a story to a browser, one small piece"
    " after another, until someone pressed stop."
)


def requests_seen(server: ServerProcess) -> list[tuple[bool, int]]:
    """(streamed, input items parsed) for every /v1/responses request, in order."""
    found = [REQUEST.search(line) for line in server.log()]
    return [(m[1] == "True", int(m[2])) for m in found if m]


async def first_text_delta(turn_id: str, timeout: float = 20) -> None:
    """Return once the worker has stored a text delta of the turn."""
    deadline = time.monotonic() + timeout
    deltas = TurnEvent.objects.filter(turn_id=turn_id, type="response.output_text.delta")
    while not await deltas.aexists():
        assert time.monotonic() < deadline, "no text was streamed"
        await asyncio.sleep(0.05)


async def test_a_turn_completes_with_the_servers_text(
    relay: Relay, llm_mock_api: ServerProcess
) -> None:
    turn_id = await relay.start("hello relay")
    turn = await relay.wait_done(turn_id)
    assert turn.status == "completed", turn.error
    assert turn.output_text == "Hello from llm-mock-api."
    stored = await relay.stored(turn_id)
    assert [e["seq"] for e in stored] == list(range(len(stored)))
    types = [e["event"]["type"] for e in stored]
    assert types[:3] == ["relay.request.started", "response.created", "response.in_progress"]
    assert types[-2:] == ["response.completed", "relay.turn.done"]
    assert stored[-1]["event"]["status"] == "completed"
    assert turn.usage["input_tokens"] == 10 and turn.usage["output_tokens"] == 5  # its usage
    assert requests_seen(llm_mock_api) == [(True, 1)]


async def test_the_second_turn_carries_the_first(relay: Relay, llm_mock_api: ServerProcess) -> None:
    conversation = await relay.conversation()
    first = await relay.wait_done(await relay.start("remember the word zebra", conversation))
    second = await relay.wait_done(await relay.start("which word was it?", conversation))
    assert (first.status, second.status) == ("completed", "completed"), second.error
    assert second.output_text == "You told me a word."
    # The first turn's message and answer went before the second's message.
    assert requests_seen(llm_mock_api) == [(True, 1), (True, 3)]
    assert 'POST /v1/responses [stream] "which word was it?"' in "\n".join(llm_mock_api.log())


async def test_a_function_call_runs_our_plugin_and_its_output_goes_back(
    relay: Relay, llm_mock_api: ServerProcess
) -> None:
    """The server calls `current_time`; the worker runs our built-in, logs its output, and
    the next request carries the call and its output; the server's answer ends the turn."""
    await ToolEntry.objects.all().adelete()
    await ToolEntry.objects.acreate(
        name="current_time",
        label="Time",
        function="streaming.tools.builtins:current_time",
        default=True,
    )
    turn = await relay.wait_done(await relay.start("what time is it?"))
    assert turn.status == "completed", turn.error
    stored = [e["event"] for e in await relay.stored(turn.pk)]
    [output] = [e for e in stored if e["type"] == "relay.tool.output"]
    assert json.loads(output["output"])["timezone"] == "UTC"
    assert "now" in json.loads(output["output"])
    [call] = [i for i in turn.output if i.get("type") == "function_call"]
    assert call["name"] == "current_time" and output["call_id"] == call["call_id"]
    assert len(turn.response_ids) == 2
    assert turn.output_text.endswith("The tool has answered.")
    # The second request: the user's message, the text before the call, the call, its output.
    assert requests_seen(llm_mock_api) == [(True, 1), (True, 4)]


async def test_reasoning_is_streamed_and_kept(relay: Relay, llm_mock_api: ServerProcess) -> None:
    turn = await relay.wait_done(await relay.start("think first"))
    assert turn.status == "completed", turn.error
    stored = [e["event"] for e in await relay.stored(turn.pk)]
    deltas = [e["delta"] for e in stored if e["type"] == "response.reasoning_summary_text.delta"]
    assert deltas == ["The user wants me to think."]
    reasoning, message = turn.output
    assert reasoning["type"] == "reasoning"
    assert reasoning["summary"] == [{"type": "summary_text", "text": "The user wants me to think."}]
    assert message["type"] == "message" and turn.output_text == "I thought."


async def test_cancel_mid_stream_keeps_the_partial_text(
    relay: Relay, llm_mock_api: ServerProcess
) -> None:
    turn_id = await relay.start("tell a long story")
    await first_text_delta(turn_id)
    response = await relay.client.post(f"/api/turns/{turn_id}/cancel")
    assert response.status_code == 202
    turn = await relay.wait_done(turn_id)
    assert turn.status == "cancelled"
    assert turn.output_text and STORY.startswith(turn.output_text)
    assert len(turn.output_text) < len(STORY)
    stored = await relay.stored(turn_id)
    assert stored[-1]["event"]["type"] == "relay.turn.done"
    assert stored[-1]["event"]["status"] == "cancelled"
    assert not [e for e in stored if e["event"]["type"] == "response.completed"]
