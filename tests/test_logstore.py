"""Batched writes of turn logs: rounds, lease isolation, the raw update."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from streaming import logstore
from streaming.logstore import LeaseLost
from streaming.models import Conversation, Turn, TurnEvent

pytestmark = pytest.mark.django_db(transaction=True)


def make_turn(owner: str = "worker-a") -> Turn:
    user, _ = get_user_model().objects.get_or_create(username="bob")
    conversation = Conversation.objects.create(owner=user)
    return Turn.objects.create(
        conversation=conversation, input="hi", model="m", status="completed", lease_owner=owner
    )


def write(turn: Turn, owner: str, first: int, n: int) -> int:
    if not logstore.update_held_turn(turn.pk, owner, {"next_seq": first + n}):
        raise LeaseLost("not held")
    logstore.insert_events(turn.pk, first, [("t", "{}", 0)] * n)
    return n


def test_a_lost_lease_fails_only_its_own_write_in_a_round() -> None:
    """One round, two turns: the one whose lease is gone writes nothing, the other writes."""
    held, lost = make_turn(), make_turn(owner="someone-else")
    results = logstore._run_round(
        [
            functools.partial(write, held, "worker-a", 0, 3),
            functools.partial(write, lost, "worker-a", 0, 2),
        ]
    )
    assert results[0] == 3 and isinstance(results[1], LeaseLost)
    assert TurnEvent.objects.filter(turn=held).count() == 3
    assert not TurnEvent.objects.filter(turn=lost).exists()
    assert Turn.objects.get(pk=held.pk).next_seq == 3


def test_a_database_error_in_a_round_is_isolated_to_its_write() -> None:
    """A duplicate seq fails its write; the round is retried write by write, others land."""
    first, second = make_turn(), make_turn()
    write(first, "worker-a", 0, 2)
    results = logstore._run_round(
        [
            functools.partial(write, first, "worker-a", 1, 1),
            functools.partial(write, second, "worker-a", 0, 2),
        ]
    )
    assert isinstance(results[0], Exception) and results[1] == 2
    assert TurnEvent.objects.filter(turn=first).count() == 2
    assert TurnEvent.objects.filter(turn=second).count() == 2


def test_the_raw_update_converts_each_field_as_the_orm_would() -> None:
    """JSON, dates and text survive `update_held_turn` exactly."""
    turn = make_turn()
    when = dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)
    output = [{"type": "message", "content": [{"type": "output_text", "text": "é ✓"}]}]
    assert logstore.update_held_turn(
        turn.pk, "worker-a", {"output": output, "finished_at": when, "error": "x", "usage": None}
    )
    turn.refresh_from_db()
    assert (turn.output, turn.finished_at, turn.error, turn.usage) == (output, when, "x", None)
    assert not logstore.update_held_turn(turn.pk, "worker-b", {"error": "y"})


async def test_concurrent_writes_share_rounds(monkeypatch) -> None:
    """Writes that arrive while a round runs go together into the next one."""
    turns = [await sync_to_async(make_turn)() for _ in range(12)]
    rounds: list[int] = []
    real = logstore._run_round

    def counting(jobs):
        rounds.append(len(jobs))
        return real(jobs)

    monkeypatch.setattr(logstore, "_run_round", counting)
    batcher = logstore.WriteBatcher()
    results = await asyncio.gather(
        *(batcher.write(functools.partial(write, t, "worker-a", 0, 1)) for t in turns)
    )
    assert results == [1] * 12
    assert sum(rounds) == 12 and len(rounds) < 12
