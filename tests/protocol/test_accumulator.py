"""Folding small hand-built event sequences into the Response state."""

from __future__ import annotations

import json
from typing import Any

from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import parse_event


def fold(*events: dict[str, Any], acc: Accumulator | None = None) -> Accumulator:
    acc = acc or Accumulator()
    for event in events:
        acc.feed(parse_event(json.dumps(event)))
    return acc


def created(**response: Any) -> dict[str, Any]:
    return {
        "type": "response.created",
        "response": {"id": "resp_1", "status": "in_progress", "output": [], **response},
    }


def completed(output: list[dict[str, Any]], **response: Any) -> dict[str, Any]:
    body = {"id": "resp_1", "status": "completed", "output": output, **response}
    return {"type": "response.completed", "response": body}


def added(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def done(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def text_delta(delta: str, index: int = 0, part: int = 0) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": index,
        "content_index": part,
        "delta": delta,
    }


def part_event(kind: str, part: dict[str, Any], index: int = 0, content: int = 0) -> dict:
    return {
        "type": f"response.content_part.{kind}",
        "item_id": "msg_1",
        "output_index": index,
        "content_index": content,
        "part": part,
    }


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "status": "in_progress",
    "content": [],
}
EMPTY_TEXT = {"type": "output_text", "text": "", "annotations": []}


def message(text: str, **extra: Any) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": []}
    return {**MESSAGE, "status": "completed", "content": [part], **extra}


def streamed_message(*deltas: str) -> list[dict[str, Any]]:
    return [
        created(),
        added(0, MESSAGE),
        part_event("added", EMPTY_TEXT),
        *(text_delta(d) for d in deltas),
    ]


def test_it_joins_text_deltas_while_streaming():
    """Before any done event, the output already holds the text streamed so far."""
    acc = fold(*streamed_message("Hel", "lo", " wörld"))
    assert acc.output_text == "Hello wörld"
    assert acc.output[0]["content"][0] == {
        "type": "output_text",
        "text": "Hello wörld",
        "annotations": [],
    }


def test_it_folds_a_complete_text_stream_without_anomalies():
    """Deltas, then text, part and item done events agreeing with them: no anomalies."""
    final = message("Hello")
    acc = fold(
        *streamed_message("Hel", "lo"),
        {**text_delta(""), "type": "response.output_text.done", "text": "Hello"},
        part_event("done", final["content"][0]),
        done(0, final),
        completed([final], usage={"input_tokens": 3, "output_tokens": 2}),
    )
    assert acc.anomalies == []
    assert acc.output == [final]
    assert acc.output_text == "Hello"
    assert (acc.status, acc.terminal_type, acc.response_id) == (
        "completed",
        "response.completed",
        "resp_1",
    )
    assert acc.usage == {"input_tokens": 3, "output_tokens": 2}


def test_it_counts_every_event_by_type():
    """event_counts counts each event type, unknown ones included."""
    acc = fold(*streamed_message("a", "b"), {"type": "keepalive"})
    assert acc.event_counts == {
        "response.created": 1,
        "response.output_item.added": 1,
        "response.content_part.added": 1,
        "response.output_text.delta": 2,
        "keepalive": 1,
    }


def test_it_adds_annotations_at_their_index():
    """Annotation events land in the part's annotations at annotation_index."""

    def annotation(i: int, url: str) -> dict[str, Any]:
        return {
            "type": "response.output_text.annotation.added",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "annotation_index": i,
            "annotation": {"type": "url_citation", "url": url},
        }

    acc = fold(*streamed_message("See"), annotation(0, "https://b"), annotation(0, "https://a"))
    annotations = acc.output[0]["content"][0]["annotations"]
    assert [a["url"] for a in annotations] == ["https://a", "https://b"]
    assert acc.output_text == "See"


def test_it_folds_a_refusal():
    """Refusal deltas build the refusal part; its done event agreeing is no anomaly."""

    def refusal(kind: str, **field: str) -> dict[str, Any]:
        return {
            "type": f"response.refusal.{kind}",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            **field,
        }

    acc = fold(
        created(),
        added(0, MESSAGE),
        part_event("added", {"type": "refusal", "refusal": ""}),
        refusal("delta", delta="I can't "),
        refusal("delta", delta="help."),
    )
    assert acc.output[0]["content"][0] == {"type": "refusal", "refusal": "I can't help."}
    fold(refusal("done", refusal="I can't help."), acc=acc)
    assert acc.anomalies == []
    assert acc.output_text == ""


def test_it_folds_function_call_arguments():
    """Argument deltas accumulate on the function_call item; the done event confirms them."""
    call = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": "",
        "status": "in_progress",
    }

    def args(kind: str, **field: str) -> dict[str, Any]:
        return {
            "type": f"response.function_call_arguments.{kind}",
            "item_id": "fc_1",
            "output_index": 0,
            **field,
        }

    acc = fold(
        created(), added(0, call), args("delta", delta='{"city":'), args("delta", delta='"Paris"}')
    )
    assert acc.output[0]["arguments"] == '{"city":"Paris"}'
    fold(
        args("done", arguments='{"city":"Paris"}'),
        done(0, {**call, "arguments": '{"city":"Paris"}', "status": "completed"}),
        acc=acc,
    )
    assert acc.anomalies == []
    assert acc.output[0]["status"] == "completed"


def test_it_folds_a_reasoning_summary():
    """Summary parts and text deltas build the reasoning item's summary."""

    def summary(kind: str, **field: Any) -> dict[str, Any]:
        return {
            "type": f"response.reasoning_summary_{kind}",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 0,
            **field,
        }

    acc = fold(
        created(),
        added(0, {"id": "rs_1", "type": "reasoning", "summary": []}),
        summary("part.added", part={"type": "summary_text", "text": ""}),
        summary("text.delta", delta="**Plan** "),
        summary("text.delta", delta="first"),
    )
    assert acc.output[0]["summary"] == [{"type": "summary_text", "text": "**Plan** first"}]
    fold(
        summary("text.done", text="**Plan** first"),
        summary("part.done", part={"type": "summary_text", "text": "**Plan** first"}),
        acc=acc,
    )
    assert acc.output[0]["summary"] == [{"type": "summary_text", "text": "**Plan** first"}]
    assert acc.anomalies == []


def test_it_folds_code_interpreter_status_and_code():
    """Status events move the item's status; code deltas and done build its code."""
    item = {"id": "ci_1", "type": "code_interpreter_call", "status": "in_progress", "code": ""}

    def ci(suffix: str, **field: str) -> dict[str, Any]:
        return {
            "type": f"response.code_interpreter_call{suffix}",
            "item_id": "ci_1",
            "output_index": 0,
            **field,
        }

    acc = fold(
        created(),
        added(0, item),
        ci(".in_progress"),
        ci("_code.delta", delta="print("),
        ci("_code.delta", delta="1)"),
        ci(".interpreting"),
    )
    assert acc.output[0]["status"] == "interpreting"
    assert acc.output[0]["code"] == "print(1)"
    fold(ci("_code.done", code="print(1)"), ci(".completed"), acc=acc)
    assert acc.output[0]["status"] == "completed"
    assert acc.anomalies == []


def test_an_event_for_an_output_never_added_is_an_anomaly_not_a_crash():
    """Events for an unknown output index are recorded as anomalies and otherwise ignored,
    except text: a delta for an output never added makes a message there (servers.md)."""
    acc = fold(
        created(),
        text_delta("x", index=3),
        {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": "{}"},
        {"type": "response.web_search_call.searching", "output_index": 5, "item_id": "w"},
    )
    assert acc.output_text == "x"
    assert [item["type"] for item in acc.output] == ["message"]
    assert acc.anomalies == [
        "response.output_text.delta for an output never added: made a message",
        "response.function_call_arguments.done refers to output 2, which was never added",
        "response.web_search_call.searching refers to output 5, which was never added",
    ]


def test_an_item_done_for_an_output_never_added_is_an_anomaly_and_kept():
    """An output_item.done for an unseen index is recorded as an anomaly and its item kept."""
    acc = fold(created(), done(1, message("late")))
    assert acc.anomalies == ["response.output_item.done for output 1, which was never added"]
    assert acc.output == [message("late")]


def test_a_text_done_differing_from_its_deltas_is_an_anomaly_and_wins():
    """A done event whose text differs from the deltas is recorded, and its text is kept."""
    acc = fold(
        *streamed_message("Hel", "lo"),
        {**text_delta(""), "type": "response.output_text.done", "text": "Help"},
    )
    assert acc.anomalies == ["response.output_text.done at output 0 differs from its deltas"]
    assert acc.output_text == "Help"


def test_an_item_done_differing_from_the_streamed_text_is_an_anomaly_and_wins():
    """An output_item.done whose text differs from the unsettled deltas is recorded and kept."""
    acc = fold(*streamed_message("Hel", "lo"), done(0, message("Hi")))
    assert acc.anomalies == ["output 0 done differs from its streamed text"]
    assert acc.output_text == "Hi"


def test_an_output_added_twice_is_an_anomaly():
    """A second output_item.added for the same index is recorded and replaces the first."""
    acc = fold(created(), added(0, MESSAGE), added(0, {"id": "fc", "type": "function_call"}))
    assert acc.anomalies == ["output 0 was added twice"]
    assert acc.output[0]["type"] == "function_call"


def test_the_terminal_output_is_adopted_when_it_differs():
    """A terminal output different from the folded one replaces it, with an anomaly."""
    final = message("Bonjour")
    acc = fold(*streamed_message("Hello"), completed([final]))
    assert acc.anomalies == [
        "response.completed output differs from the streamed output; kept the former"
    ]
    assert acc.output == [final]
    assert acc.output_text == "Bonjour"


def test_a_terminal_output_differing_only_in_opaque_keys_is_not_an_anomaly():
    """encrypted_content and fingerprint may change between done and terminal events."""
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "A"}
    acc = fold(
        created(),
        added(0, reasoning),
        done(0, reasoning),
        completed([{**reasoning, "encrypted_content": "B"}]),
    )
    assert acc.anomalies == []


def test_a_terminal_without_output_keeps_the_streamed_output():
    """A terminal event with an empty output leaves the folded output as it was."""
    acc = fold(*streamed_message("kept"), completed([]))
    assert acc.output_text == "kept"
    assert acc.anomalies == []


def test_an_error_event_fails_the_response():
    """An `error` event sets status failed, the error, and the terminal type."""
    acc = fold(
        *streamed_message("partial"),
        {"type": "error", "code": "server_error", "message": "boom", "param": None},
    )
    assert acc.status == "failed"
    assert acc.error == {"code": "server_error", "message": "boom"}
    assert acc.terminal_type == "error"
    assert acc.output_text == "partial"


def test_an_error_event_in_the_nested_shape_keeps_its_code_and_message():
    """The API nests code and message under `error`; both are still read."""
    acc = fold(
        created(),
        {
            "type": "error",
            "sequence_number": 2,
            "error": {
                "type": "insufficient_quota",
                "code": "insufficient_quota",
                "message": "No quota",
            },
        },
    )
    assert acc.error == {"code": "insufficient_quota", "message": "No quota"}
    assert acc.status == "failed"


def test_a_response_failed_after_an_error_event_ends_the_response():
    """`error` then `response.failed`: the terminal type and error are the latter's."""
    error = {"code": "insufficient_quota", "message": "No quota"}
    acc = fold(
        created(),
        {"type": "error", "error": error},
        {
            "type": "response.failed",
            "response": {"id": "resp_1", "status": "failed", "output": [], "error": error},
        },
    )
    assert (acc.terminal_type, acc.status, acc.error) == ("response.failed", "failed", error)


def test_a_failed_response_carries_its_error():
    """response.failed sets status failed and the response's error."""
    error = {"code": "rate_limit_exceeded", "message": "slow down"}
    acc = fold(
        created(),
        {
            "type": "response.failed",
            "response": {"id": "resp_1", "status": "failed", "output": [], "error": error},
        },
    )
    assert (acc.status, acc.error, acc.terminal_type) == ("failed", error, "response.failed")


def test_an_incomplete_response_carries_its_details():
    """response.incomplete keeps the incomplete details and status."""
    details = {"reason": "max_output_tokens"}
    acc = fold(
        *streamed_message("cut"),
        {
            "type": "response.incomplete",
            "response": {
                "id": "resp_1",
                "status": "incomplete",
                "output": [],
                "incomplete_details": details,
            },
        },
    )
    assert (acc.status, acc.incomplete_details) == ("incomplete", details)
    assert acc.output_text == "cut"


def test_it_keeps_the_latest_partial_image():
    """Only the latest partial image of each output is kept."""

    def partial(i: int, b64: str) -> dict[str, Any]:
        return {
            "type": "response.image_generation_call.partial_image",
            "output_index": 0,
            "item_id": "ig_1",
            "partial_image_index": i,
            "partial_image_b64": b64,
        }

    acc = fold(
        created(),
        added(0, {"id": "ig_1", "type": "image_generation_call"}),
        partial(0, "AAA"),
        partial(1, "BBB"),
    )
    assert acc.partial_images == {0: "BBB"}


def test_it_builds_shell_commands():
    """Shell command added/delta/done events build the item's action commands."""

    def command(kind: str, **field: str) -> dict[str, Any]:
        return {
            "type": f"response.shell_call_command.{kind}",
            "output_index": 0,
            "command_index": 0,
            **field,
        }

    acc = fold(
        created(),
        added(0, {"id": "sh_1", "type": "shell_call"}),
        command("added", command=""),
        command("delta", delta="ls "),
        command("delta", delta="-l"),
    )
    assert acc.output[0]["action"]["commands"] == ["ls -l"]
    fold(command("done", command="ls -la"), acc=acc)
    assert acc.output[0]["action"]["commands"] == ["ls -la"]
