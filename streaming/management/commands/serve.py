"""Runs the whole app in one process: daphne, and (without Redis) the worker inside it."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class Command(BaseCommand):
    help = "Serve the app with daphne; without REDIS_URL the stream worker runs in-process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        # daphne installs the asyncio Twisted reactor on import: import it here, not above.
        from channels.routing import get_default_application
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        self.server = Server(
            application=get_default_application(),
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            ready_callable=self._ready,
            server_name="streamrelay",
            http_timeout=None,
            websocket_timeout=86400,
            # One event can be large (a long answer's `response.completed` repeats it all).
            websocket_max_message_size=MAX_MESSAGE_BYTES,
            websocket_max_frame_size=MAX_MESSAGE_BYTES,
        )
        self.server.run()
        if not self.server.listening_addresses:
            raise CommandError(f"could not listen on {host}:{port}")

    def _ready(self) -> None:
        if not self.server.listening_addresses:
            return
        host, port = self.server.listening_addresses[0]
        if not settings.OPENAI_BASE_URL and "SIMULATOR_BASE_URL" not in os.environ:
            settings.SIMULATOR_BASE_URL = f"http://127.0.0.1:{port}/simulator/v1"
        if settings.RELAY_WORKER_IN_PROCESS:
            self._start_worker()
        upstream = (
            settings.OPENAI_BASE_URL or f"the built-in simulator ({settings.SIMULATOR_BASE_URL})"
        )
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        self.stdout.write(f"Listening on TCP address {host}:{port}", ending="\n")
        self.stdout.write(f"Open http://{shown}:{port}/  (upstream: {upstream})")
        self.stdout.flush()

    def _start_worker(self) -> None:
        """The worker shares daphne's event loop; on shutdown it drains before the reactor
        stops (daphne owns the signals here)."""
        from channels.layers import get_channel_layer
        from twisted.internet import defer, reactor

        from streaming.services.turns import WORKER_CHANNEL
        from streaming.worker.consumer import RelayWorker, worker_application

        worker = RelayWorker(
            application=worker_application(),
            channels=[WORKER_CHANNEL],
            channel_layer=get_channel_layer(),
            handle_signals=False,
        )
        self.worker_task = asyncio.ensure_future(worker.arun())
        self.worker_task.add_done_callback(_report_worker_exit)
        reactor.addSystemEventTrigger(  # type: ignore[attr-defined]
            "before",
            "shutdown",
            lambda: defer.Deferred.fromFuture(asyncio.ensure_future(worker.shutdown())),
        )


def _report_worker_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the in-process worker stopped", exc_info=task.exception())
