"""What a turn sends upstream as context: the conversation so far, as typed input items.

Earlier turns go as their user message (`input_text` parts, with their attachments while
they fit ATTACHMENTS_HISTORY_MAX_BYTES, newest first) followed by their stored output items:
assistant messages as `output_text` parts, function calls with their outputs, and reasoning
items the model returned encrypted. Servers that read only fully typed items see it all.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from streaming import selectors
from streaming.models import Turn
from streaming.protocol.statuses import TURN_FINAL
from streaming.services.files import file_part


def input_for(turn: Turn, *, chain: bool | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """(input items, previous_response_id). With chaining on and a previous response to
    point at, only the new message is sent; otherwise the whole stored history is."""
    chain = settings.RELAY_PREVIOUS_RESPONSE_ID if chain is None else chain
    earlier = selectors.turns_earlier(turn=turn)
    message = user_message(turn.input, list(turn.attachments.all()))
    if chain and earlier and earlier[-1]["status"] == "completed" and earlier[-1]["response_ids"]:
        return [message], earlier[-1]["response_ids"][-1]
    budget = _attachment_budget(earlier)
    items: list[dict[str, Any]] = []
    for past in earlier:
        attached = [u for u in past["attachments"] if u.pk in budget]
        items.append(user_message(past["input"], attached))
        # Whatever a turn that ended streamed is context, even when it ended early.
        if past["status"] in TURN_FINAL:
            items += output_items(past["output"], past["output_text"])
    items.append(message)
    return items, None


def attachments_sent(turn: Turn) -> list[Any]:
    """The files the turn's request carries when the whole history is sent: its own, and the
    earlier ones within the budget."""
    earlier = selectors.turns_earlier(turn=turn)
    budget = _attachment_budget(earlier)
    again = [u for past in earlier for u in past["attachments"] if u.pk in budget]
    return list(turn.attachments.all()) + again


def _attachment_budget(earlier: list[dict[str, Any]]) -> set[Any]:
    """Ids of earlier attachments to send again: newest first, while they fit the budget."""
    left, chosen = settings.ATTACHMENTS_HISTORY_MAX_BYTES, set()
    for past in reversed(earlier):
        for upload in past["attachments"]:
            if upload.size > left:
                return chosen
            left -= upload.size
            chosen.add(upload.pk)
    return chosen


def user_message(text: str, attachments: list[Any]) -> dict[str, Any]:
    parts = [{"type": "input_text", "text": text}] + [file_part(u) for u in attachments]
    return {"type": "message", "role": "user", "content": parts}


def _assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [_output_text(text)]}


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def output_items(output: list[Any], output_text: str) -> list[dict[str, Any]]:
    """A turn's stored output as input items. A call goes only with its output (and an
    output only with its call): an unanswered call is refused by the upstream."""
    items = [item for item in output if isinstance(item, dict)]
    calls = {i.get("call_id") for i in items if i.get("type") == "function_call"}
    answered = {i.get("call_id") for i in items if i.get("type") == "function_call_output"}
    paired = calls & answered
    typed = [t for item in items if (t := _typed(item, paired)) is not None]
    if output_text and not any(t["type"] == "message" for t in typed):
        typed.append(_assistant(output_text))
    return typed


def _typed(item: dict[str, Any], paired: set[Any]) -> dict[str, Any] | None:
    kind = item.get("type")
    if kind == "message" and item.get("role", "assistant") == "assistant":
        texts = [p.get("text") or "" for p in item.get("content") or [] if isinstance(p, dict)]
        text = "".join(t for t in texts if isinstance(t, str))
        return _assistant(text) if text else None
    if kind == "function_call" and item.get("call_id") in paired:
        keys = ("call_id", "name", "arguments")
        return {"type": "function_call", **{k: item.get(k) or "" for k in keys}}
    if kind == "function_call_output" and item.get("call_id") in paired:
        output = item.get("output")
        return {"type": kind, "call_id": item["call_id"], "output": output or ""}
    if kind == "reasoning" and item.get("encrypted_content"):
        keys = ("id", "summary", "encrypted_content")
        return {"type": "reasoning", **{k: item[k] for k in keys if k in item}}
    return None
