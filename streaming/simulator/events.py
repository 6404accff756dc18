"""Wire-shaped Responses API events for the simulator.

`ResponseBuilder` appends events in the order OpenAI streams them, numbers them from 0 and
keeps the output items as their `response.output_item.done` carried them, so the terminal
response's `output` is exactly what folding the stream gives.
"""

from __future__ import annotations

import copy
import random
import string
from collections.abc import Sequence
from typing import Any

Event = dict[str, Any]

_ALNUM = string.ascii_letters + string.digits
_SEARCH_STEPS = ["in_progress", "searching", "completed"]


class IdMaker:
    """Realistic ids: `resp_` and friends take 50 hex digits, `call_` 24 alphanumerics."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def hex(self, prefix: str) -> str:
        return f"{prefix}_{self._rng.getrandbits(200):050x}"

    def alnum(self, prefix: str, size: int = 24) -> str:
        return prefix + "".join(self._rng.choice(_ALNUM) for _ in range(size))


def _tool_echo(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") == "mcp":  # as OpenAI does: the credentials are not echoed
        return {k: v for k, v in tool.items() if k not in ("headers", "authorization")}
    if tool.get("type") != "function":
        return tool
    return {
        "type": "function",
        "description": tool.get("description"),
        "name": tool.get("name"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict", True),
    }


def base_response(request: dict[str, Any], response_id: str, created_at: int) -> dict[str, Any]:
    """The response object as `response.created` shows it, echoing the request's settings."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": bool(request.get("background", False)),
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "model": request.get("model") or "sim-markdown",
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "auto",
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": [_tool_echo(t) for t in request.get("tools") or [] if isinstance(t, dict)],
        "top_logprobs": 0,
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": request.get("metadata") or {},
    }


class ResponseBuilder:
    """Appends one response's events; each item method streams one complete output item."""

    def __init__(
        self, request: dict[str, Any], *, ids: IdMaker, created_at: int, input_tokens: int
    ):
        self.ids = ids
        self.events: list[Event] = []
        self.output: list[dict[str, Any]] = []
        self.output_tokens = 0
        self.reasoning_tokens = 0
        self.input_tokens = input_tokens
        self.response = base_response(request, ids.hex("resp"), created_at)
        # Files a hosted tool made: (container id, file id) → (name, bytes).
        self.files: dict[tuple[str, str], tuple[str, bytes]] = {}

    def emit(self, type_: str, **fields: Any) -> Event:
        event = {"type": type_, "sequence_number": len(self.events), **fields}
        self.events.append(event)
        return event

    def snapshot(self, status: str, **changes: Any) -> dict[str, Any]:
        return {**self.response, "status": status, "output": copy.deepcopy(self.output), **changes}

    def start(self) -> None:
        self.emit("response.created", response=self.snapshot("in_progress"))
        self.emit("response.in_progress", response=self.snapshot("in_progress"))

    def _usage(self) -> dict[str, Any]:
        output = self.output_tokens + self.reasoning_tokens
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + output,
        }

    def finish(self, status: str = "completed", **changes: Any) -> Event:
        """The terminal event: `response.completed`, `response.incomplete` or `response.failed`."""
        created_at = self.response["created_at"]
        done = {
            "usage": self._usage(),
            "completed_at": created_at if status == "completed" else None,
        }
        return self.emit(f"response.{status}", response=self.snapshot(status, **done, **changes))

    def error(self, code: str, message: str) -> Event:
        return self.emit("error", code=code, message=message, param=None)

    def item_added(self, item: dict[str, Any]) -> int:
        """Open an output item (for item kinds built outside this class); its index."""
        return self._added(item)

    def item_done(self, index: int, item: dict[str, Any]) -> None:
        self._done(index, item)

    def _added(self, item: dict[str, Any]) -> int:
        index = len(self.output)
        self.emit("response.output_item.added", output_index=index, item=copy.deepcopy(item))
        return index

    def _done(self, index: int, item: dict[str, Any]) -> None:
        self.output.append(item)
        self.emit("response.output_item.done", output_index=index, item=copy.deepcopy(item))

    def _open_message(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        item = {"id": self.ids.hex("msg"), "type": "message", "status": "in_progress"}
        index = self._added({**item, "content": [], "role": "assistant"})
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        part: dict[str, Any] = {
            "type": "output_text",
            "annotations": [],
            "logprobs": [],
            "text": "",
        }
        self.emit("response.content_part.added", **where, part=copy.deepcopy(part))
        return item, where, part

    def partial_message(self, deltas: list[str]) -> None:
        """A message that is cut off after its deltas: no done events follow."""
        _, where, _ = self._open_message()
        for delta in deltas:
            self.emit("response.output_text.delta", **where, delta=delta, logprobs=[])

    def message(
        self,
        deltas: list[str],
        *,
        annotations: Sequence[tuple[int, dict[str, Any]]] = (),
        status: str = "completed",
    ) -> None:
        """An assistant message; each annotation is sent after the delta whose index it names."""
        item, where, part = self._open_message()
        for n, delta in enumerate(deltas):
            self.emit("response.output_text.delta", **where, delta=delta, logprobs=[])
            for after, annotation in annotations:
                if after == n:
                    self._annotate(where, part, annotation)
        part["text"] = "".join(deltas)
        self.output_tokens += len(deltas)
        self.emit("response.output_text.done", **where, text=part["text"], logprobs=[])
        self.emit("response.content_part.done", **where, part=copy.deepcopy(part))
        content = {"content": [part], "role": "assistant"}
        self._done(where["output_index"], {**item, "status": status, **content})

    def _annotate(self, where: dict[str, Any], part: dict[str, Any], annotation: dict) -> None:
        number = len(part["annotations"])
        part["annotations"].append(annotation)
        self.emit(
            "response.output_text.annotation.added",
            **where,
            annotation_index=number,
            annotation=copy.deepcopy(annotation),
        )

    def refusal(self, deltas: list[str]) -> None:
        item = {"id": self.ids.hex("msg"), "type": "message", "status": "in_progress"}
        index = self._added({**item, "content": [], "role": "assistant"})
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        self.emit("response.content_part.added", **where, part={"type": "refusal", "refusal": ""})
        for delta in deltas:
            self.emit("response.refusal.delta", **where, delta=delta)
        part = {"type": "refusal", "refusal": "".join(deltas)}
        self.output_tokens += len(deltas)
        self.emit("response.refusal.done", **where, refusal=part["refusal"])
        self.emit("response.content_part.done", **where, part=copy.deepcopy(part))
        self._done(index, {**item, "status": "completed", "content": [part], "role": "assistant"})

    def function_call(self, name: str, argument_deltas: list[str]) -> None:
        item = {"id": self.ids.hex("fc"), "type": "function_call", "status": "in_progress"}
        tail = {"call_id": self.ids.alnum("call_"), "name": name}
        index = self._added({**item, "arguments": "", **tail})
        where = {"item_id": item["id"], "output_index": index}
        for delta in argument_deltas:
            self.emit("response.function_call_arguments.delta", **where, delta=delta)
        arguments = "".join(argument_deltas)
        self.output_tokens += len(argument_deltas)
        self.emit("response.function_call_arguments.done", **where, arguments=arguments)
        self._done(index, {**item, "status": "completed", "arguments": arguments, **tail})

    def reasoning(self, summaries: list[list[str]]) -> None:
        item_id = self.ids.hex("rs")
        index = self._added({"id": item_id, "type": "reasoning", "summary": []})
        parts = []
        for number, deltas in enumerate(summaries):
            where = {"item_id": item_id, "output_index": index, "summary_index": number}
            empty = {"type": "summary_text", "text": ""}
            self.emit("response.reasoning_summary_part.added", **where, part=empty)
            for delta in deltas:
                self.emit("response.reasoning_summary_text.delta", **where, delta=delta)
            part = {"type": "summary_text", "text": "".join(deltas)}
            self.emit("response.reasoning_summary_text.done", **where, text=part["text"])
            self.emit("response.reasoning_summary_part.done", **where, part=dict(part))
            parts.append(part)
            self.reasoning_tokens += 3 * len(deltas)
        self._done(index, {"id": item_id, "type": "reasoning", "summary": parts})

    def _hosted_call(self, prefix: str, kind: str, start: dict, end: dict, steps: list) -> None:
        """A built-in tool call whose progress is only status events (file and web search)."""
        item = {"id": self.ids.hex(prefix), "type": kind, "status": "in_progress"}
        index = self._added({**item, **start})
        for step in steps:
            self.emit(f"response.{kind}.{step}", output_index=index, item_id=item["id"])
        self._done(index, {**item, "status": "completed", **end})

    def file_search(self, queries: list[str], results: list[dict[str, Any]]) -> None:
        start = {"queries": [], "results": None}
        end = {"queries": queries, "results": results}
        self._hosted_call("fs", "file_search_call", start, end, _SEARCH_STEPS)

    def web_search(self, query: str, urls: list[str]) -> None:
        sources = [{"type": "url", "url": url} for url in urls]
        start = {"action": {"type": "search"}}
        end = {"action": {"type": "search", "query": query, "sources": sources}}
        self._hosted_call("ws", "web_search_call", start, end, _SEARCH_STEPS)

    def code_interpreter(self, code_deltas: list[str], logs: str) -> str:
        """A `code_interpreter_call`; its container's id."""
        item = {"id": self.ids.hex("ci"), "type": "code_interpreter_call", "status": "in_progress"}
        container = {"container_id": self.ids.hex("cntr")}
        index = self._added({**item, "code": "", **container, "outputs": []})
        where = {"output_index": index, "item_id": item["id"]}
        self.emit("response.code_interpreter_call.in_progress", **where)
        for delta in code_deltas:
            self.emit("response.code_interpreter_call_code.delta", **where, delta=delta)
        code = "".join(code_deltas)
        self.output_tokens += len(code_deltas)
        self.emit("response.code_interpreter_call_code.done", **where, code=code)
        self.emit("response.code_interpreter_call.interpreting", **where)
        self.emit("response.code_interpreter_call.completed", **where)
        outputs = [{"type": "logs", "logs": logs}]
        self._done(
            index, {**item, "status": "completed", "code": code, **container, "outputs": outputs}
        )
        return container["container_id"]
