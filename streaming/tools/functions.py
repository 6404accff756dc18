"""Runs the function tools of a turn (plug-ins, streaming/tools/plugins.py) for the model.

A tool is a function taking the validated arguments and returning a string (anything else
is sent as JSON): a plain function runs in a thread, a coroutine function on the event loop,
so neither holds up the streams of the process; `current_user_id()` tells it whose turn it is. Unknown tools, bad arguments, a tool that raises, one that takes longer than
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
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError, to_json

log = logging.getLogger(__name__)
# Sync tools get threads of their own rather than the loop's default executor: `db()` runs the
# worker's database calls there (streaming/eventlog/store.py), and a thread cannot be stopped,
# so tools past their timeout, still running, would otherwise take the threads turns need.
TOOL_THREADS = 16
# The user whose turn calls the tool (set by the runner; a thread or task started for the
# call inherits it).
_caller: contextvars.ContextVar[Any] = contextvars.ContextVar("tool_caller", default=None)


def current_user_id() -> Any:
    """The id of the user whose turn is calling the tool (None outside a turn)."""
    return _caller.get()


def caller_set(user_id: Any) -> contextvars.Token[Any]:
    return _caller.set(user_id)


@dataclass(frozen=True)
class Tool:
    """A function the relay runs for the model; `model` (a pydantic model of its arguments,
    streaming/tools/plugins.py) validates them before the call."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., Any] | Callable[..., Awaitable[Any]]
    model: type[BaseModel] | None = None
    strict: bool = False

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": self.strict,
        }


async def tool_call(name: str, arguments: str, tools: Mapping[str, Tool]) -> str:
    """Run one of the turn's tools off the loop, within the timeout; every failure becomes
    the string the model reads, and a long output is cut."""
    tool = tools.get(name)
    if tool is None:
        return _error(f"no tool named {name!r}")
    try:
        args = _arguments(tool, arguments)
    except ValidationError as exc:
        return _error(f"bad arguments for {name}: {_problems(exc)}")
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
        try:
            output = to_json(output).decode()
        except PydanticSerializationError:
            return _error(f"{name} returned {type(output).__name__}, which is not JSON")
    return capped(output, settings.TOOL_OUTPUT_MAX_CHARS)


def _error(message: str) -> str:
    return json.dumps({"error": message})


def _arguments(tool: Tool, arguments: str) -> dict[str, Any]:
    """The parsed arguments, checked against the tool's signature before it runs, so that
    only the model's mistakes are reported with their message."""
    if tool.model is not None:
        checked = tool.model.model_validate_json(arguments or "{}")
        return {key: getattr(checked, key) for key in type(checked).model_fields}
    args = json.loads(arguments or "{}")
    if not isinstance(args, dict):
        raise TypeError("arguments must be a JSON object")
    inspect.signature(tool.run).bind(**args)
    return args


def _problems(exc: ValidationError) -> str:
    """pydantic's errors in a line each the model can act on, without the input echoed."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )


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
