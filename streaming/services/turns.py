"""Turn lifecycle: start, cancel, claim, take over, finish, interrupt.

Channel-layer messages are wake-ups only and are sent after the commit; the turn row is the
job, claimed atomically, so a lost or duplicated message never loses or doubles a turn. A
turn ends through its log's writer (`turn_finish`): `relay.turn.done` and the final row are
written in one round, so a reader never sees a final status without the log's last event.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from streaming import selectors
from streaming.accounting.budgets import budget_refusal
from streaming.eventlog.store import LeaseLost, db
from streaming.eventlog.writer import LogWriter
from streaming.logs import turn_logger
from streaming.models import Conversation, Turn
from streaming.protocol.events import RelayTurnDone
from streaming.protocol.fold import TurnFold
from streaming.protocol.statuses import TURN_ACTIVE, FinalStatus
from streaming.services import usage as usage_services
from streaming.services.search import search_index_turn

log = logging.getLogger(__name__)

WORKER_CHANNEL = "streaming.worker"
INTERRUPTED = "the server stopped (restart or crash) before the turn ended"
NO_WORKER = "no worker is running: nothing picked the turn up"


class TurnConflict(Exception):
    """The conversation already has a turn queued or streaming."""


class LimitExceeded(Exception):
    """The user is over a per-user limit; `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def turn_start(
    *,
    conversation: Conversation,
    text: str,
    model: str,
    attachments: list[Any] = (),
    tools: list[str] | None = None,
    beside: Turn | None = None,
) -> Turn:
    """Start a turn with the conversation's instructions, reasoning effort and verbosity,
    after the active leaf, or with `beside` at that turn's place (a new branch); either way
    it becomes the active leaf. `tools`: the catalogue names the turn offers the model
    (checked by the caller); None: the conversation's preset's tools, or else the owner's
    defaults."""
    if tools is None:
        tools = selectors.tool_names_default(user=conversation.owner, preset=conversation.preset)
    try:
        with transaction.atomic():
            _check_limits(conversation.owner_id)
            parent_id = beside.parent_id if beside is not None else _active_leaf(conversation)
            turn = Turn.objects.create(
                conversation=conversation,
                parent_id=parent_id,
                input=text,
                model=model,
                instructions=conversation.instructions,
                reasoning_effort=conversation.reasoning_effort,
                verbosity=conversation.verbosity,
                tools=tools,
            )
            if attachments:
                turn.attachments.set(attachments)
            if not conversation.title:
                conversation.title = _title_from(text)
            conversation.active_leaf = turn
            conversation.save(update_fields=["title", "active_leaf", "updated_at"])
            transaction.on_commit(lambda: worker_wake(turn_id=turn.pk))
    except IntegrityError:
        raise TurnConflict("this conversation already has a turn streaming") from None
    return turn


def _active_leaf(conversation: Conversation) -> Any:
    """The leaf as stored now (the caller's copy may be older), locked on PostgreSQL so a
    switch of branch cannot pass in between."""
    stored = Conversation.objects.select_for_update().filter(pk=conversation.pk)
    leaf = stored.values_list("active_leaf_id", flat=True).first()
    if leaf is None:  # rows written before branches had a leaf: the newest turn
        newest = conversation.turns.order_by("-created_at").values_list("pk", flat=True)
        leaf = newest.first()
    return leaf


def _check_limits(owner_id: Any) -> None:
    """Per-user limits, counted in the database so they hold across processes. The user's
    row is locked first (PostgreSQL), so two requests cannot both pass the count; SQLite
    serialises writing transactions anyway."""
    list(get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk"))
    mine = Turn.objects.filter(conversation__owner_id=owner_id)
    active = mine.filter(status__in=TURN_ACTIVE).count()
    if active >= settings.LIMIT_ACTIVE_TURNS_PER_USER:
        raise LimitExceeded(
            f"you already have {active} answers streaming (the limit is "
            f"{settings.LIMIT_ACTIVE_TURNS_PER_USER}); wait for one to finish or stop it",
            retry_after=5,
        )
    since = timezone.now() - timedelta(minutes=1)
    recent = list(
        mine.filter(created_at__gte=since)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if len(recent) >= settings.LIMIT_TURNS_PER_MINUTE:
        wait = max(1, int((recent[0] - since).total_seconds()) + 1)
        raise LimitExceeded(
            f"at most {settings.LIMIT_TURNS_PER_MINUTE} messages a minute; try again in {wait} s",
            retry_after=wait,
        )
    refusal = budget_refusal(user=owner_id)
    if refusal is not None:
        raise LimitExceeded(refusal.message, retry_after=refusal.retry_after)


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:59] + "…"


def turn_cancel(*, turn: Turn) -> None:
    """Ask the turn's worker to stop. It keeps what streamed so far and ends `cancelled`."""
    with transaction.atomic():
        updated = Turn.objects.filter(pk=turn.pk, status__in=TURN_ACTIVE).update(
            cancel_requested=True
        )
        # A turn waiting on approvals has no worker: queue it, and the one woken ends it.
        Turn.objects.filter(pk=turn.pk, status=Turn.Status.WAITING).update(
            status=Turn.Status.QUEUED
        )
        turn.refresh_from_db(fields=["lease_owner", "status"])
        if updated and turn.lease_owner:
            owner = turn.lease_owner
            transaction.on_commit(
                lambda: _send(owner, {"type": "stream.cancel", "turn": str(turn.pk)})
            )
        elif updated:
            transaction.on_commit(lambda: worker_wake(turn_id=turn.pk))


def worker_wake(*, turn_id: Any) -> None:
    _send(WORKER_CHANNEL, {"type": "stream.run", "turn": str(turn_id)})


def _send(channel: str, message: dict[str, Any]) -> None:
    try:
        async_to_sync(get_channel_layer().send)(channel, message)
    except Exception:  # the sweep picks the turn up; the request must not fail for this
        log.exception("could not send %s to %s", message.get("type"), channel)


def turn_claim(*, turn_id: Any, owner: str) -> Turn | None:
    """Take a queued turn for this worker; None if someone else has it (or it is done)."""
    now = timezone.now()
    claimed = Turn.objects.filter(pk=turn_id, status=Turn.Status.QUEUED).update(
        status=Turn.Status.STREAMING,
        lease_owner=owner,
        lease_expires_at=now + timedelta(seconds=settings.RELAY_LEASE_SECONDS),
        started_at=now,
    )
    if not claimed:
        return None
    return Turn.objects.select_related("conversation").get(pk=turn_id)


def turn_take_over_expired(
    *, owner: str, everything: bool = False, grace: float = 0.0
) -> list[Turn]:
    """Claim streaming turns whose lease expired (their worker died), to end them.

    With `everything`, take every streaming turn: used at start-up of the single embedded
    process, where no other worker can exist. `grace`: only leases expired that many seconds
    ago (a web process leaves workers the first go, since they can resume a turn).
    """
    now = timezone.now()
    candidates = Turn.objects.filter(status=Turn.Status.STREAMING)
    if not everything:
        candidates = candidates.filter(lease_expires_at__lt=now - timedelta(seconds=grace))
    taken = []
    for turn_id, old_owner in candidates.values_list("pk", "lease_owner")[:100]:
        won = Turn.objects.filter(
            pk=turn_id, status=Turn.Status.STREAMING, lease_owner=old_owner
        ).update(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=settings.RELAY_LEASE_SECONDS),
        )
        if won:
            taken.append(Turn.objects.select_related("conversation").get(pk=turn_id))
    return taken


async def turn_finish(
    *, writer: LogWriter, turn: Turn, fold: TurnFold, status: FinalStatus, error: str
) -> None:
    """Append `relay.turn.done` and store the final state, in one flush. Raises `LeaseLost`
    if another worker (or the sweep) ended the turn first."""
    finished = timezone.now()
    turn.status, turn.finished_at = status, finished
    usage = fold.usage
    writer.add_model(
        RelayTurnDone(status=status, error=error or None, usage=usage, timings=turn.timings)
    )
    writer.turn_updates.update(
        released_fields(fold=fold, usage=usage), status=status, error=error, finished_at=finished
    )
    try:
        await writer.flush()
    finally:
        writer.close()
    await db(search_index_turn, turn_id=turn.pk)
    # The turn is stored as finished (and ours: a lost lease raised above): count its usage.
    await db(usage_services.usage_record_logged, turn=turn, fold=fold)


def released_fields(*, fold: TurnFold, usage: Any) -> dict[str, Any]:
    """The fields a turn stores when its worker lets it go (finished, or waiting for an
    approval): what streamed, folded, and no lease."""
    return {
        "output": fold.output,
        "output_text": fold.output_text,
        "usage": usage,
        "response_ids": fold.response_ids,
        "anomalies": fold.anomalies,
        "lease_owner": "",
        "lease_expires_at": None,
    }


def turn_take_unclaimed(*, owner: str, older_than: float) -> list[Turn]:
    """Claim queued turns no worker claimed within `older_than` seconds, to end them."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    left = Turn.objects.filter(status=Turn.Status.QUEUED, created_at__lt=cutoff)
    taken = []
    for turn_id in left.values_list("pk", flat=True)[:100]:
        if turn_claim(turn_id=turn_id, owner=owner) is not None:
            taken.append(Turn.objects.select_related("conversation").get(pk=turn_id))
    return taken


async def turn_interrupt(
    *, turn: Turn, owner: str, status: FinalStatus = "interrupted", error: str = INTERRUPTED
) -> None:
    """End a taken-over turn as `interrupted` (or `status`), its output rebuilt from the
    stored log."""
    rows = await db(selectors.turn_log_rows, turn=turn)
    writer = LogWriter(turn, owner=owner)
    # The row's `next_seq` may lag the log (it is saved on heartbeats): the log, read now
    # that the turn is ours, is what was written.
    writer.next_seq = len(rows)
    fold = TurnFold.from_log(rows)
    try:
        await turn_finish(writer=writer, turn=turn, fold=fold, status=status, error=error)
    except LeaseLost:
        turn_logger(turn.pk, __name__).warning("taken by another sweep")
    else:
        turn_logger(turn.pk, __name__).warning("%s: %s", status, error)
