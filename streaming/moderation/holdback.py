"""Hold mode: streamed text waits in the worker until the moderator has passed it.

The gate sits between the runner and the LogWriter. Nothing waits until a text delta
arrives; from then on every event (the text and whatever follows it) is held, in order, until
the held text reaches a checkpoint (a sentence end, or `MODERATION_HOLD_CHARS` characters) and
the moderator passes it. Then all of it goes to the writer and the accumulator, so the log and
the turn's stored output hold only what was shown. A terminal event, an `error` event or the
end of the stream checks whatever is left.

A flagged checkpoint ends the turn: the held events are dropped, a `relay.error` of kind
`moderation` is logged, the held text is kept on the turn for reviewers, and `HeldBack` is
raised for the runner, which closes the upstream request by leaving the stream. A moderator
that keeps failing ends the turn the same way (fail closed: nothing unchecked is shown).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from streaming.eventlog.writer import LogWriter
from streaming.moderation.endpoints import ModerationEndpoints
from streaming.moderation.moderators import (
    Moderator,
    Verdict,
    check_with_retries,
    moderator_from_settings,
)
from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import RelayError, StreamEvent
from streaming.protocol.statuses import TERMINAL_EVENT_TYPES
from streaming.upstream.client import RawEvent

# Streamed text the chat page shows as prose.
TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
    }
)
SENTENCE_END = re.compile(r"[.!?…][\"')\]*_]*(?:\s|$)|\n")


class HeldBack(Exception):
    """A checkpoint did not pass: the turn ends `failed` with this message."""


def gate_for(
    writer: LogWriter,
    *,
    client: httpx.AsyncClient | None = None,
    endpoints: ModerationEndpoints | None = None,
) -> HoldGate | None:
    """The gate for a turn's writer when `MODERATION_MODE` is `hold`, else None. `client`,
    `endpoints`: the worker's upstream client and what it learned of moderations endpoints."""
    if settings.MODERATION_MODE != "hold":
        return None
    return HoldGate(
        writer, chars=settings.MODERATION_HOLD_CHARS, client=client, endpoints=endpoints
    )


class HoldGate:
    """`moderator` None: made from settings at the first checkpoint, where a bad setting
    fails the turn like a moderator that does not answer."""

    def __init__(
        self,
        writer: LogWriter,
        moderator: Moderator | None = None,
        *,
        chars: int,
        client: httpx.AsyncClient | None = None,
        endpoints: ModerationEndpoints | None = None,
    ) -> None:
        self.writer = writer
        self.moderator = moderator
        self.client = client
        self.endpoints = endpoints
        self.chars = chars
        self.held: list[tuple[str, StreamEvent, float]] = []
        self.text = ""  # held text not yet checked
        self.context = ""  # the tail of passed text, checked again with the next checkpoint
        self.stats = HoldStats()

    async def feed(self, batch: list[RawEvent], acc: Accumulator) -> None:
        """Hold a batch (one network read); check once if it reaches a checkpoint. A batch
        is judged whole, so a backlog behind a slow moderator costs one check, not one per
        sentence."""
        arrived = time.monotonic()
        closing = False
        for raw, event in batch:
            self.held.append((raw, event, arrived))
            if event.type in TEXT_DELTAS:
                self.text += getattr(event, "delta", "") or ""
            closing = closing or event.type in TERMINAL_EVENT_TYPES
        if closing or self._at_checkpoint():
            await self._checkpoint(acc)
        elif not self.text:
            self._release(acc)

    async def end(self, acc: Accumulator) -> None:
        """The stream ended (or failed): check and release what is left."""
        if self.held:
            await self._checkpoint(acc)
        self.writer.turn_updates["moderation"] = {"hold": self.stats.as_json()}

    def _at_checkpoint(self) -> bool:
        return len(self.text) >= self.chars or bool(self.text and SENTENCE_END.search(self.text))

    async def _checkpoint(self, acc: Accumulator) -> None:
        text, self.text = self.text, ""
        if text.strip():
            verdict = await self._check(text)
            if verdict.flagged:
                raise self._stop(text, verdict.categories or ["flagged"], verdict)
            self.context = (self.context + text)[-self.chars :]
        self._release(acc)

    async def _check(self, text: str) -> Verdict:
        started = time.monotonic()
        failures: list[str] = []
        try:
            self.moderator = self.moderator or moderator_from_settings(
                client=self.client, endpoints=self.endpoints
            )
            verdicts = await check_with_retries(
                self.moderator,
                [self.context + text],
                retries=min(settings.MODERATION_RETRIES, 1),
                delay=0.2,
                failures=failures,
            )
        except Exception:
            raise self._stop(text, ["unavailable"], None, failures=failures) from None
        self.stats.checked(time.monotonic() - started)
        return verdicts[0]

    def _release(self, acc: Accumulator) -> None:
        now = time.monotonic()
        for raw, event, arrived in self.held:
            self.writer.add(event.type, raw)
            acc.feed(event)
            if event.type in TEXT_DELTAS:
                self.stats.delayed(now - arrived)
        self.held.clear()

    def _stop(
        self,
        text: str,
        categories: list[str],
        verdict: Verdict | None,
        *,
        failures: list[str] | None = None,
    ) -> HeldBack:
        """Drop what is held, log why, keep the text for reviewers; the caller raises."""
        self.held.clear()
        message = f"moderation: {', '.join(categories)}"
        self.writer.add_model(RelayError(kind="moderation", message=message))
        moderation: dict[str, Any] = {
            "source": getattr(self.moderator, "name", "none"),
            "checked_at": timezone.now().isoformat(),
            "held_text": text,
            "hold": self.stats.as_json(),
        }
        if verdict is not None:
            moderation.update(
                categories=verdict.categories, scores=verdict.scores, held=verdict.as_json()
            )
        if failures:
            moderation["failures"] = failures
        fallback = getattr(self.moderator, "fallback", "")  # set when the rules stood in
        if fallback:
            moderation["fallback"] = fallback
        self.writer.turn_updates.update(
            flagged=verdict is not None,
            moderation_status="flagged" if verdict is not None else "error",
            moderation=moderation,
        )
        return HeldBack(message)


class HoldStats:
    """What holding cost: moderator calls, and how long text waited before it was shown."""

    def __init__(self) -> None:
        self.checkpoints = 0
        self.check_seconds = 0.0
        self.deltas = 0
        self.delay_total = 0.0
        self.delay_max = 0.0

    def checked(self, seconds: float) -> None:
        self.checkpoints += 1
        self.check_seconds += seconds

    def delayed(self, seconds: float) -> None:
        self.deltas += 1
        self.delay_total += seconds
        self.delay_max = max(self.delay_max, seconds)

    def as_json(self) -> dict[str, Any]:
        return {
            "checkpoints": self.checkpoints,
            "check_ms": round(self.check_seconds * 1000, 1),
            "deltas": self.deltas,
            "delay_ms_mean": round(self.delay_total / self.deltas * 1000, 1) if self.deltas else 0,
            "delay_ms_max": round(self.delay_max * 1000, 1),
        }
