"""What a turn sends upstream as context: the conversation so far, as input items."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from streaming.models import Turn

_WITH_OUTPUT = ("completed", "incomplete", "cancelled", "interrupted", "failed")


def input_for(turn: Turn, *, chain: bool | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """(input items, previous_response_id). With chaining on and a previous response to
    point at, only the new message is sent; otherwise the whole stored history is."""
    chain = settings.RELAY_PREVIOUS_RESPONSE_ID if chain is None else chain
    earlier = list(
        Turn.objects.filter(conversation_id=turn.conversation_id, created_at__lt=turn.created_at)
        .exclude(pk=turn.pk)
        .order_by("created_at")
        .values("input", "output_text", "status", "response_ids")
    )
    message = {"role": "user", "content": turn.input}
    if chain and earlier and earlier[-1]["status"] == "completed" and earlier[-1]["response_ids"]:
        return [message], earlier[-1]["response_ids"][-1]
    items: list[dict[str, Any]] = []
    for past in earlier:
        items.append({"role": "user", "content": past["input"]})
        if past["status"] in _WITH_OUTPUT and past["output_text"]:
            items.append({"role": "assistant", "content": past["output_text"]})
    items.append(message)
    return items, None
