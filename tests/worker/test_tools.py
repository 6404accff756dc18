"""Tool calls inside turns: a slow tool holds up only its own turn, a failing or slow one is
an output the model reads (the turn completes), and several calls run at once but are logged
in call order."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from streaming.models import ToolEntry
from streaming.simulator.params import parse_params
from streaming.simulator.scenarios import SCENARIOS, build_events
from streaming.tools.plugins import plugin_load
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

CALL = "Weather? [sim:function-call tps=0]"
TWO_CALLS = "Weather twice? [sim:parallel-calls tps=0 seed=11]"
STREAMING = "Meanwhile [sim:markdown tps=100 ttft=0 deltas=30 seed=3]"
PLUGIN = "tests.worker.test_tools:weather_plugin"
BEHAVIOUR: dict[str, Any] = {}


def weather_plugin(location: str, unit: str = "celsius") -> str:
    """The weather for a place (what it does is the test's)."""
    return BEHAVIOUR["run"](location, unit)


@pytest.fixture
def weather():
    """The catalogue holds one function, `get_weather`, on by default, whose body the test
    chooses: the simulator's call scenarios call the functions a request offers."""
    ToolEntry.objects.all().delete()
    ToolEntry.objects.create(name="get_weather", label="Weather", function=PLUGIN, default=True)

    def use(run: Any) -> None:
        BEHAVIOUR["run"] = run

    yield use
    BEHAVIOUR.clear()


async def tool_outputs(relay: Relay, turn_id: str) -> list[dict[str, Any]]:
    stored = await relay.stored(turn_id)
    return [e["event"] for e in stored if e["event"]["type"] == "relay.tool.output"]


async def until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_tool_that_blocks_does_not_delay_another_turns_events(
    relay: Relay, weather
) -> None:
    """While one turn's tool blocks its thread (as a tool doing I/O would), another turn
    streams all its events and completes; then the first completes with the tool's output."""
    entered, release = threading.Event(), threading.Event()
    left: list[float] = []

    def blocking(location: str, unit: str = "celsius") -> str:
        entered.set()
        release.wait(10)
        left.append(time.time())
        return json.dumps({"location": location, "sky": "foggy"})

    weather(blocking)
    calling = await relay.start(CALL)
    await until(entered.is_set)
    other = await relay.wait_done(await relay.start(STREAMING))
    assert other.status == "completed", other.error
    assert not left, "the other turn finished only after the tool returned"
    release.set()
    first = await relay.wait_done(calling)
    assert first.status == "completed", first.error
    assert other.finished_at.timestamp() < left[0]
    assert len([e for e in await relay.stored(other.pk) if "delta" in e["event"]]) == 30
    assert "foggy" in first.output_text


async def test_a_tool_past_its_timeout_is_an_output_and_the_turn_goes_on(
    relay: Relay, weather, settings
) -> None:
    settings.TOOL_TIMEOUT_SECONDS = 0.3
    release = threading.Event()
    weather(lambda location, unit="celsius": "late" if release.wait(10) else "never")
    try:
        turn = await relay.wait_done(await relay.start(CALL))
    finally:
        release.set()
    assert turn.status == "completed", turn.error
    [output] = await tool_outputs(relay, turn.pk)
    assert json.loads(output["output"]) == {"error": "get_weather did not answer within 0.3 s"}
    assert turn.output[1]["output"] == output["output"]  # what the next request sent


async def test_a_tool_that_raises_is_an_output_and_the_turn_goes_on(relay: Relay, weather) -> None:
    def broken(location: str, unit: str = "celsius") -> str:
        raise ConnectionError("weather service down")

    weather(broken)
    turn = await relay.wait_done(await relay.start(CALL))
    assert turn.status == "completed", turn.error
    [output] = await tool_outputs(relay, turn.pk)
    assert json.loads(output["output"]) == {"error": "get_weather failed: ConnectionError"}
    assert "ConnectionError" in turn.output_text  # the model read it


async def test_a_long_output_is_cut_before_it_is_logged_and_sent(
    relay: Relay, weather, settings
) -> None:
    settings.TOOL_OUTPUT_MAX_CHARS = 50
    weather(lambda location, unit="celsius": "sunny " * 100)
    turn = await relay.wait_done(await relay.start(CALL))
    [output] = await tool_outputs(relay, turn.pk)
    assert output["output"] == ("sunny " * 100)[:50] + "\n[output cut: 50 of 600 characters shown]"
    assert turn.output[1]["output"] == output["output"]


def first_city(text: str) -> str:
    """The location of the first call the simulator makes for this input (seeded)."""
    schema = plugin_load(PLUGIN, name="get_weather").schema()
    request = {"input": text, "tools": [schema]}
    events = build_events(request, parse_params(request, SCENARIOS))
    call = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    return json.loads(call["arguments"])["location"]


async def test_a_turns_calls_run_at_once_and_are_logged_in_call_order(
    relay: Relay, weather
) -> None:
    """The first call waits until the second has started, and ends last: still the log and
    the next request have the outputs in the order of the calls."""
    first, overlapped, second_started = first_city(TWO_CALLS), [], threading.Event()

    def weather_of(location: str, unit: str = "celsius") -> str:
        if location == first:
            overlapped.append(second_started.wait(5))
            time.sleep(0.2)
        else:
            second_started.set()
        return json.dumps({"location": location})

    weather(weather_of)
    turn = await relay.wait_done(await relay.start(TWO_CALLS))
    assert turn.status == "completed", turn.error
    assert overlapped == [True], "the second call did not start while the first ran"
    calls = [item for item in turn.output if item["type"] == "function_call"]
    assert json.loads(calls[0]["arguments"])["location"] == first
    outputs = await tool_outputs(relay, turn.pk)
    assert [o["call_id"] for o in outputs] == [c["call_id"] for c in calls]
    cities = [json.loads(c["arguments"])["location"] for c in calls]
    assert [json.loads(o["output"])["location"] for o in outputs] == cities
