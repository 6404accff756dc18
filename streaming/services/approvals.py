"""A turn waiting on MCP approvals: it waits with no worker held, its owner answers each
request, and the last answer queues it again for any worker."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from streaming import selectors
from streaming.eventlog.store import LeaseLost, db
from streaming.eventlog.writer import LogWriter
from streaming.logs import turn_logger
from streaming.models import Turn
from streaming.protocol.events import RelayTurnWaiting
from streaming.protocol.fold import TurnFold
from streaming.services.turns import released_fields, turn_finish, worker_wake
from streaming.worker.approvals import pending_ids


class NotPending(Exception):
    """No such approval request is waiting for an answer on this turn."""


async def turn_wait(*, writer: LogWriter, turn: Turn, fold: TurnFold) -> None:
    """Log `relay.turn.waiting`, store what streamed so far and give up the lease: the turn
    is `waiting`."""
    now = timezone.now()
    turn.status, turn.waiting_since = Turn.Status.WAITING, now
    last = fold.requests[-1].output if fold.requests else []
    writer.add_model(RelayTurnWaiting(approval_request_ids=pending_ids(last)))
    writer.turn_updates.update(
        released_fields(fold=fold, usage=fold.usage), status=Turn.Status.WAITING, waiting_since=now
    )
    try:
        await writer.flush()
    finally:
        writer.close()


def turn_approve(*, turn: Turn, approval_request_id: str, approve: bool) -> None:
    """Record the owner's answer; with every request answered, queue the turn and wake a
    worker after the commit. Raises `NotPending` for a request that is not waiting."""
    with transaction.atomic():
        row = Turn.objects.select_for_update().get(pk=turn.pk)
        waiting = pending_ids(row.output) if row.status == Turn.Status.WAITING else []
        if approval_request_id not in waiting or approval_request_id in row.approvals:
            raise NotPending("that approval request is not waiting for an answer")
        row.approvals = {**row.approvals, approval_request_id: approve}
        fields = ["approvals"]
        if all(i in row.approvals for i in waiting):
            row.status, row.waiting_since = Turn.Status.QUEUED, None
            fields += ["status", "waiting_since"]
            transaction.on_commit(lambda: worker_wake(turn_id=row.pk))
        row.save(update_fields=fields)


def turn_take_over_waiting(*, owner: str) -> list[Turn]:
    """Claim the turns nobody answered within `RELAY_APPROVAL_TIMEOUT`, to end them. The
    claim is conditional on `waiting`, so an answer given meanwhile wins or loses whole."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.RELAY_APPROVAL_TIMEOUT)
    taken = []
    for turn_id in selectors.turns_left_waiting(before=cutoff):
        won = Turn.objects.filter(
            pk=turn_id, status=Turn.Status.WAITING, waiting_since__lt=cutoff
        ).update(
            status=Turn.Status.STREAMING,
            waiting_since=None,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=settings.RELAY_LEASE_SECONDS),
        )
        if won:
            taken.append(Turn.objects.select_related("conversation").get(pk=turn_id))
    return taken


def approval_timed_out() -> str:
    minutes = settings.RELAY_APPROVAL_TIMEOUT / 60
    wait = f"{minutes:g} minutes" if minutes >= 1 else f"{settings.RELAY_APPROVAL_TIMEOUT:g} s"
    return f"nobody answered the tool approval request within {wait}, so the tool was not run"


async def turn_expire_waiting(*, turn: Turn, owner: str) -> None:
    """End a taken-over waiting turn `incomplete`, keeping what streamed (from its log)."""
    rows = await db(selectors.turn_log_rows, turn=turn)
    writer = LogWriter(turn, owner=owner)
    writer.next_seq = len(rows)
    fold = TurnFold.from_log(rows)
    message = approval_timed_out()
    try:
        await turn_finish(writer=writer, turn=turn, fold=fold, status="incomplete", error=message)
    except LeaseLost:
        turn_logger(turn.pk, __name__).warning("taken by another sweep")
    else:
        turn_logger(turn.pk, __name__).info("incomplete: %s", message)
