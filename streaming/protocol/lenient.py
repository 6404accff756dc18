"""The lenient reader: events that failed validation, folded where their meaning is clear.

An `UnknownEvent` keeps the raw object and the validation error; the accumulator hands it
here. What other servers get wrong in ways that still mean something (`../docs` and
`servers.md`: a text delta without `content_index`, an index sent as a string) is folded as
if it were right, noted once per kind; the rest is only counted as unreadable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streaming.protocol.events import UnknownEvent

if TYPE_CHECKING:
    from streaming.protocol.accumulator import Accumulator

_TEXT = frozenset({"response.output_text.delta", "response.output_text.done"})


def fold(acc: Accumulator, event: UnknownEvent) -> None:
    """Fold `event` into `acc` as far as it can be read; never raises."""
    if event.reason != "unknown type":
        acc.note(event.reason)  # counted: one line per kind of mistake, not per event
    if event.type in _TEXT:
        _text(acc, event.type, event.raw)


def _text(acc: Accumulator, kind: str, raw: dict[str, Any]) -> None:
    index, content = _index(raw.get("output_index")), _index(raw.get("content_index", 0))
    if index is None or content is None:
        return
    if kind == "response.output_text.delta":
        delta = raw.get("delta")
        if isinstance(delta, str):
            acc.feed_text(index, content, delta)
    else:
        text = raw.get("text")
        if isinstance(text, str):
            acc.settle_text(index, content, text)


def _index(value: Any) -> int | None:
    """An index as a non-negative int: servers send `0`, `"0"`, or nothing (None)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 6:
        return int(value)
    return None
