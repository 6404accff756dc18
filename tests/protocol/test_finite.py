"""protocol/finite.py: non-finite numbers become null, nothing else changes."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.protocol import finite
from streaming.protocol.accumulator import Accumulator
from streaming.protocol.fold import TurnFold


def _refuse(word: str) -> Any:
    raise ValueError(word)


def _nulled(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_nulled(v) for v in value]
    if isinstance(value, dict):
        return {k: _nulled(v) for k, v in value.items()}
    return value


WORDS = st.sampled_from(["NaN", "Infinity", "-Infinity", 'a "NaN" \\"Infinity', "\\", "x"])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | WORDS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text() | WORDS, inner),
    max_leaves=20,
)


@settings(max_examples=300, derandomize=True)
@given(VALUES, st.booleans())
def test_any_json_python_writes_comes_out_strict_with_non_finite_numbers_as_null(
    value: Any, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    strict = finite.strict(text)
    assert json.loads(strict, parse_constant=_refuse) == _nulled(value)
    if "NaN" not in text and "Infinity" not in text:
        assert strict is text


def test_words_inside_strings_are_left_alone() -> None:
    text = '{"delta": "NaN or \\"Infinity\\"", "NaN": -Infinity, "v": [NaN, 1, Infinity]}'
    strict, count = finite.finite(text)
    assert count == 3
    assert strict == '{"delta": "NaN or \\"Infinity\\"", "NaN": null, "v": [null, 1, null]}'
    assert finite.finite('{"delta": "NaN"}') == ('{"delta": "NaN"}', 0)


def test_an_event_with_non_finite_numbers_is_folded_and_noted_once_per_kind() -> None:
    acc = Accumulator()
    added = {"type": "message", "role": "assistant", "content": []}
    acc.feed(
        finite.read_event(
            json.dumps({"type": "response.output_item.added", "output_index": 0, "item": added})
        )
    )
    for word in ("NaN", "Infinity"):
        data = (
            '{"type": "response.output_text.delta", "output_index": 0, "content_index": 0,'
            f' "delta": "{word} ", "logprob": {word}}}'
        )
        event = finite.read_event(data)
        assert isinstance(event, finite.RepairedEvent) and event.delta == f"{word} "
        acc.feed(event)
    assert acc.output_text == "NaN Infinity "
    assert acc.anomalies == [f"{finite.NOTE} (x2)"]
    assert acc.event_counts["response.output_text.delta"] == 2


def test_a_log_rebuilt_from_what_was_stored_is_strict_too() -> None:
    rows = [
        ("relay.request.started", '{"type": "relay.request.started"}'),
        (
            "response.completed",
            '{"type": "response.completed", "response": {"status": "completed",'
            ' "output": [{"type": "message", "score": NaN, "content": []}]}}',
        ),
    ]
    fold = TurnFold.from_log(rows)
    assert fold.output == [{"type": "message", "score": None, "content": []}]
    assert fold.anomalies == [finite.NOTE]
