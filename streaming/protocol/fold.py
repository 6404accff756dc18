"""A turn's state across its upstream requests, folded live or rebuilt from the stored log."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import MalformedEvent
from streaming.protocol.finite import read_event

_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")


class TurnFold:
    def __init__(self) -> None:
        self.requests: list[Accumulator] = []
        # The relay's answers to each request's function calls and approval requests, as
        # the input items it sent.
        self.tool_outputs: list[list[dict[str, Any]]] = []
        self.error = ""

    def start_request(self) -> Accumulator:
        acc = Accumulator()
        self.requests.append(acc)
        self.tool_outputs.append([])
        return acc

    def add_tool_output(self, call_id: str, output: str) -> dict[str, Any]:
        item = {"type": "function_call_output", "call_id": call_id, "output": output}
        if self.tool_outputs:
            self.tool_outputs[-1].append(item)
        return item

    def add_approval_response(self, approval_request_id: str, approve: bool) -> dict[str, Any]:
        item = {
            "type": "mcp_approval_response",
            "approval_request_id": approval_request_id,
            "approve": approve,
        }
        if self.tool_outputs:
            self.tool_outputs[-1].append(item)
        return item

    @property
    def output(self) -> list[dict[str, Any]]:
        """Every request's items, each followed by the tool outputs that answered it."""
        return [
            item
            for acc, answers in zip(self.requests, self.tool_outputs, strict=True)
            for item in [*acc.output, *answers]
        ]

    @property
    def output_text(self) -> str:
        return "".join(acc.output_text for acc in self.requests)

    @property
    def response_ids(self) -> list[str]:
        return [acc.response_id for acc in self.requests if acc.response_id]

    @property
    def anomalies(self) -> list[str]:
        return [note for acc in self.requests for note in acc.anomalies]

    @property
    def usage(self) -> dict[str, int] | None:
        """Token counts summed over the turn's requests (a tool round trip is several)."""
        usages = [acc.usage for acc in self.requests if acc.usage]
        if not usages:
            return None
        return {key: sum(int(u.get(key) or 0) for u in usages) for key in _USAGE_KEYS}

    @classmethod
    def from_log(cls, rows: Iterable[tuple[str, str]]) -> TurnFold:
        """Rebuild from stored (type, data) rows, e.g. for a turn whose worker died."""
        fold = cls()
        acc: Accumulator | None = None
        for kind, data in rows:
            if kind == "relay.request.started":
                acc = fold.start_request()
            elif kind == "relay.error":
                fold.error = json.loads(data).get("message", "")
            elif kind == "relay.tool.output":
                event = json.loads(data)
                fold.add_tool_output(event.get("call_id", ""), event.get("output", ""))
            elif kind == "relay.approval.response":
                event = json.loads(data)
                fold.add_approval_response(
                    event.get("approval_request_id", ""), bool(event.get("approve"))
                )
            elif not kind.startswith("relay.") and acc is not None:
                try:
                    acc.feed(read_event(data))
                except MalformedEvent:
                    acc.note(f"stored {kind} is not readable")
        return fold
