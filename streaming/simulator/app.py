"""A stand-in for the OpenAI Responses API, as a pure ASGI application (no Django).

Serve it alone with `uvicorn --port 0 streaming.simulator.app:application`, or mount it
under `/simulator/`. `POST /v1/responses` answers with the scenario the request names (see
`docs/simulator.md`), `GET /v1/models` lists the scenarios and `GET /v1/_requests` shows how
the last requests ended, so a test in another process can see that a client went away. Served
alone, that history is open to whoever reaches the port (a test tool); mounted in the app,
`webapp/asgi.py` sends its route to a Django view for staff instead.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from streaming.simulator.background import Background, BackgroundStore, wait_for
from streaming.simulator.faults import (
    FlakyCounter,
    Frame,
    ReplayError,
    Reply,
    error_reply,
    http_fault,
    json_reply,
    replay_blocks,
    replay_final,
    replay_frames,
    replay_path,
    scenario_frames,
    stamped,
)
from streaming.simulator.files import FileStore
from streaming.simulator.hosted import ContainerFiles
from streaming.simulator.params import ParamError, Params, parse_params
from streaming.simulator.scenarios import SCENARIOS, build_events
from streaming.simulator.texts import SERVER_ERROR

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

PREFIX = "/simulator"
HISTORY_PATH = "/v1/_requests"
FLUSH_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Connection:
    """One HTTP exchange: the ASGI channels plus whether the client has gone away."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        self.gone = False
        self._waking: asyncio.Future[None] | None = None

    async def read_body(self) -> bytes:
        body = bytearray()
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.leave()
                return bytes(body)
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES or not message.get("more_body"):
                return bytes(body)

    async def watch(self) -> None:
        """Runs beside the sending, so a disconnect is seen even while a frame is paced."""
        while not self.gone:
            if (await self.receive())["type"] == "http.disconnect":
                self.leave()

    def leave(self) -> None:
        """The client has gone: say so, and end the sender's wait now."""
        self.gone = True
        _wake(self._waking)

    def now(self) -> float:
        """The clock paced frames are due by: the loop's."""
        return asyncio.get_running_loop().time()

    async def wait(self, seconds: float) -> bool:
        """Sleep, waking early if the client leaves; True if it has left.

        One future and one timer, as `asyncio.sleep` uses; `leave` resolves the future. The
        `wait_for` on an event this replaces cost a task and a timeout per paced frame.
        """
        if seconds > 0 and not self.gone:
            loop = asyncio.get_running_loop()
            self._waking = waking = loop.create_future()
            timer = None if math.isinf(seconds) else loop.call_later(seconds, _wake, waking)
            try:
                await waking
            finally:
                self._waking = None
                if timer is not None:
                    timer.cancel()
        return self.gone

    async def reply(self, reply: Reply) -> None:
        start = {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        await self.send(start)
        await self.send({"type": "http.response.body", "body": reply.body})


class ConnectionCut(Exception):
    """Raised by the `drop` scenario after its last delta, to cut the connection mid-body.

    ASGI has no message that aborts a response. What it does define is that an application
    raising after the response has started leaves the server nothing to do but close the
    connection without the body's last chunk, which is what a dying upstream looks like to
    the client. Every ASGI server does that, so nothing of the server is reached into.
    """


def _header(scope: dict[str, Any], name: bytes) -> str:
    values = [v for k, v in scope.get("headers", []) if k.lower() == name]
    return values[-1].decode("latin-1") if values else ""


def _wake(waking: asyncio.Future[None] | None) -> None:
    if waking is not None and not waking.done():
        waking.set_result(None)


class Batch:
    """Frames gathered into one `http.response.body` message of up to FLUSH_BYTES.

    With `stamp`, the deltas' `sim_sent_ms` is filled in as the message is handed over.
    """

    def __init__(self, connection: Connection, record: dict[str, Any], *, stamp: bool) -> None:
        self.connection = connection
        self.record = record
        self.stamp = stamp
        self.buffer = bytearray()
        self.count = 0

    async def add(self, frame: bytes) -> None:
        if frame:
            self.buffer += frame
            self.count += 1
        if len(self.buffer) >= FLUSH_BYTES:
            await self.flush()
            await asyncio.sleep(0)  # at full speed, lets the disconnect watcher run

    async def flush(self) -> None:
        if not self.buffer:
            return
        body = stamped(bytes(self.buffer)) if self.stamp else bytes(self.buffer)
        self.buffer.clear()
        await self.connection.send({"type": "http.response.body", "body": body, "more_body": True})
        self.record["events_sent"] += self.count
        self.count = 0


def final_reply(events: list[dict[str, Any]]) -> Reply:
    """The non-streamed answer: the terminal response object, or the error that ended it."""
    last = events[-1]
    if "response" in last:
        return json_reply(200, last["response"])
    return error_reply(500, SERVER_ERROR, "server_error", "server_error")


def models_list() -> dict[str, Any]:
    models = [
        {"id": f"sim-{name}", "object": "model", "created": 0, "owned_by": "simulator"}
        for name in SCENARIOS
    ]
    return {"object": "list", "data": models}


ECHOED = ("model", "instructions", "reasoning", "text", "input", "previous_response_id")
ECHO_CHARS = 4096


def _short(value: Any) -> Any:
    """`value` with strings past ECHO_CHARS cut to their start and length (a 10 MB data URL
    is not kept 200 times over)."""
    if isinstance(value, str) and len(value) > ECHO_CHARS:
        return f"{value[:200]}…({len(value)} characters)"
    if isinstance(value, list):
        return [_short(v) for v in value]
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    return value


def local_path(scope: dict[str, Any]) -> str:
    path = scope["path"].removeprefix(scope.get("root_path") or "")
    if path.startswith(PREFIX + "/"):
        path = path.removeprefix(PREFIX)
    return path.rstrip("/") or "/"


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class SimulatorApp:
    """The ASGI application; each instance keeps its own request history and flaky counter."""

    def __init__(self, *, history: int = 200, store: Path | None = None) -> None:
        self.requests: deque[dict[str, Any]] = deque(maxlen=history)
        self.flaky = FlakyCounter()
        self.containers = ContainerFiles()
        self.background = BackgroundStore(store, files=self.containers)
        self.files = FileStore()

    def keep_background_in(self, directory: Path) -> None:
        """Store background responses on disk too, so they outlive a restart."""
        self.background = BackgroundStore(directory, files=self.containers)

    def history(self) -> list[dict[str, Any]]:
        """How the last requests went, oldest first (records change while a request runs:
        read them on the event loop that serves the requests)."""
        return list(self.requests)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        if scope["type"] != "http":
            return await send({"type": "websocket.close", "code": 1000})
        connection = Connection(receive, send)
        route = (scope["method"], local_path(scope))
        if route == ("POST", "/v1/responses"):
            return await self.responses(connection)
        if route == ("GET", "/v1/models"):
            return await connection.reply(json_reply(200, models_list()))
        if route == ("GET", HISTORY_PATH):
            return await connection.reply(json_reply(200, self.history()))
        if route[0] == "GET" and route[1].startswith("/v1/containers/"):
            return await connection.reply(self.container_file(route[1], scope))
        if route == ("POST", "/v1/files"):
            body = await connection.read_body()
            return await connection.reply(self.files.create(_header(scope, b"content-type"), body))
        if route == ("GET", "/v1/files"):
            return await connection.reply(self.files.listing(scope.get("query_string", b"")))
        if route[0] == "GET" and route[1].startswith("/v1/files/"):
            return await connection.reply(self.files.get(route[1].removeprefix("/v1/files/")))
        if route[1].startswith("/v1/responses/"):
            return await self.retrieve(connection, route, scope.get("query_string", b""))
        message = f"No simulator route for {route[0]} {route[1]}"
        await connection.reply(error_reply(404, message, "invalid_request_error", None))

    async def responses(self, connection: Connection) -> None:
        try:
            request = json.loads(await connection.read_body())
            if not isinstance(request, dict):
                raise ParamError("the request body must be a JSON object")
            params = parse_params(request, SCENARIOS)
        except (ValueError, ParamError) as exc:
            error = error_reply(400, str(exc), "invalid_request_error", None)
            return await connection.reply(error)
        record = self.record(request, params)
        if request.get("background") and params.nobackground:
            record.update(status=400, ended="background refused")
            message = "Unsupported parameter: 'background' is not supported by this server."
            return await connection.reply(error_reply(400, message, "invalid_request_error", None))
        if request.get("background") and http_fault(params, self.flaky) is None:
            item = self.background.create(request, params)
            record.update(id=item.id, status=200, background=True, ended="background")
            if not request.get("stream"):
                return await connection.reply(json_reply(200, item.snapshot(time.time())))
            return await self.follow(connection, item, after=-1, record=record)
        watcher = asyncio.create_task(connection.watch())
        try:
            await self.serve(connection, request, params, record)
        finally:
            watcher.cancel()
            record["finished_at"] = time.time()

    def container_file(self, path: str, scope: dict[str, Any]) -> Reply:
        """`GET /v1/containers/{container_id}/files/{file_id}/content`: a file code
        interpreter made, for a caller that sends a key (401 without, as the API)."""
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"authorization", b"").startswith(b"Bearer "):
            return error_reply(401, "You didn't provide an API key.", "invalid_request_error", None)
        parts = path.removeprefix("/v1/containers/").split("/")
        found = None
        if len(parts) == 4 and parts[1] == "files" and parts[3] == "content":
            found = self.containers.get(parts[0], parts[2])
        if found is None:
            message = f"No container file found at {path}"
            return error_reply(404, message, "invalid_request_error", None)
        name, content = found
        kind = b"text/csv" if name.endswith(".csv") else b"application/octet-stream"
        length = b"%d" % len(content)
        return Reply(200, content, [(b"content-type", kind), (b"content-length", length)])

    async def retrieve(self, connection: Connection, route: tuple[str, str], query: bytes) -> None:
        """`GET /v1/responses/{id}` (JSON, or `?stream=true&starting_after=N`) and
        `POST /v1/responses/{id}/cancel`, for background responses."""
        method, path = route
        parts = path.removeprefix("/v1/responses/").split("/")
        item = self.background.get(parts[0])
        if item is None or (method, parts[1:]) not in (("GET", []), ("POST", ["cancel"])):
            message = f"Response with id '{parts[0]}' not found."
            return await connection.reply(error_reply(404, message, "invalid_request_error", None))
        if method == "POST":
            self.background.cancel(item)
            return await connection.reply(json_reply(200, item.snapshot(time.time())))
        args = {k: v[-1] for k, v in parse_qs(query.decode("latin-1")).items()}
        if args.get("stream") != "true":
            return await connection.reply(json_reply(200, item.snapshot(time.time())))
        try:
            after = int(args.get("starting_after", "-1"))
        except ValueError:
            message = "starting_after must be an integer"
            return await connection.reply(error_reply(400, message, "invalid_request_error", None))
        await self.follow(connection, item, after=after, record=None)

    async def follow(
        self, connection: Connection, item: Background, *, after: int, record: dict | None
    ) -> None:
        """Stream the response's events after `after` as they come due; leaving stops only
        this reader, never the response."""
        watcher = asyncio.create_task(connection.watch())
        try:
            await connection.send(
                {"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS}
            )
            index = max(0, after + 1)
            while index < len(item.events):
                delay = wait_for(item, index, time.time())
                if math.isinf(delay):
                    break  # cancelled before this event
                if await connection.wait(delay):
                    return
                ready = item.available(time.time())
                if ready <= index:
                    if item.cancelled_at is not None:
                        break  # cancelled: nothing more comes
                    continue  # woken a hair early (clock rounding): wait again
                body = b"".join(item.frames[index:ready])
                body = stamped(body) if item.stamp else body
                await connection.send(
                    {"type": "http.response.body", "body": body, "more_body": True}
                )
                if record is not None:
                    record["events_sent"] += ready - index
                index = ready
            await connection.send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            if record is not None:
                record["finished_at"] = time.time()

    def record(self, request: dict[str, Any], params: Params) -> dict[str, Any]:
        record = {
            "id": None,
            "scenario": params.scenario,
            "seed": params.seed,
            "stream": bool(request.get("stream")),
            "status": None,
            "events_sent": 0,
            "ended": "started",
            "started_at": time.time(),
            "finished_at": None,
            # What came in, so tests can see what the relay sent (long strings shortened).
            "request": {k: _short(request.get(k)) for k in ECHOED if k in request},
        }
        self.requests.append(record)
        return record

    async def serve(self, connection: Connection, request: dict, params: Params, record: dict):
        if await connection.wait(params.first_byte_delay):
            record["ended"] = "client_disconnected"
            return
        try:
            reply, frames = self.plan(request, params, record)
        except ReplayError as exc:
            reply, frames = exc.reply, ()
        if reply is not None:
            record.update(status=reply.status, ended=reply.ended)
            return await connection.reply(reply)
        record["status"] = 200
        drop, stamp = params.scenario == "drop", bool(params.stamp)
        record["ended"] = await stream(connection, frames, record, drop=drop, stamp=stamp)
        if record["ended"] == "dropped":
            raise ConnectionCut("the drop scenario cuts the connection here, on purpose")

    def plan(self, request: dict, params: Params, record: dict) -> tuple[Reply | None, Iterable]:
        """Either a whole reply or the frames to stream."""
        fault = (
            http_fault(params, self.flaky)
            or self.unknown_previous(request)
            or self.files.unknown(request)
        )
        if fault is not None:
            return fault, ()
        if params.scenario == "replay":
            blocks = replay_blocks(replay_path(params.file))
            final = replay_final(blocks) or {}
            record["id"] = final.get("id")
            if not request.get("stream"):
                return json_reply(200, final), ()
            return None, replay_frames(blocks, params)
        events = build_events(request, params, files=self.containers)
        record["id"] = events[0]["response"]["id"]
        if params.scenario == "not-sse" or not request.get("stream"):
            return final_reply(events), ()
        return None, scenario_frames(events, params)

    def unknown_previous(self, request: dict) -> Reply | None:
        """Like the API: a `previous_response_id` this instance never answered is a 400."""
        previous = request.get("previous_response_id")
        if previous is None or any(r["id"] == previous for r in self.requests):
            return None
        message = f"Previous response with id '{previous}' not found."
        return error_reply(400, message, "invalid_request_error", "previous_response_not_found")


async def stream(
    connection: Connection, frames: Iterable[Frame], record: dict, *, drop: bool, stamp: bool
) -> str:
    """Send the frames as one SSE response; returns how it ended.

    Each delay counts from when the frame before it was due, not from when the loop got
    round to it, so a busy server still sends `tps` deltas per second.
    """
    await connection.send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
    batch = Batch(connection, record, stamp=stamp)
    clock = connection.now
    due = clock()
    for delay, frame in frames:
        if delay > 0:
            await batch.flush()
            due = max(due + delay, clock())
            if await connection.wait(due - clock()):
                return "client_disconnected"
        elif connection.gone:
            return "client_disconnected"
        await batch.add(frame)
    await batch.flush()
    await asyncio.sleep(0)  # a disconnect during the last message is still seen
    if connection.gone:
        return "client_disconnected"
    if drop:
        return "dropped"
    await connection.send({"type": "http.response.body", "body": b"", "more_body": False})
    return "completed"


application = SimulatorApp()
