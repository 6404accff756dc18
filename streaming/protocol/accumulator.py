"""Folds stream events into the Response state. Pure: no I/O.

Streamed strings (text, arguments, code, summaries) are kept as lists of deltas and joined
only when read, so a 20,000-delta answer costs one append per delta, not a copy of the text
so far. When an item's `output_item.done` arrives, what was streamed is compared with it and
any difference is recorded as an anomaly; the done item is then taken as the truth.

It never raises, whatever JSON objects it is fed: an event that failed validation
(`UnknownEvent`) is read leniently where its meaning is clear (a text delta without
`content_index` is still text) and is otherwise only counted; shapes it cannot use are
anomalies. Anomalies are counted per message, so a server that repeats one mistake on every
delta adds one line, not one per event.
"""

from __future__ import annotations

import copy
from collections import Counter
from types import SimpleNamespace
from typing import Any

from streaming.protocol import events as ev
from streaming.protocol import finite, lenient
from streaming.protocol.statuses import ITEM_PHASES, TERMINAL_EVENT_TYPES

# Where a streamed string lives inside an output item: (container, index, field).
# container None means the item itself, else item[container][index].
Path = tuple[str | None, int, str]

_DELTA_TARGETS: dict[str, Path] = {
    "response.function_call_arguments.delta": (None, 0, "arguments"),
    "response.mcp_call_arguments.delta": (None, 0, "arguments"),
    "response.custom_tool_call_input.delta": (None, 0, "input"),
    "response.code_interpreter_call_code.delta": (None, 0, "code"),
}
_DONE_TARGETS: dict[str, tuple[Path, str]] = {
    "response.function_call_arguments.done": ((None, 0, "arguments"), "arguments"),
    "response.mcp_call_arguments.done": ((None, 0, "arguments"), "arguments"),
    "response.custom_tool_call_input.done": ((None, 0, "input"), "input"),
    "response.code_interpreter_call_code.done": ((None, 0, "code"), "code"),
}
# How far past the end an index may point (the gap is filled): bounds what one event costs.
MAX_GAP = 64
_OPAQUE = frozenset({"encrypted_content", "fingerprint"})
_PHASES = frozenset(ITEM_PHASES)


class Accumulator:
    def __init__(self) -> None:
        self.response: dict[str, Any] = {}
        self.items: list[dict[str, Any] | None] = []
        self.status: str | None = None
        self.usage: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.incomplete_details: dict[str, Any] | None = None
        self.terminal_type: str | None = None
        self.anomaly_counts: Counter[str] = Counter()
        self.event_counts: Counter[str] = Counter()
        self.partial_images: dict[int, str] = {}
        self._buffers: dict[tuple[int, Path], list[str]] = {}

    # --- reading the state ----------------------------------------------------------------

    @property
    def output(self) -> list[dict[str, Any]]:
        """The folded output items, streamed strings joined in."""
        for (index, path), parts in self._buffers.items():
            target = self._target(index, path, create=False)
            if target is not None:
                target[path[2]] = "".join(parts)
        return [item for item in self.items if isinstance(item, dict)]

    @property
    def output_text(self) -> str:
        return "".join(
            part["text"]
            for item in self.output
            if isinstance(item, dict) and item.get("type") == "message"
            for part in _entries(item.get("content"))
            if part.get("type") == "output_text" and isinstance(part.get("text"), str)
        )

    @property
    def response_id(self) -> str | None:
        rid = self.response.get("id")
        return rid if isinstance(rid, str) else None

    @property
    def anomalies(self) -> list[str]:
        """Each distinct anomaly once, in order seen, with how often when more than once."""
        return [
            note if count == 1 else f"{note} (x{count})"
            for note, count in self.anomaly_counts.items()
        ]

    def note(self, message: str) -> None:
        """Record an anomaly (counted: the same message twice is one line)."""
        self.anomaly_counts[message] += 1

    # --- folding ----------------------------------------------------------------------------

    def feed(self, event: ev.StreamEvent) -> None:
        kind = event.type
        self.event_counts[kind] += 1
        cls = type(event)
        if cls is ev.OutputTextDelta:  # the hot path, first, inline
            path = ("content", event.content_index, "text")  # type: ignore[attr-defined]
            parts = self._buffers.get((event.output_index, path))  # type: ignore[attr-defined]
            if parts is None:
                self.feed_text(event.output_index, event.content_index, event.delta)  # type: ignore[attr-defined]
            else:
                parts.append(event.delta)  # type: ignore[attr-defined]
            return
        if cls is ev.UnknownEvent:
            lenient.fold(self, event)  # type: ignore[arg-type]
            return
        if cls is finite.RepairedEvent:
            self.note(finite.NOTE)
            self.event_counts[kind] -= 1  # counted once, as the event it carries
            self.feed(event.event)  # type: ignore[attr-defined]
            return
        target = _DELTA_TARGETS.get(kind)
        if target is not None:
            self._append(event, target)
            return
        done = _DONE_TARGETS.get(kind)
        if done is not None:
            self._settle(event, done[0], getattr(event, done[1]))
            return
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        elif isinstance(event, ev.ToolCallStatus):
            self._status(event)

    def feed_text(self, index: int, content: int, delta: str) -> None:
        """A text delta. Text is text: one for an output never added (some servers send no
        `output_item.added`) makes an assistant message there, noted once."""
        if not (0 <= index < len(self.items)) or self.items[index] is None:
            if not 0 <= index <= len(self.items) + MAX_GAP:
                self.note(f"response.output_text.delta refers to output {index}, out of range")
                return
            self.note("response.output_text.delta for an output never added: made a message")
            while len(self.items) <= index:
                self.items.append(None)
            self.items[index] = {"type": "message", "role": "assistant", "content": []}
        path = ("content", content, "text")
        key = (index, path)
        parts = self._buffers.get(key)
        if parts is None:
            target = self._target(index, path, create=True, kind="response.output_text.delta")
            if target is None:
                return
            target.setdefault("type", "output_text")
            parts = self._buffers[key] = []
        parts.append(delta)

    def settle_text(self, index: int, content: int, text: str) -> None:
        """A text's done event, read leniently (`protocol/lenient.py`)."""
        done = SimpleNamespace(output_index=index, type="response.output_text.done")
        self._settle(done, ("content", content, "text"), text)

    def _append(self, event: Any, path: Path) -> None:
        key = (event.output_index, path)
        parts = self._buffers.get(key)
        if parts is None:
            if self._target(event.output_index, path, create=True, kind=event.type) is None:
                return
            parts = self._buffers[key] = []
        parts.append(event.delta)

    def _settle(self, event: Any, path: Path, value: str) -> None:
        """A `*.done` for a streamed string: check it against the deltas, then keep it."""
        key = (event.output_index, path)
        parts = self._buffers.pop(key, None)
        if parts is not None and "".join(parts) != value:
            self._anomaly(f"{event.type} at output {event.output_index} differs from its deltas")
        target = self._target(event.output_index, path, create=True, kind=event.type)
        if target is not None:
            target[path[2]] = value

    def _target(
        self, index: int, path: Path, *, create: bool, kind: str = ""
    ) -> dict[str, Any] | None:
        item = self.items[index] if 0 <= index < len(self.items) else None
        if not isinstance(item, dict):
            if create:
                self._anomaly(f"{kind} refers to output {index}, which was never added")
            return None
        container, sub, _ = path
        if container is None:
            return item
        entries = item.get(container)
        if entries is None:
            entries = item[container] = []
        if not isinstance(entries, list) or not 0 <= sub <= len(entries) + MAX_GAP:
            self._anomaly(f"{kind} refers to {container} {sub} of output {index}, unusable")
            return None
        while create and len(entries) <= sub:
            entries.append({})
        entry = entries[sub] if sub < len(entries) else None
        if entry is not None and not isinstance(entry, dict):
            self._anomaly(f"{kind} refers to {container} {sub} of output {index}, not an object")
            return None
        return entry

    def _anomaly(self, message: str) -> None:
        self.note(message)

    # --- lifecycle --------------------------------------------------------------------------

    def _lifecycle(self, event: ev._Lifecycle) -> None:
        response = event.response.model_dump(exclude={"output"})
        self.response = response
        self.status = response.get("status") or self.status
        if event.type in TERMINAL_EVENT_TYPES:
            self._terminal(event)

    def _terminal(self, event: ev._Lifecycle) -> None:
        self.terminal_type = event.type
        self.usage = event.response.usage
        self.error = event.response.error
        self.incomplete_details = event.response.incomplete_details
        final = event.response.output
        if not final:
            return
        if _comparable(final) != _comparable(self.output):
            if self.items:
                self._anomaly(
                    f"{event.type} output differs from the streamed output; kept the former"
                )
            self.items = copy.deepcopy(final)
            self._buffers.clear()

    def _error(self, event: ev.ErrorEvent) -> None:
        self.terminal_type = event.type
        self.status = "failed"
        nested = event.error or {}
        self.error = {
            "code": event.code or nested.get("code"),
            "message": event.message or nested.get("message"),
        }

    # --- items and parts ------------------------------------------------------------------

    def _slot(self, index: int, kind: str) -> bool:
        """Make room for output `index`; False (an anomaly) if it is out of range."""
        if not 0 <= index <= len(self.items) + MAX_GAP:
            self._anomaly(f"{kind} refers to output {index}, out of range")
            return False
        while len(self.items) <= index:
            self.items.append(None)
        return True

    def _item_added(self, event: ev.OutputItemAdded) -> None:
        index = event.output_index
        if not self._slot(index, event.type):
            return
        if self.items[index] is not None:
            self._anomaly(f"output {index} was added twice")
        self.items[index] = copy.deepcopy(event.item)

    def _item_done(self, event: ev.OutputItemDone) -> None:
        index = event.output_index
        if not (0 <= index < len(self.items)) or self.items[index] is None:
            if not self._slot(index, event.type):
                return
            self._anomaly(f"{event.type} for output {index}, which was never added")
        for key in [key for key in self._buffers if key[0] == index]:
            parts = self._buffers.pop(key)
            container, sub, field = key[1]
            holder = event.item if container is None else _at(event.item.get(container), sub)
            if holder is None or holder.get(field) != "".join(parts):
                self._anomaly(f"output {index} done differs from its streamed {field}")
        self.items[index] = copy.deepcopy(event.item)

    def _part(self, event: ev._Part) -> None:
        target = self._target(
            event.output_index, ("content", event.content_index, ""), create=True, kind=event.type
        )
        if target is None:
            return
        key = (event.output_index, ("content", event.content_index, "text"))
        if event.type == "response.content_part.done":
            parts = self._buffers.pop(key, None)
            if parts is not None and event.part.get("text") != "".join(parts):
                self._anomaly(f"{event.type} at output {event.output_index} differs from deltas")
        target.clear()
        target.update(copy.deepcopy(event.part))

    def _text_done(self, event: ev.OutputTextDone) -> None:
        self._settle(event, ("content", event.content_index, "text"), event.text)

    def _annotation(self, event: ev.OutputTextAnnotationAdded) -> None:
        part = self._target(
            event.output_index, ("content", event.content_index, ""), create=True, kind=event.type
        )
        if part is not None and event.annotation is not None:
            annotations = part.setdefault("annotations", [])
            annotations.insert(event.annotation_index, copy.deepcopy(event.annotation))

    def _refusal_delta(self, event: ev.RefusalDelta) -> None:
        self._append(event, ("content", event.content_index, "refusal"))

    def _refusal_done(self, event: ev.RefusalDone) -> None:
        self._settle(event, ("content", event.content_index, "refusal"), event.refusal)

    def _status(self, event: ev.ToolCallStatus) -> None:
        item = self._target(event.output_index, (None, 0, ""), create=True, kind=event.type)
        phase = event.type.rsplit(".", 1)[1]
        if item is not None and phase in _PHASES:
            item["status"] = phase

    def _partial_image(self, event: ev.ImageGenerationPartialImage) -> None:
        if self._target(event.output_index, (None, 0, ""), create=True, kind=event.type):
            self.partial_images[event.output_index] = event.partial_image_b64

    # --- reasoning ------------------------------------------------------------------------

    def _summary_part(self, event: ev.ReasoningSummaryPartAdded) -> None:
        path = ("summary", event.summary_index, "")
        target = self._target(event.output_index, path, create=True, kind=event.type)
        if target is not None:
            target.update(copy.deepcopy(event.part))

    def _summary_delta(self, event: ev.ReasoningSummaryTextDelta) -> None:
        self._append(event, ("summary", event.summary_index, "text"))

    def _summary_done(self, event: ev.ReasoningSummaryTextDone) -> None:
        self._settle(event, ("summary", event.summary_index, "text"), event.text)

    def _reasoning_delta(self, event: ev.ReasoningTextDelta) -> None:
        self._append(event, ("content", event.content_index, "text"))

    def _reasoning_done(self, event: ev.ReasoningTextDone) -> None:
        self._settle(event, ("content", event.content_index, "text"), event.text)

    # --- shell ------------------------------------------------------------------------------

    def _shell_command(self, event: Any) -> None:
        item = self._target(event.output_index, (None, 0, ""), create=True, kind=event.type)
        if item is None:
            return
        action = item.setdefault("action", {})
        commands = action.setdefault("commands", []) if isinstance(action, dict) else None
        index = event.command_index
        if not isinstance(commands, list) or not 0 <= index <= len(commands) + MAX_GAP:
            self._anomaly(f"{event.type} at output {event.output_index}: unusable commands")
            return
        while len(commands) <= index:
            commands.append("")
        if event.type == "response.shell_call_command.delta":
            before = commands[index] if isinstance(commands[index], str) else ""
            commands[index] = before + event.delta
        else:
            commands[index] = event.command


def _comparable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Opaque blobs: providers re-encrypt them between the item's done event and the terminal one.
    return [{k: v for k, v in item.items() if k not in _OPAQUE} for item in items]


def _entries(entries: Any) -> list[dict[str, Any]]:
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _at(entries: Any, index: int) -> dict[str, Any] | None:
    if isinstance(entries, list) and 0 <= index < len(entries):
        return entries[index] if isinstance(entries[index], dict) else None
    return None


_HANDLERS: dict[type, Any] = {
    ev.ResponseCreated: Accumulator._lifecycle,
    ev.ResponseInProgress: Accumulator._lifecycle,
    ev.ResponseQueued: Accumulator._lifecycle,
    ev.ResponseCompleted: Accumulator._lifecycle,
    ev.ResponseIncomplete: Accumulator._lifecycle,
    ev.ResponseFailed: Accumulator._lifecycle,
    ev.ErrorEvent: Accumulator._error,
    ev.OutputItemAdded: Accumulator._item_added,
    ev.OutputItemDone: Accumulator._item_done,
    ev.ContentPartAdded: Accumulator._part,
    ev.ContentPartDone: Accumulator._part,
    ev.OutputTextDone: Accumulator._text_done,
    ev.OutputTextAnnotationAdded: Accumulator._annotation,
    ev.RefusalDelta: Accumulator._refusal_delta,
    ev.RefusalDone: Accumulator._refusal_done,
    ev.ImageGenerationPartialImage: Accumulator._partial_image,
    ev.ReasoningSummaryPartAdded: Accumulator._summary_part,
    ev.ReasoningSummaryPartDone: Accumulator._summary_part,
    ev.ReasoningSummaryTextDelta: Accumulator._summary_delta,
    ev.ReasoningSummaryTextDone: Accumulator._summary_done,
    ev.ReasoningTextDelta: Accumulator._reasoning_delta,
    ev.ReasoningTextDone: Accumulator._reasoning_done,
    ev.ShellCallCommandAdded: Accumulator._shell_command,
    ev.ShellCallCommandDelta: Accumulator._shell_command,
    ev.ShellCallCommandDone: Accumulator._shell_command,
}
