"""After a turn ends, its input and output are checked and the verdict stored on the turn.

It runs in the worker once the turn is finished and relayed, so it never delays or fails
the turn: a moderator that fails is retried with backoff, and if every attempt fails the turn
keeps `moderation_status = "error"`; a moderations endpoint that is missing or resting after
failures is not asked, the rules answer instead (`moderation/endpoints.py`). The claim (`"" → "pending"`) makes a second run for the
same turn a no-op; a turn that hold mode already stopped is not checked again.

A worker that dies after a turn ended and before its check ended leaves the turn unchecked
or `pending` for good; the sweep (`streaming/worker/sweep.py`) checks such turns again once they
ended `STALE_AFTER` ago, far longer than a check with all its retries takes.

The claims and the verdicts of turns that end together are written together
(`streaming/eventlog/batched.py`), in the thread of the log's write rounds: claimed and stored
in transactions of their own, in the executor's threads, many turns ending at once made
SQLite's write rounds wait for the write lock behind them (bench/load.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from streaming import selectors
from streaming.eventlog.batched import Batched
from streaming.eventlog.store import db, db_pk, db_rounds, prepared, update_sql
from streaming.models import ModerationStatus, Turn
from streaming.moderation.endpoints import ModerationEndpoints
from streaming.moderation.moderators import (
    Verdict,
    check_with_retries,
    merge,
    moderator_from_settings,
)
from streaming.protocol.statuses import TURN_FINAL

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=5)  # a check gives up within a minute (timeouts, retries)

Texts = dict[str, str]  # {"input": ..., "output": ...}
Stored = tuple[Any, dict[str, Any], dict[str, Any]]  # (turn id, its fields, `moderation` gains)


async def turn_moderate(
    *,
    turn_id: Any,
    stale_before: Any = None,
    client: httpx.AsyncClient | None = None,
    endpoints: ModerationEndpoints | None = None,
) -> None:
    """Check a finished turn once. Never raises (except cancellation). With `stale_before`
    (the sweep), a turn that ended before then and was left unchecked or `pending` is
    claimed again. `client`, `endpoints`: the worker's upstream client and what it learned
    of moderations endpoints, for the moderator."""
    if settings.MODERATION_MODE == "off":
        return
    try:
        if stale_before is None:
            texts = await _claim_ended(turn_id)
        else:
            texts = await db(turn_moderation_reclaim, turn_id=turn_id, stale_before=stale_before)
        if texts is not None:
            await _check(turn_id, texts, client, endpoints)
    except Exception:
        log.exception("moderation of turn %s failed", turn_id)


async def _check(
    turn_id: Any,
    texts: Texts,
    client: httpx.AsyncClient | None,
    endpoints: ModerationEndpoints | None,
) -> None:
    failures: list[str] = []
    labels = [label for label, text in texts.items() if text.strip()]
    try:
        moderator = moderator_from_settings(client=client, endpoints=endpoints)
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
        await _save(_error_values(turn_id, failures or [str(exc)]))
        return
    by_label = dict(zip(labels, verdicts, strict=True))
    fallback = getattr(moderator, "fallback", "")  # set when the rules stood in
    await _save(_values(turn_id, moderator.name, by_label, failures, fallback=fallback))


def turn_moderation_reclaim(*, turn_id: Any, stale_before: Any) -> Texts | None:
    """The sweep's claim of a turn left unchecked or `pending` before `stale_before`."""
    claimed = (
        selectors.turns_unchecked(before=stale_before)
        .filter(pk=turn_id)
        .update(moderation_status=ModerationStatus.PENDING)
    )
    if not claimed:
        return None
    turn = Turn.objects.only("input", "output_text").get(pk=turn_id)
    return {"input": turn.input, "output": turn.output_text}


def turns_moderation_claim(*, turn_ids: list[Any]) -> list[Texts | None]:
    """Claim every ended, unchecked turn of `turn_ids` (`"" -> "pending"`) in one transaction:
    per turn its texts, or None if it was not there to claim. The rows are locked until the
    update (PostgreSQL; SQLite's transactions take the write lock when they begin), so two
    claimers never both get one."""
    with transaction.atomic():
        rows = (
            Turn.objects.select_for_update()
            .filter(
                pk__in=turn_ids,
                moderation_status=ModerationStatus.UNCHECKED,
                status__in=TURN_FINAL,
            )
            .values_list("pk", "input", "output_text")
        )
        texts = {pk: {"input": text_in, "output": text_out} for pk, text_in, text_out in rows}
        if texts:
            Turn.objects.filter(pk__in=list(texts)).update(
                moderation_status=ModerationStatus.PENDING
            )
    return [texts.get(_as_pk(turn_id)) for turn_id in turn_ids]


def _as_pk(turn_id: Any) -> Any:
    return Turn._meta.pk.to_python(turn_id)  # type: ignore[union-attr]


def _values(
    turn_id: Any,
    source: str,
    verdicts: dict[str, Verdict],
    failures: list[str],
    *,
    fallback: str = "",
) -> Stored:
    """What a check stores. `fallback`: why the rules answered in the endpoint's place."""
    verdict = merge(list(verdicts.values()))
    moderation = {
        **{label: v.as_json() for label, v in verdicts.items()},
        "source": source,
        "checked_at": timezone.now().isoformat(),
        "attempts": len(failures) + 1,
        "categories": verdict.categories,
        "scores": verdict.scores,
    }
    if failures:
        moderation["failures"] = failures
    if fallback:
        moderation["fallback"] = fallback
    status = ModerationStatus.FLAGGED if verdict.flagged else ModerationStatus.CLEAN
    return turn_id, {"flagged": verdict.flagged, "moderation_status": status}, moderation


def _error_values(turn_id: Any, failures: list[str]) -> Stored:
    moderation = {
        "checked_at": timezone.now().isoformat(),
        "attempts": len(failures),
        "failures": failures,
    }
    return turn_id, {"moderation_status": ModerationStatus.ERROR}, moderation


def turns_moderation_store(*, items: list[Stored]) -> list[None]:
    """Store each turn's fields and add to its `moderation`, in one transaction: one read of
    the current `moderation`s, then one statement run for every turn with the same fields."""
    with transaction.atomic():
        current = dict(
            Turn.objects.filter(pk__in=[turn_id for turn_id, _, _ in items]).values_list(
                "pk", "moderation"
            )
        )
        by_fields: dict[tuple[str, ...], list[tuple[Any, list[Any]]]] = {}
        for turn_id, fields, gained in items:
            before = current.get(_as_pk(turn_id))
            moderation = {**(before if isinstance(before, dict) else {}), **gained}
            values = [*fields.values(), moderation]
            by_fields.setdefault((*fields, "moderation"), []).append((turn_id, values))
        with connection.cursor() as cursor:
            for names, rows in by_fields.items():
                sql, columns = update_sql(names, held=False)
                cursor.executemany(
                    sql,
                    [[*prepared(columns, values), db_pk(turn_id)] for turn_id, values in rows],
                )
    return [None] * len(items)


# Batched calls their function with the list of items that came together.
_claim_ended: Batched[Any, Texts | None] = Batched(
    lambda turn_ids: turns_moderation_claim(turn_ids=turn_ids), run=db_rounds
)
_save: Batched[Stored, None] = Batched(
    lambda items: turns_moderation_store(items=items), run=db_rounds
)
