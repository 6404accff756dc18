"""The background consumer on `streaming.worker`: turns channel messages into runs.

A message is only a wake-up; `runner.turn_run` claims the turn row, so duplicates are
harmless. Each turn runs as its own task: the consumer must keep receiving (more turns,
cancel messages) while turns stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from typing import Any

import httpx
from channels.consumer import AsyncConsumer
from channels.routing import ChannelNameRouter
from channels.worker import Worker
from django.conf import settings

from streaming.moderation.endpoints import ModerationEndpoints
from streaming.services.turns import WORKER_CHANNEL
from streaming.upstream.client import UpstreamConfig, make_client
from streaming.worker.runner import TurnRun, turn_run
from streaming.worker.sweep import sweep_forever

log = logging.getLogger(__name__)


class StreamWorker(AsyncConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tasks: set[asyncio.Task[None]] = set()
        self._own_runs: dict[str, TurnRun] = {}

    @property
    def runs(self) -> dict[str, TurnRun]:
        """The process's running turns, shared with `RelayWorker` so it can drain them."""
        return self.scope.get("relay_runs", self._own_runs)

    @property
    def client(self) -> httpx.AsyncClient | None:
        """`RelayWorker`'s upstream client; None elsewhere (each turn then makes its own)."""
        return self.scope.get("relay_client")

    @property
    def endpoints(self) -> ModerationEndpoints | None:
        """What `RelayWorker` learned of moderations endpoints; None elsewhere."""
        return self.scope.get("relay_endpoints")

    async def stream_run(self, message: dict[str, Any]) -> None:
        turn_id = _turn_id(message)
        if turn_id is None or turn_id in self.runs:
            return
        task = asyncio.create_task(
            turn_run(
                turn_id=turn_id,
                owner=self.channel_name,
                runs=self.runs,
                client=self.client,
                endpoints=self.endpoints,
            )
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
    """channels' Worker, plus the sweep (lost wake-ups, expired leases), one upstream client
    for everything it runs (a connection pool on its loop) with one memory of moderations
    endpoints (missing or failing ones: `moderation/endpoints.py`), and a graceful stop: on
    SIGTERM (or `shutdown()`) it takes no new turns, lets running ones finish for
    `RELAY_SHUTDOWN_GRACE` seconds, then hands the background-mode ones over to the next
    process (which re-attaches upstream) and ends the rest `interrupted`."""

    def __init__(self, *args: Any, handle_signals: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runs: dict[str, TurnRun] = {}
        self.client: httpx.AsyncClient | None = None
        self.endpoints = ModerationEndpoints()
        self.handle_signals = handle_signals
        self._stop: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None

    def get_or_create_application_instance(self, scope_id: str, scope: dict) -> Any:
        return super().get_or_create_application_instance(
            scope_id,
            {
                **scope,
                "relay_runs": self.runs,
                "relay_client": self.client,
                "relay_endpoints": self.endpoints,
            },
        )

    async def handle(self) -> None:
        async with make_client(UpstreamConfig.from_settings()) as self.client:
            try:
                await self._serve(self.client)
            finally:
                self.client = None

    async def _serve(self, client: httpx.AsyncClient) -> None:
        self._stop, self._drained = asyncio.Event(), asyncio.Event()
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self._stop.set)
        sweeper = asyncio.ensure_future(
            sweep_forever(
                startup_all=settings.RELAY_WORKER_IN_PROCESS,
                client=client,
                runs=self.runs,
                endpoints=self.endpoints,
            )
        )
        listening = asyncio.ensure_future(super().handle())
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sweeper, listening, stopping):
                task.cancel()
            await self._drain()
            self._drained.set()
        if listening.done() and not listening.cancelled() and listening.exception():
            raise listening.exception()  # type: ignore[misc]

    async def shutdown(self) -> None:
        """Stop taking turns and drain; returns once every running turn has ended."""
        if self._stop is None or self._drained is None:
            return
        self._stop.set()
        await self._drained.wait()

    async def _drain(self) -> None:
        tasks = [run.task for run in self.runs.values() if run.task is not None]
        if not tasks:
            return
        grace = settings.RELAY_SHUTDOWN_GRACE
        log.warning("stopping: waiting up to %ss for %d running turns", grace, len(tasks))
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for run in list(self.runs.values()):  # background ones go on in the next process
            run.cancel("handover" if run.background else "interrupted")
        if pending:
            await asyncio.wait(pending, timeout=10)
