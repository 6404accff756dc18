"""A turn waiting on MCP approvals: it waits with no worker held, its owner answers each
request, and the last answer queues it again for any worker."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from streaming.eventlog.writer import LogWriter
from streaming.models import Turn
from streaming.protocol.fold import TurnFold
from streaming.services.turns import released_fields, worker_wake
from streaming.worker.approvals import pending_ids


class NotPending(Exception):
    """No such approval request is waiting for an answer on this turn."""


async def turn_wait(*, writer: LogWriter, turn: Turn, fold: TurnFold) -> None:
    """Store what streamed so far and give up the lease: the turn is `waiting`."""
    now = timezone.now()
    turn.status, turn.waiting_since = Turn.Status.WAITING, now
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
