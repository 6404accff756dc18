"""Calling a function tool: off the event loop, within a timeout, its output capped, and every
failure an output string the model can read."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from streaming.tools import functions
from streaming.tools.functions import Tool
from streaming.tools.plugins import plugin_load

SCHEMA = {"type": "object", "properties": {}, "required": []}
TOOLS: dict[str, Tool] = {}


async def tool_call(name: str, arguments: str) -> str:
    return await functions.tool_call(name, arguments, TOOLS)


@pytest.fixture
def register():
    """A test-only tool among the turn's tools, for this test."""

    def add(name: str, run: Any) -> None:
        TOOLS[name] = Tool(name, "a test tool", SCHEMA, run)

    yield add
    TOOLS.clear()


def error_of(output: str) -> str:
    return json.loads(output)["error"]


async def test_a_sync_tool_runs_in_a_thread_while_the_loop_goes_on(register) -> None:
    """A blocking tool (here `time.sleep`) leaves the event loop free: a ticker keeps ticking."""
    threads = []

    def blocking() -> str:
        threads.append(threading.get_ident())
        time.sleep(0.5)
        return "slept"

    register("blocking", blocking)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        assert await tool_call("blocking", "{}") == "slept"
    finally:
        ticking.cancel()
    assert ticks >= 20  # the loop ran all along, not only after the tool
    assert threads != [threading.get_ident()]


async def test_a_coroutine_tool_is_awaited_on_the_loop(register) -> None:
    threads = []

    async def waiting(seconds: float) -> str:
        threads.append(threading.get_ident())
        await asyncio.sleep(seconds)
        return f"waited {seconds}"

    register("waiting", waiting)
    assert await tool_call("waiting", '{"seconds": 0.01}') == "waited 0.01"
    assert threads == [threading.get_ident()]


async def test_a_sync_tool_past_the_timeout_answers_an_error_at_the_timeout(
    register, settings
) -> None:
    settings.TOOL_TIMEOUT_SECONDS = 0.2
    release = threading.Event()
    register("stuck", lambda: "late" if release.wait(5) else "never")
    started = time.monotonic()
    try:
        output = await tool_call("stuck", "{}")
    finally:
        release.set()
    assert time.monotonic() - started < 1
    assert error_of(output) == "stuck did not answer within 0.2 s"


async def test_a_coroutine_tool_past_the_timeout_is_cancelled(register, settings) -> None:
    settings.TOOL_TIMEOUT_SECONDS = 0.1
    cancelled = asyncio.Event()

    async def forever() -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    register("forever", forever)
    assert error_of(await tool_call("forever", "{}")) == "forever did not answer within 0.1 s"
    assert cancelled.is_set()


async def test_a_tool_that_raises_answers_with_the_type_only(register, caplog) -> None:
    """The message of an exception may carry what the tool was given: it reaches neither the
    model nor the log."""

    def failing() -> str:
        raise RuntimeError("could not reach https://user:sk-secret@example.test")

    register("failing", failing)
    output = await tool_call("failing", "{}")
    assert error_of(output) == "failing failed: RuntimeError"
    assert "sk-secret" not in output and "sk-secret" not in caplog.text
    assert "failing raised RuntimeError" in caplog.text


async def test_a_timeout_error_of_the_tools_own_is_a_failure_not_our_timeout(register) -> None:
    def timing_out() -> str:
        raise TimeoutError("the tool's own socket timed out")

    register("timing_out", timing_out)
    assert error_of(await tool_call("timing_out", "{}")) == "timing_out failed: TimeoutError"


async def test_a_tool_that_returns_no_string_answers_json_or_an_error(register) -> None:
    """What is not a string is sent as JSON; what JSON cannot hold is an error."""
    register("numbers", lambda: {"answer": 42})
    assert json.loads(await tool_call("numbers", "{}")) == {"answer": 42}
    register("opaque", lambda: object())
    assert error_of(await tool_call("opaque", "{}")) == "opaque returned object, which is not JSON"


async def test_output_past_the_cap_is_cut_and_says_so(register, settings) -> None:
    settings.TOOL_OUTPUT_MAX_CHARS = 10
    register("wordy", lambda size: "x" * size)
    assert await tool_call("wordy", '{"size": 10}') == "x" * 10
    output = await tool_call("wordy", '{"size": 25}')
    assert output == "x" * 10 + "\n[output cut: 10 of 25 characters shown]"


@pytest.mark.parametrize(
    "arguments, message",
    [
        ("[1]", "arguments: Input should be an object"),
        ("{not json", "arguments: Invalid JSON"),
        ('{"unit": "celsius"}', "location: Field required"),
        ('{"location": "Oslo", "colour": "red"}', "colour: Extra inputs are not permitted"),
        ('{"location": "Oslo", "unit": "kelvin"}', "unit: Input should be 'celsius' or"),
    ],
)
async def test_bad_arguments_answer_what_is_wrong_without_running_the_tool(
    arguments: str, message: str, monkeypatch
) -> None:
    """The plug-in's own pydantic model (from its signature) checks the arguments first."""
    ran = []
    weather = plugin_load("streaming.simulator.tools:get_weather", name="get_weather")
    TOOLS[weather.name] = weather
    monkeypatch.setattr(functions, "_invoke", lambda *args: ran.append(args))
    output = await tool_call(weather.name, arguments)
    assert error_of(output).startswith("bad arguments for get_weather: ")
    assert message in error_of(output)
    assert ran == []


async def test_an_unknown_tool_answers_an_error() -> None:
    assert error_of(await tool_call("launch", "{}")) == "no tool named 'launch'"


async def test_the_built_in_current_time_answers() -> None:
    TOOLS["current_time"] = plugin_load("streaming.tools.builtins:current_time", name="now")
    assert json.loads(await tool_call("current_time", '{"timezone": "UTC"}'))["timezone"] == "UTC"
    unknown = json.loads(await tool_call("current_time", '{"timezone": "Mars/Base"}'))
    assert unknown == {"error": "unknown time zone 'Mars/Base'"}
