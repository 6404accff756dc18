"""Runs the whole app in one process: an ASGI server (uvicorn, or daphne with
`RELAY_HTTP_SERVER=daphne`) and, without Redis, the stream worker on the same event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from streaming.management.heap import freeze_startup_heap

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class Command(BaseCommand):
    help = "Serve the app; without REDIS_URL the stream worker runs in-process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if settings.RELAY_HTTP_SERVER == "daphne":
            self._daphne(host, port)
            return
        try:
            import uvloop

            uvloop.run(self._uvicorn(host, port))
        except ImportError:  # no uvloop for this platform
            asyncio.run(self._uvicorn(host, port))

    async def _uvicorn(self, host: str, port: int) -> None:
        """uvicorn on this loop; once it listens, the worker joins it. On SIGTERM uvicorn
        stops taking connections and closes the sockets (pages resume with `?after=`) while
        the worker lets its turns finish for `RELAY_SHUTDOWN_GRACE`, then ends the rest."""
        import uvicorn
        from channels.routing import get_default_application

        config = uvicorn.Config(
            get_default_application(),
            host=host,
            port=port,
            lifespan="off",
            log_config=None,  # Django's logging
            access_log=False,
            server_header=False,
            # One event can be large (a long answer's `response.completed` repeats it all).
            ws_max_size=MAX_MESSAGE_BYTES,
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=int(settings.RELAY_SHUTDOWN_GRACE) + 1,
        )
        server = uvicorn.Server(config)
        serving = asyncio.ensure_future(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 - a flag, no event
            await asyncio.sleep(0.02)
        if not server.started:
            await serving
            raise CommandError(f"could not listen on {host}:{port}")
        bound = server.servers[0].sockets[0].getsockname()
        worker = self._announce(bound[0], bound[1])
        if worker is None:
            await serving
            return
        while not server.should_exit and not serving.done():  # noqa: ASYNC110 - a flag too
            await asyncio.sleep(0.1)
        # Stopping: the worker drains its turns while uvicorn closes the sockets and waits
        # for the requests in flight (the built-in simulator's streams among them).
        await asyncio.gather(serving, worker.shutdown(), return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError):
            await self.worker_task

    def _daphne(self, host: str, port: int) -> None:
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
            websocket_max_message_size=MAX_MESSAGE_BYTES,
            websocket_max_frame_size=MAX_MESSAGE_BYTES,
        )
        self.server.run()
        if not self.server.listening_addresses:
            raise CommandError(f"could not listen on {host}:{port}")

    def _ready(self) -> None:
        """daphne's: it listens; the worker joins its loop and drains before the reactor
        stops (daphne owns the signals here)."""
        if not self.server.listening_addresses:
            return
        host, port = self.server.listening_addresses[0]
        worker = self._announce(host, port)
        if worker is not None:
            from twisted.internet import defer, reactor

            reactor.addSystemEventTrigger(  # type: ignore[attr-defined]
                "before",
                "shutdown",
                lambda: defer.Deferred.fromFuture(asyncio.ensure_future(worker.shutdown())),
            )

    def _announce(self, host: str, port: int) -> Any:
        """The server listens: point the simulator at it, start the in-process worker (the
        one returned, or None), and say where to go."""
        if not settings.OPENAI_BASE_URL and "SIMULATOR_BASE_URL" not in os.environ:
            settings.SIMULATOR_BASE_URL = f"http://127.0.0.1:{port}/simulator/v1"
        worker = self._start_worker() if settings.RELAY_WORKER_IN_PROCESS else None
        if worker is None:  # workers run apart: this process still sees that none is stuck
            from streaming.worker.sweep import web_sweep_forever

            self.sweep_task = asyncio.ensure_future(web_sweep_forever())
        freeze_startup_heap()
        upstream = (
            settings.OPENAI_BASE_URL or f"the built-in simulator ({settings.SIMULATOR_BASE_URL})"
        )
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        self.stdout.write(f"Listening on TCP address {host}:{port}", ending="\n")
        self.stdout.write(f"Open http://{shown}:{port}/  (upstream: {upstream})")
        self.stdout.flush()
        return worker

    def _start_worker(self) -> Any:
        """The worker on the server's event loop, signals left to the server."""
        from channels.layers import get_channel_layer

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
        return worker


def _report_worker_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the in-process worker stopped", exc_info=task.exception())
