"""A turn's state rebuilt from its stored log (what the sweep does for a dead worker)."""

from __future__ import annotations

import json

from streaming.protocol.fold import TurnFold


def row(event: dict) -> tuple[str, str]:
    return event["type"], json.dumps(event)


CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": "",
}


def test_it_rebuilds_output_across_requests_with_tool_outputs_between() -> None:
    """Each request's items, then the tool outputs that answered it, then the next request."""
    rows = [
        row({"type": "relay.request.started", "request": 1, "model": "m"}),
        row({"type": "response.output_item.added", "output_index": 0, "item": CALL}),
        row(
            {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"a":'}
        ),
        row({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "1}"}),
        row(
            {
                "type": "relay.tool.output",
                "call_id": "call_1",
                "name": "get_weather",
                "output": "sunny",
            }
        ),
        row({"type": "relay.request.started", "request": 2, "model": "m"}),
        row(
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "message", "id": "m1", "content": []},
            }
        ),
        row(
            {
                "type": "response.content_part.added",
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": ""},
            }
        ),
        row(
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "content_index": 0,
                "delta": "It is sunny",
            }
        ),
    ]
    fold = TurnFold.from_log(rows)
    assert [item["type"] for item in fold.output] == [
        "function_call",
        "function_call_output",
        "message",
    ]
    assert fold.output[0]["arguments"] == '{"a":1}'
    assert fold.output[1] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": "sunny",
    }
    assert fold.output_text == "It is sunny"


def test_it_keeps_the_relay_error_message() -> None:
    """A stored relay.error becomes the rebuilt turn's error."""
    rows = [
        row({"type": "relay.request.started", "request": 1, "model": "m"}),
        row({"type": "relay.error", "kind": "timeout", "message": "timed out waiting"}),
    ]
    assert TurnFold.from_log(rows).error == "timed out waiting"


def test_a_rebuilt_turn_keeps_the_approval_decisions_after_their_request() -> None:
    """`relay.approval.response` in the log becomes the `mcp_approval_response` item the
    next request sent, after the output of the request that asked."""
    request = {"type": "mcp_approval_request", "id": "mcpr_1", "name": "t", "server_label": "s"}
    rows = [
        ("relay.request.started", json.dumps({"type": "relay.request.started", "request": 1})),
        (
            "response.output_item.done",
            json.dumps(
                {
                    "type": "response.output_item.done",
                    "sequence_number": 0,
                    "output_index": 0,
                    "item": {**request, "arguments": "{}"},
                }
            ),
        ),
        ("relay.turn.waiting", json.dumps({"type": "relay.turn.waiting"})),
        (
            "relay.approval.response",
            json.dumps(
                {
                    "type": "relay.approval.response",
                    "approval_request_id": "mcpr_1",
                    "approve": False,
                }
            ),
        ),
    ]
    fold = TurnFold.from_log(rows)
    assert [i["type"] for i in fold.output] == ["mcp_approval_request", "mcp_approval_response"]
    assert fold.output[1] == {
        "type": "mcp_approval_response",
        "approval_request_id": "mcpr_1",
        "approve": False,
    }
