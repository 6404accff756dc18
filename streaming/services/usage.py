"""Usage: each finished turn adds its tokens to its user's daily total for its model.

One write per turn, after the turn's final row is stored (`turn_finish`); never per event.
Concurrent turns of one user add to the same row with `UPDATE … SET n = n + …`, so no turn's
tokens are lost to another's read-modify-write.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from streaming.models import Conversation, Turn, UsageDaily
from streaming.protocol.fold import TurnFold
from streaming.protocol.usage import Tokens, tokens_from

log = logging.getLogger(__name__)


def turn_tokens(fold: TurnFold) -> Tokens:
    return tokens_from(acc.usage for acc in fold.requests)


def usage_record(*, turn: Turn, tokens: Tokens) -> None:
    """Add a finished turn's tokens to its owner's total for its model and day."""
    if tokens == Tokens():
        return
    owner_id = (
        Conversation.objects.filter(pk=turn.conversation_id)
        .values_list("owner_id", flat=True)
        .first()
    )
    if owner_id is None:
        return  # the conversation was deleted meanwhile
    day = timezone.localdate(turn.finished_at or timezone.now())
    _usage_add(user_id=owner_id, model=turn.model, day=day, tokens=tokens)


def _usage_add(*, user_id: Any, model: str, day: date, tokens: Tokens) -> None:
    key = {"user_id": user_id, "model": model, "day": day}
    increments = {
        "turns": F("turns") + 1,
        "input_tokens": F("input_tokens") + tokens.input_tokens,
        "cached_input_tokens": F("cached_input_tokens") + tokens.cached_input_tokens,
        "output_tokens": F("output_tokens") + tokens.output_tokens,
        "reasoning_tokens": F("reasoning_tokens") + tokens.reasoning_tokens,
    }
    with transaction.atomic():
        if UsageDaily.objects.filter(**key).update(**increments):
            return
        try:
            with transaction.atomic():
                UsageDaily.objects.create(
                    **key,
                    turns=1,
                    input_tokens=tokens.input_tokens,
                    cached_input_tokens=tokens.cached_input_tokens,
                    output_tokens=tokens.output_tokens,
                    reasoning_tokens=tokens.reasoning_tokens,
                )
        except IntegrityError:  # another turn created the row first: add to it
            UsageDaily.objects.filter(**key).update(**increments)


def usage_record_logged(*, turn: Turn, fold: TurnFold) -> None:
    """`usage_record`, for the worker: a failure is logged, the turn has ended regardless."""
    try:
        usage_record(turn=turn, tokens=turn_tokens(fold))
    except Exception:
        log.exception("could not add the usage of turn %s", turn.pk)
