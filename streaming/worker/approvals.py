"""MCP approvals inside a turn: which requests a response left pending, and the
`mcp_approval_response` items the next request sends once the owner answered them."""

from __future__ import annotations

from typing import Any


def pending_ids(output: list[dict[str, Any]]) -> list[str]:
    """The `mcp_approval_request` ids of these output items."""
    return [
        str(item.get("id"))
        for item in output
        if item.get("type") == "mcp_approval_request" and item.get("id")
    ]


def responses(output: list[dict[str, Any]], answers: dict[str, bool]) -> list[dict[str, Any]]:
    """The answers to the requests of these items, as input items, in their order."""
    return [
        {"type": "mcp_approval_response", "approval_request_id": i, "approve": bool(answers[i])}
        for i in pending_ids(output)
        if i in answers
    ]
