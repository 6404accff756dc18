"""What a turn sends upstream as context: the conversation so far, as input items."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from streaming import selectors
from streaming.models import Turn
from streaming.protocol.statuses import TURN_FINAL


def input_for(turn: Turn, *, chain: bool | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """(input items, previous_response_id). With chaining on and a previous response to
    point at, only the new message is sent; otherwise the whole stored history is."""
    chain = settings.RELAY_PREVIOUS_RESPONSE_ID if chain is None else chain
    earlier = selectors.turns_earlier(turn=turn)
    message = {"role": "user", "content": turn.input}
    if chain and earlier and earlier[-1]["status"] == "completed" and earlier[-1]["response_ids"]:
        return [message], earlier[-1]["response_ids"][-1]
    items: list[dict[str, Any]] = []
    for past in earlier:
        items.append({"role": "user", "content": past["input"]})
        # Whatever a turn that ended streamed is context, even when it ended early.
        if past["status"] in TURN_FINAL and past["output_text"]:
            items.append({"role": "assistant", "content": past["output_text"]})
    items.append(message)
    return items, None
