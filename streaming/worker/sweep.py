"""Keeps nothing stuck: wakes turns whose wake-up was lost, ends turns whose worker died or
whose approval nobody gave in time, and checks finished turns whose moderation check a dead
worker left undone."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from streaming import selectors
from streaming.eventlog.store import db
from streaming.moderation.endpoints import ModerationEndpoints
from streaming.services import approvals, moderation
from streaming.services import turns as services
from streaming.upstream.background import resume_point
from streaming.worker import runner

log = logging.getLogger(__name__)
_resuming: set[asyncio.Task[None]] = set()  # resumed turns' tasks, kept from the collector


async def _resumable(turn: Any) -> bool:
    rows = await db(selectors.turn_log_rows, turn=turn)
    response_id, _, background = resume_point(rows)
    return background and response_id is not None


async def sweep_forever(
    *,
    startup_all: bool,
    client: httpx.AsyncClient | None = None,
    runs: dict[str, Any] | None = None,
    endpoints: ModerationEndpoints | None = None,
) -> None:
    """With `startup_all` (one embedded process), every turn left streaming by a previous
    run of the process is taken at once, without waiting for its lease to expire. `client`
    and `endpoints` (what the worker learned of moderations endpoints): the worker's, for
    moderation and resumed turns. `runs`: the worker's
    running turns; with it, a taken turn that ran in background mode is resumed here
    (otherwise, and for the others, it ends `interrupted`)."""
    owner = f"sweep.{uuid.uuid4().hex}"
    everything = startup_all
    checking: asyncio.Task[None] | None = None
    try:
        while True:
            try:
                await sweep_once(
                    owner=owner,
                    everything=everything,
                    runs=runs,
                    client=client,
                    endpoints=endpoints,
                )
                everything = False
            except Exception:
                log.exception("the sweep failed; trying again later")
            # Beside the sweep, not in it: with the moderator down, checks take their
            # timeouts and retries, and leases must still be watched meanwhile.
            if checking is None or checking.done():
                checking = asyncio.ensure_future(
                    moderate_left_unchecked(client=client, endpoints=endpoints)
                )
            await asyncio.sleep(settings.RELAY_SWEEP_INTERVAL)
    finally:
        if checking is not None:
            checking.cancel()


async def sweep_once(
    *,
    owner: str,
    everything: bool = False,
    runs: dict[str, Any] | None = None,
    client: httpx.AsyncClient | None = None,
    endpoints: ModerationEndpoints | None = None,
) -> None:
    for turn in await db(services.turn_take_over_expired, owner=owner, everything=everything):
        if runs is not None and await _resumable(turn):
            task = asyncio.ensure_future(
                runner.turn_resume(
                    turn=turn, owner=owner, runs=runs, client=client, endpoints=endpoints
                )
            )
            _resuming.add(task)
            task.add_done_callback(_resuming.discard)
            continue
        await services.turn_interrupt(turn=turn, owner=owner)
    for turn in await db(approvals.turn_take_over_waiting, owner=owner):
        await approvals.turn_expire_waiting(turn=turn, owner=owner)
    await _fail_unclaimed(owner=owner)
    layer = get_channel_layer()
    left = await db(selectors.turns_left_queued, older_than=settings.RELAY_SWEEP_INTERVAL)
    for turn_id in left:
        await layer.send(services.WORKER_CHANNEL, {"type": "stream.run", "turn": str(turn_id)})


async def _fail_unclaimed(*, owner: str) -> None:
    older_than = settings.RELAY_QUEUE_TIMEOUT
    for turn in await db(services.turn_take_unclaimed, owner=owner, older_than=older_than):
        await services.turn_interrupt(
            turn=turn, owner=owner, status="failed", error=services.NO_WORKER
        )


async def web_sweep_forever() -> None:
    """A web process's sweep (no worker in it): a turn whose lease expired a lease period
    ago (no worker took it over, and so none resumed it) ends `interrupted`; a queued turn
    no worker claimed within `RELAY_QUEUE_TIMEOUT` ends `failed`. Nothing stays stuck with
    every worker down."""
    owner = f"websweep.{uuid.uuid4().hex}"
    grace = settings.RELAY_LEASE_SECONDS
    while True:
        try:
            for turn in await db(services.turn_take_over_expired, owner=owner, grace=grace):
                await services.turn_interrupt(turn=turn, owner=owner)
            await _fail_unclaimed(owner=owner)
        except Exception:
            log.exception("the web sweep failed; trying again later")
        await asyncio.sleep(settings.RELAY_SWEEP_INTERVAL)


async def moderate_left_unchecked(
    *, client: httpx.AsyncClient | None = None, endpoints: ModerationEndpoints | None = None
) -> None:
    """Check the finished turns whose check a dead worker never ran, or never finished."""
    stale_before = timezone.now() - moderation.STALE_AFTER
    try:
        turn_ids = await db(selectors.turns_left_unchecked, before=stale_before)
    except Exception:
        log.exception("could not look for unchecked turns; trying again later")
        return
    for turn_id in turn_ids:
        await moderation.turn_moderate(
            turn_id=turn_id, stale_before=stale_before, client=client, endpoints=endpoints
        )
