"""The status sets, each defined once: Python imports them from here, `Turn.Status` matches
them (tests/protocol/test_statuses.py), and the pages receive them as JSON
(`page_constants`, rendered by `streaming/web/pages.py`) instead of repeating them in
JavaScript. Pure: no Django.

The Literal types are the definitions, so pydantic and mypy check values against the same
members the runtime sets hold.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from streaming.protocol.socket import socket_constants

# A turn waiting for a worker, being streamed by one, or waiting for its owner to approve
# MCP tool calls (no worker held): the database allows one such turn per conversation.
ActiveStatus = Literal["queued", "streaming", "waiting"]
# How a turn ended; `relay.turn.done` carries one of these, and nothing follows it.
FinalStatus = Literal["completed", "incomplete", "failed", "cancelled", "interrupted"]
# The upstream events after which a response streams nothing more (`error` may still be
# followed by `response.failed`, which carries the details; see upstream/client.py).
TerminalEventType = Literal["response.completed", "response.incomplete", "response.failed", "error"]

TURN_ACTIVE: tuple[str, ...] = get_args(ActiveStatus)
TURN_FINAL: tuple[str, ...] = get_args(FinalStatus)
TURN_STATUSES: tuple[str, ...] = TURN_ACTIVE + TURN_FINAL
TERMINAL_EVENT_TYPES: frozenset[str] = frozenset(get_args(TerminalEventType))

# An output item's status as `response.<item>.<phase>` events set it, and those of them
# that mean the item is finished.
ITEM_PHASES: tuple[str, ...] = (
    "in_progress",
    "searching",
    "interpreting",
    "generating",
    "completed",
    "failed",
    "incomplete",
)
ITEM_FINAL: tuple[str, ...] = ("completed", "failed", "incomplete")


def page_constants() -> dict[str, Any]:
    """What the pages' scripts read from the `relay-constants` JSON element."""
    return {
        "socket": socket_constants(),
        "turn_active": list(TURN_ACTIVE),
        "turn_final": list(TURN_FINAL),
        "terminal_event_types": sorted(TERMINAL_EVENT_TYPES),
        "item_phases": list(ITEM_PHASES),
        "item_final": list(ITEM_FINAL),
    }
