"""Property tests: the stream readers hold on any input (Hypothesis, a fixed budget)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import KNOWN_TYPES, MalformedEvent, parse_event
from streaming.protocol.fold import TurnFold
from streaming.protocol.sse import SSEDecoder

# Derandomized: CI runs the same examples every time, within a bounded budget.
BUDGET = settings(max_examples=50, derandomize=True, deadline=None)

KEYS = [
    "type",
    "output_index",
    "content_index",
    "summary_index",
    "command_index",
    "annotation_index",
    "item",
    "part",
    "delta",
    "text",
    "arguments",
    "response",
    "content",
    "summary",
    "action",
    "commands",
    "output",
    "status",
    "id",
    "error",
    "message",
    "code",
    "refusal",
    "partial_image_index",
    "partial_image_b64",
    "command",
    "annotation",
    "usage",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 70)
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from([*sorted(KNOWN_TYPES), "message", "output_text", "function_call"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=6,
)
events = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(KNOWN_TYPES)) | st.text(max_size=10)},
    optional={key: values for key in KEYS if key != "type"},
)


def _fold(objects: list[dict[str, Any]]) -> Accumulator:
    acc = Accumulator()
    for obj in objects:
        try:
            event = parse_event(json.dumps(obj))
        except MalformedEvent:
            continue
        acc.feed(event)
    return acc


@BUDGET
@given(st.lists(events, max_size=8))
def test_the_accumulator_never_raises_on_any_sequence_of_json_objects(objects):
    """Whatever objects arrive, folding them raises nothing and leaves readable state."""
    acc = _fold(objects)
    assert all(isinstance(item, dict) for item in acc.output)
    assert isinstance(acc.output_text, str)
    json.dumps(acc.output)
    assert len(acc.anomalies) <= len(objects) * 2


@BUDGET
@given(st.lists(events, max_size=8))
def test_a_turn_rebuilt_from_its_log_never_raises(objects):
    """The log's stored rows of any objects rebuild a turn without raising."""
    rows = [("relay.request.started", "{}")]
    rows += [(str(obj.get("type")), json.dumps(obj)) for obj in objects]
    fold = TurnFold.from_log(rows)
    assert isinstance(fold.output_text, str)
    json.dumps(fold.output)


@BUDGET
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=8))
def test_the_sse_decoder_reads_any_bytes_split_anywhere_alike(body, cuts):
    """Arbitrary bytes: no exception, and the same frames however the chunks were split."""
    whole = SSEDecoder()
    expected = whole.feed(body) + whole.close()
    split = SSEDecoder()
    got = []
    start = 0
    for cut in sorted(set(cuts)):
        got += split.feed(body[start:cut])
        start = max(start, cut)
    got += split.feed(body[start:]) + split.close()
    assert got == expected
    assert all(isinstance(frame.data, str) for frame in got)


@BUDGET
@given(
    st.lists(
        st.sampled_from(
            [
                b"data: x",
                b"data:",
                b"event: e",
                b": c",
                b"id: 1",
                b"",
                b"retry: 5",
                b"\r",
                b"\n",
                b"\r\n",
                b"\xef\xbb\xbf",
                b"\xff",
            ]
        ),
        max_size=30,
    ),
    st.integers(1, 7),
)
def test_the_sse_decoder_agrees_with_itself_on_field_soup(pieces, step):
    """Lines of every field kind, line ends of every kind, fed in small fixed steps."""
    body = b"\n".join(pieces)
    whole = SSEDecoder()
    expected = whole.feed_data(body) + whole.close_data()
    split = SSEDecoder()
    got = []
    for start in range(0, len(body), step):
        got += split.feed_data(body[start : start + step])
    got += split.close_data()
    assert got == expected


def test_a_text_delta_without_content_index_is_still_text():
    """open-responses-server sends no content_index and no output_item.added: text is kept."""
    acc = _fold(
        [
            {"type": "response.output_text.delta", "output_index": 0, "delta": "Hel"},
            {"type": "response.output_text.delta", "output_index": 0, "delta": "lo"},
            {"type": "response.output_text.delta", "output_index": 0, "delta": "!"},
        ]
    )
    assert acc.output_text == "Hello!"
    assert len(acc.anomalies) == 2  # the missing field (counted), the message made for it
    assert acc.anomalies[0].endswith("(x3)")


def test_one_mistake_repeated_on_every_delta_is_one_counted_anomaly():
    """The same anomaly on 500 deltas is one line with its count, not 500."""
    acc = _fold(
        [
            {
                "type": "response.output_text.delta",
                "output_index": 9000,
                "delta": "x",
                "content_index": 0,
            }
        ]
        * 500
    )
    assert acc.anomalies == [
        "response.output_text.delta refers to output 9000, out of range (x500)"
    ]
