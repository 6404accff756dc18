"""After a turn ends, its input and output are checked and the verdict stored on the turn.

It runs in the worker once the turn is finished and relayed, so it never delays or fails
the turn: a moderator that fails is retried with backoff, and if every attempt fails the turn
keeps `moderation_status = "error"`. The claim (`"" → "pending"`) makes a second run for the
same turn a no-op; a turn that hold mode already stopped is not checked again.

A worker that dies after a turn ended and before its check ended leaves the turn unchecked
or `pending` for good; the sweep (`streaming/sweep.py`) checks such turns again once they
ended `STALE_AFTER` ago, far longer than a check with all its retries takes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from streaming.logstore import db
from streaming.models import ModerationStatus, Turn
from streaming.moderation import Verdict, check_with_retries, merge, moderator_from_settings

log = logging.getLogger(__name__)

FINAL = ["completed", "incomplete", "failed", "cancelled", "interrupted"]
STALE_AFTER = timedelta(minutes=5)  # a check gives up within a minute (timeouts, retries)
UNFINISHED = [ModerationStatus.UNCHECKED, ModerationStatus.PENDING]


async def turn_moderate(*, turn_id: Any, stale_before: Any = None) -> None:
    """Check a finished turn once. Never raises (except cancellation). With `stale_before`
    (the sweep), a turn that ended before then and was left unchecked or `pending` is
    claimed again."""
    if settings.MODERATION_MODE == "off":
        return
    try:
        texts = await db(_claim, turn_id, stale_before)
        if texts is not None:
            await _check(turn_id, texts)
    except Exception:
        log.exception("moderation of turn %s failed", turn_id)


async def _check(turn_id: Any, texts: dict[str, str]) -> None:
    failures: list[str] = []
    labels = [label for label, text in texts.items() if text.strip()]
    try:
        moderator = moderator_from_settings()
        verdicts = await check_with_retries(
            moderator,
            [texts[label] for label in labels],
            retries=settings.MODERATION_RETRIES,
            delay=settings.MODERATION_RETRY_DELAY,
            failures=failures,
        )
    except Exception as exc:
        log.error(
            "moderation of turn %s gave up after %d attempts: %s", turn_id, len(failures), exc
        )
        await db(_store_error, turn_id, failures or [str(exc)])
        return
    await db(_store, turn_id, moderator.name, dict(zip(labels, verdicts, strict=True)), failures)


def turns_left_unchecked(*, before: Any) -> list[Any]:
    """Ids of turns that ended before `before` and were never checked, or whose check never
    ended (its worker died)."""
    if settings.MODERATION_MODE == "off":
        return []
    return list(_left_unchecked(before).values_list("pk", flat=True)[:100])


def _left_unchecked(before: Any) -> Any:
    return Turn.objects.filter(
        status__in=FINAL, moderation_status__in=UNFINISHED, finished_at__lt=before
    )


def _claim(turn_id: Any, stale_before: Any = None) -> dict[str, str] | None:
    if stale_before is None:
        turns = Turn.objects.filter(
            pk=turn_id, moderation_status=ModerationStatus.UNCHECKED, status__in=FINAL
        )
    else:
        turns = _left_unchecked(stale_before).filter(pk=turn_id)
    claimed = turns.update(moderation_status=ModerationStatus.PENDING)
    if not claimed:
        return None
    turn = Turn.objects.only("input", "output_text").get(pk=turn_id)
    return {"input": turn.input, "output": turn.output_text}


def _store(turn_id: Any, source: str, verdicts: dict[str, Verdict], failures: list[str]) -> None:
    verdict = merge(list(verdicts.values()))
    moderation = {
        **_current(turn_id),
        **{label: v.as_json() for label, v in verdicts.items()},
        "source": source,
        "checked_at": timezone.now().isoformat(),
        "attempts": len(failures) + 1,
        "categories": verdict.categories,
        "scores": verdict.scores,
    }
    if failures:
        moderation["failures"] = failures
    status = ModerationStatus.FLAGGED if verdict.flagged else ModerationStatus.CLEAN
    Turn.objects.filter(pk=turn_id).update(
        flagged=verdict.flagged, moderation_status=status, moderation=moderation
    )


def _store_error(turn_id: Any, failures: list[str]) -> None:
    moderation = {
        **_current(turn_id),
        "checked_at": timezone.now().isoformat(),
        "attempts": len(failures),
        "failures": failures,
    }
    Turn.objects.filter(pk=turn_id).update(
        moderation_status=ModerationStatus.ERROR, moderation=moderation
    )


def _current(turn_id: Any) -> dict[str, Any]:
    moderation = Turn.objects.filter(pk=turn_id).values_list("moderation", flat=True).first()
    return moderation if isinstance(moderation, dict) else {}
