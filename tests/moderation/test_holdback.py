"""The hold gate alone: simulator event lists fed through it into a recording writer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streaming.moderation.holdback import SENTENCE_END, HeldBack, HoldGate
from streaming.moderation.moderators import DEFAULT_RULES, ModerationError, RuleModerator, Verdict
from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import parse_event
from streaming.simulator.params import parse_params
from streaming.simulator.scenarios import SCENARIOS, build_events


class RecordingWriter:
    """What the LogWriter would have been given."""

    def __init__(self) -> None:
        self.added: list[tuple[str, dict[str, Any]]] = []
        self.turn_updates: dict[str, Any] = {}

    def add(self, kind: str, data: str) -> None:
        self.added.append((kind, json.loads(data)))

    def add_model(self, event: Any) -> None:
        self.add(event.type, event.model_dump_json(exclude_none=True))

    @property
    def text(self) -> str:
        return "".join(e["delta"] for k, e in self.added if k == "response.output_text.delta")


class CountingModerator:
    name = "counting"

    def __init__(self, rules: dict[str, list[str]] | None = None, *, fail: bool = False) -> None:
        self.rules = RuleModerator(DEFAULT_RULES if rules is None else rules)
        self.fail = fail
        self.texts: list[str] = []

    async def check(self, texts: list[str]) -> list[Verdict]:
        self.texts.extend(texts)
        if self.fail:
            raise ModerationError("down")
        return await self.rules.check(texts)


def stream(text: str, *, batch: int = 1) -> list[list[tuple[str, Any]]]:
    """The simulator's events for `text` (a `[sim:…]` keyword), in batches of `batch`."""
    request = {"model": "sim-markdown", "input": text}
    events = build_events(request, parse_params(request, SCENARIOS), id_seed=1, created_at=1)
    raws = [json.dumps(e) for e in events]
    pairs = [(raw, parse_event(raw)) for raw in raws]
    return [pairs[i : i + batch] for i in range(0, len(pairs), batch)]


async def run(gate: HoldGate, batches: list[list[tuple[str, Any]]], acc: Accumulator) -> None:
    for batch in batches:
        await gate.feed(batch, acc)
    await gate.end(acc)


async def test_clean_text_passes_whole_and_in_order() -> None:
    """Everything upstream sent reaches the writer, in order, once the checkpoints pass."""
    writer, moderator, acc = RecordingWriter(), CountingModerator(), Accumulator()
    gate = HoldGate(writer, moderator, chars=200)  # type: ignore[arg-type]
    batches = stream("x [sim:markdown tps=0 deltas=60 seed=3]", batch=3)
    await run(gate, batches, acc)
    sent = [json.loads(raw) for batch in batches for raw, _ in batch]
    assert [e for _, e in writer.added] == sent
    assert acc.output_text == writer.text and acc.terminal_type == "response.completed"
    stats = writer.turn_updates["moderation"]["hold"]
    assert stats["checkpoints"] == len(moderator.texts) > 3
    assert stats["deltas"] == 60


async def test_events_before_any_text_pass_at_once() -> None:
    writer, moderator = RecordingWriter(), CountingModerator()
    gate = HoldGate(writer, moderator, chars=200)  # type: ignore[arg-type]
    batches = stream("x [sim:markdown tps=0 deltas=20 seed=3]")
    kinds = []
    for batch in batches:
        kinds.append(batch[0][1].type)
        if kinds[-1] == "response.output_text.delta":
            break
        await gate.feed(batch, Accumulator())
    assert [k for k, _ in writer.added] == kinds[:-1]
    assert moderator.texts == []


async def test_text_waits_for_a_sentence_end_or_the_size_limit() -> None:
    """Between checkpoints, what is held unchecked has no sentence end and is under `chars`;
    shown plus held is always exactly what upstream sent."""
    writer, moderator = RecordingWriter(), CountingModerator()
    gate = HoldGate(writer, moderator, chars=40)  # type: ignore[arg-type]
    sent = ""
    held_at_some_point = False
    for batch in stream("x [sim:markdown tps=0 deltas=200 seed=5]"):
        for _, event in batch:
            sent += getattr(event, "delta", "") if event.type.endswith("output_text.delta") else ""
        await gate.feed(batch, Accumulator())
        assert len(gate.text) < 40 and not SENTENCE_END.search(gate.text)
        assert writer.text + gate.text == sent
        held_at_some_point |= bool(gate.text)
    assert held_at_some_point and len(moderator.texts) > 10


async def test_a_flagged_checkpoint_drops_what_is_held_and_stops() -> None:
    """Text before the flagged checkpoint is shown; the checkpoint and all after it are not."""
    writer, moderator = RecordingWriter(), CountingModerator({"test": [r"\bPoints\b"]})
    acc = Accumulator()
    gate = HoldGate(writer, moderator, chars=200)  # type: ignore[arg-type]
    with pytest.raises(HeldBack, match=r"^moderation: test$"):
        await run(gate, stream("x [sim:markdown tps=0 deltas=80 seed=4]"), acc)
    shown = writer.text
    assert shown and "Points" not in shown
    error = {"type": "relay.error", "kind": "moderation", "message": "moderation: test"}
    assert writer.added[-1] == ("relay.error", error)
    assert acc.output_text == shown
    updates = writer.turn_updates
    assert updates["flagged"] is True and updates["moderation_status"] == "flagged"
    assert "Points" in updates["moderation"]["held_text"]
    assert updates["moderation"]["categories"] == ["test"]


async def test_a_moderator_that_fails_shows_nothing_more() -> None:
    """Hold mode fails closed: unchecked text is never shown."""
    writer, moderator = RecordingWriter(), CountingModerator(fail=True)
    gate = HoldGate(writer, moderator, chars=200)  # type: ignore[arg-type]
    with pytest.raises(HeldBack, match="moderation: unavailable"):
        await run(gate, stream("x [sim:markdown tps=0 deltas=20 seed=4]"), Accumulator())
    assert writer.text == ""
    assert writer.turn_updates["moderation_status"] == "error"
    assert writer.turn_updates["flagged"] is False
    assert len(writer.turn_updates["moderation"]["failures"]) == 2  # tried, then once more
