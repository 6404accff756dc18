"""Every upstream fault ends the turn with the right status and a readable error, keeps what
streamed before it, and leaves the conversation usable for the next turn."""

from __future__ import annotations

import asyncio
import gc
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from streaming.models import Turn
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

NEXT = "And now? [sim:markdown tps=0 deltas=12 seed=5]"


@dataclass
class Fault:
    text: str
    status: str
    error: str  # a piece of `turn.error`, which is also the done event's `error`
    kind: str | None  # the `relay.error` kind; None when an upstream event said why
    partial_text: bool = False
    settings: dict[str, Any] = field(default_factory=dict)


FAULTS = {
    "connection-refused": Fault(
        "hi",
        "failed",
        "connection failed",
        "connect",
        settings={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"},
    ),
    "http-401": Fault("hi [sim:http-401]", "failed", "Incorrect API key provided", "http"),
    "http-500": Fault("hi [sim:http-500]", "failed", "HTTP 500", "http"),
    "timeout-before-first-event": Fault(
        "hi [sim:slow ttfb=3 tps=0]",
        "failed",
        "timed out waiting for the first event",
        "timeout",
        settings={"UPSTREAM_FIRST_EVENT_TIMEOUT": 0.4},
    ),
    "stall-after-first-event": Fault(
        "hi [sim:stall stall=5 tps=0]",
        "failed",
        "timed out waiting for the next event",
        "timeout",
        settings={"UPSTREAM_IDLE_TIMEOUT": 0.4},
    ),
    "trickle-past-idle-timeout": Fault(
        "hi [sim:markdown tps=1 ttft=0 seed=4]",
        "failed",
        "timed out waiting for the next event",
        "timeout",
        partial_text=True,
        settings={"UPSTREAM_IDLE_TIMEOUT": 0.4},
    ),
    "dropped-connection": Fault(
        "hi [sim:drop tps=0]", "failed", "closed", "closed", partial_text=True
    ),
    "malformed-json": Fault("hi [sim:malformed tps=0]", "failed", "malformed", "malformed"),
    "error-event": Fault(
        "hi [sim:error tps=0]",
        "failed",
        "The server had an error while processing your request",
        None,
        partial_text=True,
    ),
    "response-failed": Fault(
        "hi [sim:failed tps=0]",
        "failed",
        "The server had an error while processing your request",
        None,
    ),
    "response-incomplete": Fault(
        "hi [sim:incomplete tps=0]",
        "incomplete",
        "max_output_tokens",
        None,
        partial_text=True,
    ),
}


def text_deltas(stored: list[dict[str, Any]]) -> str:
    return "".join(
        e["event"]["delta"] for e in stored if e["event"]["type"] == "response.output_text.delta"
    )


def assert_readable(error: str) -> None:
    assert error.strip(), "the error is empty"
    assert "Traceback" not in error and 'File "' not in error, error
    assert len(error) < 500, error


async def assert_ended(relay: Relay, turn: Turn, status: str) -> list[dict[str, Any]]:
    """The checks every ended turn passes; returns its stored log."""
    stored = await relay.stored(str(turn.pk))
    assert turn.status == status, turn.error
    assert [e["seq"] for e in stored] == list(range(len(stored)))
    done = stored[-1]["event"]
    assert done["type"] == "relay.turn.done"
    assert done["status"] == status
    assert turn.output_text == text_deltas(stored)
    return stored


async def assert_next_turn_completes(relay: Relay, conversation: str) -> None:
    turn = await relay.wait_done(await relay.start(NEXT, conversation))
    await assert_ended(relay, turn, "completed")
    assert turn.output_text


async def seen_by_simulator(simulator_url: str, seed: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        seen = (await client.get(f"{simulator_url}/_requests")).json()
    return [r for r in seen if r["seed"] == seed]


@pytest.mark.parametrize("name", list(FAULTS))
async def test_a_fault_ends_the_turn_readably_and_the_next_turn_works(
    relay: Relay, relay_settings: Any, name: str
) -> None:
    """Each fault: the right status, a readable error that says why, the log ending in
    `relay.turn.done`, a `relay.error` with a kind unless an upstream event explained it,
    the output streamed before the fault kept; then the next turn completes."""
    fault = FAULTS[name]
    original = {key: getattr(relay_settings, key) for key in fault.settings}
    for key, value in fault.settings.items():
        setattr(relay_settings, key, value)
    conversation = await relay.conversation()
    turn = await relay.wait_done(await relay.start(fault.text, conversation))

    stored = await assert_ended(relay, turn, fault.status)
    assert_readable(turn.error)
    assert fault.error in turn.error
    assert stored[-1]["event"].get("error") == turn.error
    relay_errors = [e["event"] for e in stored if e["event"]["type"] == "relay.error"]
    if fault.kind is None:
        assert relay_errors == []
        assert any(not e["event"]["type"].startswith("relay.") for e in stored)
    else:
        assert [e["kind"] for e in relay_errors] == [fault.kind]
        assert relay_errors[0]["message"] == turn.error
    if fault.partial_text:
        assert turn.output_text, "the text streamed before the fault was lost"

    for key, value in original.items():
        setattr(relay_settings, key, value)
    await assert_next_turn_completes(relay, conversation)


async def test_events_before_a_malformed_frame_are_stored(relay: Relay) -> None:
    """The good frames before the unreadable one are kept in order, then the error."""
    turn = await relay.wait_done(await relay.start("hi [sim:malformed tps=0]"))
    stored = await assert_ended(relay, turn, "failed")
    types = [e["event"]["type"] for e in stored]
    assert types[:3] == ["relay.request.started", "response.created", "response.in_progress"]
    assert len([t for t in types if not t.startswith("relay.")]) == 4
    assert types[-2:] == ["relay.error", "relay.turn.done"]


async def test_the_two_timeouts_say_different_things(relay: Relay, relay_settings: Any) -> None:
    """A silent upstream and one that went quiet mid-stream are told apart."""
    relay_settings.UPSTREAM_FIRST_EVENT_TIMEOUT = 0.4
    relay_settings.UPSTREAM_IDLE_TIMEOUT = 0.4
    before = await relay.wait_done(await relay.start("hi [sim:slow ttfb=3 tps=0]"))
    after = await relay.wait_done(await relay.start("hi [sim:stall stall=5 tps=0]"))
    assert before.status == after.status == "failed"
    assert before.error != after.error
    assert "first" in before.error and "next" in after.error
    assert before.first_event_at is None and after.first_event_at is not None


async def test_rate_limited_until_retries_run_out_fails_with_429(
    relay: Relay, relay_settings: Any, simulator_url: str
) -> None:
    """429 on every attempt: the relay retries `UPSTREAM_MAX_RETRIES` times, then fails
    saying 429; the conversation goes on."""
    relay_settings.UPSTREAM_MAX_RETRIES = 2
    relay_settings.UPSTREAM_RETRY_BASE_DELAY = 0.01
    seed = random.randrange(10**6, 10**9)
    conversation = await relay.conversation()
    text = f"hi [sim:http-429 retry_after=0 seed={seed}]"
    turn = await relay.wait_done(await relay.start(text, conversation))
    stored = await assert_ended(relay, turn, "failed")
    assert_readable(turn.error)
    assert "429" in turn.error
    errors = [e["event"] for e in stored if e["event"]["type"] == "relay.error"]
    assert [(e["kind"], e["status"]) for e in errors] == [("http", 429)]
    assert len(await seen_by_simulator(simulator_url, seed)) == 3
    await assert_next_turn_completes(relay, conversation)


async def test_a_passing_429_is_retried_and_the_turn_completes(
    relay: Relay, relay_settings: Any, simulator_url: str
) -> None:
    """flaky-429 refuses the first request for a seed: the retry completes the turn, and
    the user never sees the 429."""
    relay_settings.UPSTREAM_MAX_RETRIES = 2
    relay_settings.UPSTREAM_RETRY_BASE_DELAY = 0.01
    seed = random.randrange(10**6, 10**9)
    turn = await relay.wait_done(
        await relay.start(f"hi [sim:flaky-429 seed={seed} retry_after=0 tps=0]")
    )
    stored = await assert_ended(relay, turn, "completed")
    assert turn.error == ""
    assert turn.output_text
    types = [e["event"]["type"] for e in stored]
    assert "relay.error" not in types
    assert types.count("relay.request.started") == 1
    seen = await seen_by_simulator(simulator_url, seed)
    assert [r["ended"] for r in seen] == ["http_429", "completed"]


async def test_no_retry_after_the_stream_started(
    relay: Relay, relay_settings: Any, simulator_url: str
) -> None:
    """A stream that breaks after its first event is not retried: the user has seen it."""
    relay_settings.UPSTREAM_MAX_RETRIES = 2
    relay_settings.UPSTREAM_RETRY_BASE_DELAY = 0.01
    seed = random.randrange(10**6, 10**9)
    turn = await relay.wait_done(await relay.start(f"hi [sim:drop tps=0 seed={seed}]"))
    await assert_ended(relay, turn, "failed")
    assert len(await seen_by_simulator(simulator_url, seed)) == 1


async def test_a_turn_that_ends_on_a_fault_leaves_no_task_failing_behind(relay: Relay) -> None:
    """The log's flush timer stops with the turn: nothing flushes after the final write
    (which would find the lease released and die with an unretrieved `LeaseLost`)."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        for _ in range(3):
            await relay.wait_done(await relay.start("hi [sim:http-500]"))
        await asyncio.sleep(0.2)  # longer than RELAY_FLUSH_INTERVAL
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("exception") for c in unhandled] == []
