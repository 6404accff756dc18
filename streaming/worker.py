"""The background consumer on `streaming.worker`: turns channel messages into runs.

A message is only a wake-up; `runner.turn_run` claims the turn row, so duplicates are
harmless. Each turn runs as its own task: the consumer must keep receiving (more turns,
cancel messages) while turns stream.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.consumer import AsyncConsumer
from channels.routing import ChannelNameRouter
from channels.worker import Worker
from django.conf import settings

from streaming.runner import TurnRun, turn_run
from streaming.services import WORKER_CHANNEL
from streaming.sweep import sweep_forever

log = logging.getLogger(__name__)


class StreamWorker(AsyncConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runs: dict[str, TurnRun] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def stream_run(self, message: dict[str, Any]) -> None:
        turn_id = _turn_id(message)
        if turn_id is None or turn_id in self.runs:
            return
        task = asyncio.create_task(
            turn_run(turn_id=turn_id, owner=self.channel_name, runs=self.runs)
        )
        self.tasks.add(task)
        task.add_done_callback(self._done)

    async def stream_cancel(self, message: dict[str, Any]) -> None:
        turn_id = _turn_id(message)
        run = self.runs.get(turn_id) if turn_id else None
        if run is not None:
            run.cancel("cancelled")

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a turn task failed", exc_info=task.exception())


def _turn_id(message: dict[str, Any]) -> str | None:
    try:
        return str(uuid.UUID(str(message.get("turn"))))
    except ValueError:
        log.warning("ignoring %s with a bad turn id: %r", message.get("type"), message.get("turn"))
        return None


def worker_application() -> ChannelNameRouter:
    return ChannelNameRouter({WORKER_CHANNEL: StreamWorker.as_asgi()})


class RelayWorker(Worker):
    """channels' Worker plus the sweep (lost wake-ups, expired leases)."""

    async def handle(self) -> None:
        sweeper = asyncio.ensure_future(sweep_forever(startup_all=settings.RELAY_WORKER_IN_PROCESS))
        try:
            await super().handle()
        finally:
            sweeper.cancel()
