"""Function tools the relay can run for the model, and their JSON schemas.

A tool is a function taking the parsed arguments and returning a string: a plain function
runs in a thread, a coroutine function on the event loop, so neither holds up the streams of
the process. Unknown tools, bad arguments, a tool that raises, one that takes longer than
`TOOL_TIMEOUT_SECONDS`: each answers the model with an error string instead of failing the
turn, which is what the model needs to recover. Output past `TOOL_OUTPUT_MAX_CHARS` is cut.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import logging
import zoneinfo
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)
# Sync tools get threads of their own rather than the loop's default executor: `db()` runs the
# worker's database calls there (streaming/eventlog/store.py), and a thread cannot be stopped,
# so tools past their timeout, still running, would otherwise take the threads turns need.
TOOL_THREADS = 16


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., str] | Callable[..., Awaitable[str]]

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


def _get_weather(location: str, unit: str = "celsius") -> str:
    # A deterministic stand-in: the point is the round trip, not the forecast.
    degrees = 10 + sum(map(ord, location.lower())) % 20
    if unit == "fahrenheit":
        degrees = round(degrees * 9 / 5 + 32)
    return json.dumps({"location": location, "temperature": degrees, "unit": unit, "sky": "clear"})


def _current_time(timezone: str = "UTC") -> str:
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return json.dumps({"error": f"unknown time zone {timezone!r}"})
    return json.dumps({"timezone": timezone, "now": datetime.now(zone).isoformat()})


REGISTRY: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "get_weather",
            "Current weather for a place.",
            {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
            _get_weather,
        ),
        Tool(
            "current_time",
            "The current time in an IANA time zone.",
            {
                "type": "object",
                "properties": {"timezone": {"type": "string"}},
                "required": [],
            },
            _current_time,
        ),
    )
}


def tool_schemas() -> list[dict[str, Any]]:
    return [tool.schema() for tool in REGISTRY.values()]


async def tool_call(name: str, arguments: str) -> str:
    """Run a registered tool off the loop, within the timeout; every failure becomes the
    string the model reads, and a long output is cut."""
    tool = REGISTRY.get(name)
    if tool is None:
        return _error(f"no tool named {name!r}")
    try:
        args = _arguments(tool, arguments)
    except (ValueError, TypeError) as exc:
        return _error(f"bad arguments for {name}: {exc}")
    timeout = settings.TOOL_TIMEOUT_SECONDS
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            output = await _invoke(tool.run, args)
    except Exception as exc:
        if deadline.expired():  # not a TimeoutError of the tool's own
            return _error(f"{name} did not answer within {timeout:g} s")
        # The type only: a message may carry what the tool was given (a URL, a secret).
        log.warning("tool %s raised %s", name, type(exc).__name__)
        return _error(f"{name} failed: {type(exc).__name__}")
    if not isinstance(output, str):
        return _error(f"{name} returned {type(output).__name__}, not a string")
    return capped(output, settings.TOOL_OUTPUT_MAX_CHARS)


def _error(message: str) -> str:
    return json.dumps({"error": message})


def _arguments(tool: Tool, arguments: str) -> dict[str, Any]:
    """The parsed arguments, checked against the tool's signature before it runs, so that
    only the model's mistakes are reported with their message."""
    args = json.loads(arguments or "{}")
    if not isinstance(args, dict):
        raise TypeError("arguments must be a JSON object")
    inspect.signature(tool.run).bind(**args)
    return args


async def _invoke(run: Callable[..., Any], args: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(run):
        return await run(**args)
    context = contextvars.copy_context()  # as asyncio.to_thread does
    call = functools.partial(context.run, run, **args)
    return await asyncio.get_running_loop().run_in_executor(_threads(), call)


@functools.cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=TOOL_THREADS, thread_name_prefix="tool")


def capped(output: str, limit: int) -> str:
    """The output, or its first `limit` characters and a line saying it was cut."""
    if len(output) <= limit:
        return output
    return output[:limit] + f"\n[output cut: {limit} of {len(output)} characters shown]"
