"""Strict JSON from what the upstream sends: `NaN`, `Infinity` and `-Infinity` become `null`.

Python's `json` (and pydantic's parser) accept those three words as numbers, and some servers
send them (a `logprob` of minus infinity, a NaN score); RFC 8259 has no such numbers and a
browser's `JSON.parse` refuses the whole frame. The log keeps each event as received; what
leaves the relay (socket frames, replays, exports) and what it folds into a turn is strict.

`suspect` is the cheap test made on every event: two substring searches, no parse. Only text
it flags is read token by token, so an ordinary event costs nothing more; the words inside a
string (a delta saying "NaN") are text, left as they are.
"""

from __future__ import annotations

import re

from streaming.protocol.events import StreamEvent, parse_event

NOTE = "non-finite numbers (NaN, Infinity) received; relayed as null"

# A JSON string (skipped as a whole, escapes included) or one of the three words outside one.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|(-?Infinity|NaN)', re.DOTALL)


def suspect(text: str) -> bool:
    """True when `text` may carry a non-finite number (it may also only say the word)."""
    return "NaN" in text or "Infinity" in text


def finite(text: str) -> tuple[str, int]:
    """`text` with every non-finite number written `null`, and how many there were; the text
    itself (the same object) when there were none."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) is None:
            return match.group()
        count += 1
        return "null"

    strict = _TOKEN.sub(replace, text)
    return (strict, count) if count else (text, 0)


def strict(text: str) -> str:
    """`text` as strict JSON: for what is read back from the log and sent on."""
    return finite(text)[0] if suspect(text) else text


class RepairedEvent(StreamEvent):
    """An event that carried non-finite numbers: `event` is it, typed from the strict text.
    Its fields are also this one's (as extras), for readers that only look at `type` or
    `delta`; the accumulator notes the repair and folds `event`."""

    event: StreamEvent
    replaced: int


def read_event(data: str) -> StreamEvent:
    """`parse_event`, strict: an event with non-finite numbers comes typed with them as null,
    as a `RepairedEvent`. Raises `MalformedEvent` as `parse_event` does."""
    if suspect(data):
        text, count = finite(data)
        if count:
            typed = parse_event(text)
            fields = {**dict(typed), "event": typed, "replaced": count}
            return RepairedEvent.model_construct(**fields)
    return parse_event(data)
