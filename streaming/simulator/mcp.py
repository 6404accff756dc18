"""The simulator's remote MCP server, streamed as OpenAI streams it (see the recorded
`mcp__*.sse` streams): `mcp_list_tools`, then either an `mcp_call` (arguments streamed,
output) or, when the tool's `require_approval` asks for it, an `mcp_approval_request` that
ends the response; a later request whose input answers it with `mcp_approval_response`
gets the call (approved) or a message saying it was not made (denied)."""

from __future__ import annotations

import json
from typing import Any

from streaming.simulator.events import ResponseBuilder

TOOL = {
    "name": "search_docs",
    "description": "Search the team's documentation.",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    "annotations": {"read_only": True},
}


def list_tools(out: ResponseBuilder, server: str) -> None:
    item = {"id": out.ids.hex("mcpl"), "type": "mcp_list_tools", "server_label": server}
    index = out.item_added({**item, "tools": []})
    where = {"output_index": index, "item_id": item["id"]}
    out.emit("response.mcp_list_tools.in_progress", **where)
    out.emit("response.mcp_list_tools.completed", **where)
    out.item_done(index, {**item, "tools": [TOOL]})


def approval_request(out: ResponseBuilder, server: str, arguments: str) -> None:
    item = {
        "id": out.ids.hex("mcpr"),
        "type": "mcp_approval_request",
        "arguments": arguments,
        "name": TOOL["name"],
        "server_label": server,
    }
    out.item_done(out.item_added(item), item)


def call(out: ResponseBuilder, server: str, arguments: str, approval_id: str | None) -> None:
    item: dict[str, Any] = {
        "id": out.ids.hex("mcp"),
        "type": "mcp_call",
        "status": "in_progress",
        "approval_request_id": approval_id,
        "arguments": "",
        "error": None,
        "name": TOOL["name"],
        "output": None,
        "server_label": server,
    }
    index = out.item_added(item)
    where = {"output_index": index, "item_id": item["id"]}
    out.emit("response.mcp_call.in_progress", **where)
    out.emit("response.mcp_call_arguments.delta", **where, delta=arguments)
    out.emit("response.mcp_call_arguments.done", **where, arguments=arguments)
    out.emit("response.mcp_call.completed", **where)
    query = json.loads(arguments).get("query", "")
    output = f"3 pages of the docs mention {query!r}: the event log, the worker, the page."
    out.item_done(index, {**item, "status": "completed", "arguments": arguments, "output": output})


def needs_approval(tool: dict[str, Any]) -> bool:
    """`require_approval` as OpenAI reads it: "never" or `{"never": {...}}` skips it."""
    rule = tool.get("require_approval", "always")
    return not (rule == "never" or (isinstance(rule, dict) and "never" in rule))


def answers(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The `mcp_approval_response` items that end the input."""
    items = request.get("input")
    found: list[dict[str, Any]] = []
    for item in reversed(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or item.get("type") != "mcp_approval_response":
            break
        found.append(item)
    return found[::-1]
