"""The one place that talks HTTP to the model provider.

`stream_response` posts a Responses API request with `stream=true` and hands the events to
a callback in batches (one batch per network chunk), each as `(raw_json, typed_event)`: the
raw text is what the relay stores and forwards, the typed event is what it understands.

Failures become `UpstreamError` with a `kind` the relay shows to users. Retries (429, 5xx,
connection failures) happen only before the first event: after that, a retry would repeat
output the user has already seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import html
import json
import logging
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from httpx_aiohttp import HttpxAiohttpClient

from streaming.protocol.events import MalformedEvent, StreamEvent, parse_event
from streaming.protocol.finite import read_event
from streaming.protocol.sse import SSEDecoder
from streaming.protocol.statuses import TERMINAL_EVENT_TYPES

log = logging.getLogger(__name__)

RawEvent = tuple[str, StreamEvent]
OnBatch = Callable[[list[RawEvent]], Awaitable[Any] | None]
_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
# After the terminal event: how long, and how much, is read for the connection to be reused.
DRAIN_SECONDS = 0.5
DRAIN_MAX_BYTES = 64 * 1024
# What a user is shown of the upstream's own words at most; staff get up to DETAIL_CHARS.
BRIEF_CHARS = 300
DETAIL_CHARS = 16 * 1024
# While no frame has come, this much of the body is kept, to say what a non-stream body said.
HEAD_BYTES = 16 * 1024


class UpstreamError(Exception):
    """kind: connect | http | timeout | not_sse | malformed | closed | upstream

    `message` is what the user sees: short, never a traceback. `detail` is the upstream's
    full text when it said more (staff read it in the admin: `Turn.error_detail`)."""

    def __init__(
        self, kind: str, message: str, *, status: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.detail = detail
        self.retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind == "connect" or self.status in _RETRYABLE_STATUS


@dataclass(frozen=True)
class UpstreamConfig:
    """The worker's comes from settings (`from_settings`); the defaults are the settings'."""

    base_url: str
    api_key: str
    connect_timeout: float = 10.0
    first_event_timeout: float = 60.0
    idle_timeout: float = 60.0
    max_retries: int = 2
    retry_base_delay: float = 0.5
    retry_max_delay: float = 8.0
    http_client: str = "aiohttp"  # or "httpx" (UPSTREAM_HTTP_CLIENT)
    max_connections: int = 1000

    @classmethod
    def from_settings(cls) -> UpstreamConfig:
        return cls(
            base_url=(settings.OPENAI_BASE_URL or settings.SIMULATOR_BASE_URL).rstrip("/"),
            api_key=settings.OPENAI_API_KEY or "sk-simulator",
            connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
            first_event_timeout=settings.UPSTREAM_FIRST_EVENT_TIMEOUT,
            idle_timeout=settings.UPSTREAM_IDLE_TIMEOUT,
            max_retries=settings.UPSTREAM_MAX_RETRIES,
            retry_base_delay=settings.UPSTREAM_RETRY_BASE_DELAY,
            retry_max_delay=settings.UPSTREAM_RETRY_MAX_DELAY,
            http_client=settings.UPSTREAM_HTTP_CLIENT,
            max_connections=settings.UPSTREAM_MAX_CONNECTIONS,
        )


def make_client(config: UpstreamConfig, **kwargs: Any) -> httpx.AsyncClient:
    """A pooled client for the upstream. A worker makes one per event loop and passes it to
    every turn, moderation check and sweep it runs; `kwargs` go to httpx (tests pass a
    `transport`, which replaces the pool).

    Proxies come from the environment (`trust_env`): httpx reads `HTTP(S)_PROXY`/`NO_PROXY`
    and mounts a proxying transport of the same kind. Read timeouts are ours (first event,
    idle: `stream_response`), not httpx's.
    """
    options: dict[str, Any] = {
        "timeout": httpx.Timeout(connect=config.connect_timeout, read=None, write=30.0, pool=30.0),
        "limits": httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=min(config.max_connections, 100),
        ),
        "trust_env": True,
        "verify": tls_context(),
        **kwargs,
    }
    if config.http_client == "aiohttp" and "transport" not in kwargs:
        return HttpxAiohttpClient(**options)
    return httpx.AsyncClient(http2=True, **options)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default (verifying) TLS context, honouring SSL_CERT_FILE/SSL_CERT_DIR, made
    once per process: making one loads the CA bundle, which is slow enough to stall the loop."""
    return httpx.create_ssl_context(trust_env=True)


async def stream_response(
    *,
    client: httpx.AsyncClient,
    config: UpstreamConfig,
    body: dict[str, Any],
    on_batch: OnBatch,
    path: str = "/responses",
) -> None:
    """Post `body` and hand batches of events to `on_batch` until the stream ends.

    Ends after a terminal event, `data: [DONE]`, or the end of the body. `on_batch` is called
    as each network chunk is read. It may return an awaitable, which is awaited before the
    next chunk is read (its time is not counted by the idle timeout). Raises `UpstreamError`;
    cancelling the calling task closes the connection at once. With a `path` other than
    `/responses` (a stored response's stream, `upstream.background`) it is a GET of that path
    and `body` is ignored.
    """
    attempt = 0
    started = False

    def first(batch: list[RawEvent]) -> Awaitable[Any] | None:
        nonlocal started
        started = True
        return on_batch(batch)

    while True:
        try:
            extra = () if path == "/responses" else (path,)  # the usual call stays 4 arguments
            await _stream_once(client, config, body, on_batch if started else first, *extra)
            return
        except UpstreamError as exc:
            if started or not exc.retryable or attempt >= config.max_retries:
                raise
            attempt += 1
            await asyncio.sleep(_backoff(config, attempt, exc.retry_after))


def _backoff(config: UpstreamConfig, attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, config.retry_max_delay)
    ceiling = min(config.retry_max_delay, config.retry_base_delay * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # jitter, so retries do not march in step


async def _stream_once(
    client: httpx.AsyncClient,
    config: UpstreamConfig,
    body: dict[str, Any],
    on_batch: OnBatch,
    path: str = "/responses",
) -> None:
    loop = asyncio.get_running_loop()
    clock = time.monotonic  # asyncio's `loop.time()`, without its method call per chunk
    headers = {"Authorization": f"Bearer {config.api_key}", "Accept": "text/event-stream"}
    post = path == "/responses"
    request: dict[str, Any] = {"json": {**body, "stream": True}} if post else {}
    reader = _EventReader()
    deadline = _Deadline(loop.time() + config.first_event_timeout)
    idle, first = config.idle_timeout, config.first_event_timeout

    async def consumer_time(waiting: Awaitable[Any]) -> None:
        deadline.move(None)  # the consumer's time is not ours
        await waiting
        deadline.move(clock() + (idle if reader.count else first))

    def deliver(chunk: bytes) -> Awaitable[Any] | None:
        batch = reader.feed(chunk)  # the good events before an error are still delivered
        deadline.move(clock() + (idle if reader.count else first))
        if batch and (waiting := on_batch(batch)) is not None:
            return consumer_time(waiting)
        return None

    def stop() -> bool:
        return reader.finished or reader.error is not None

    try:
        async with client.stream(
            "POST" if post else "GET", f"{config.base_url}{path}", headers=headers, **request
        ) as response:
            await _check_response(response)
            chunks = response.aiter_bytes()
            async for chunk in chunks:
                if (waiting := deliver(chunk)) is not None:
                    await waiting
                if stop():
                    break
            if reader.finished:
                await _drain(chunks)
            tail = [] if stop() else reader.close()
            if tail and (waiting := on_batch(tail)) is not None:
                await consumer_time(waiting)
            if reader.error:
                raise reader.error
            if not (reader.finished or reader.errored):
                raise reader.closed_error()
    except asyncio.CancelledError:
        if not deadline.expired_here():
            raise
        if reader.errored:  # the `error` event already said why the stream ended
            return
        phase = "the next event" if reader.count else "the first event"
        raise UpstreamError("timeout", f"timed out waiting for {phase} from the upstream") from None
    except httpx.TransportError as exc:
        raise _transport_error(exc, received=reader.count) from None
    finally:
        deadline.close()


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what follows the end of a stream (a `[DONE]`, the chunked terminator), so the
    connection goes back to the pool instead of being closed. Everything the user sees was
    already delivered; a server that goes on talking loses its connection instead."""
    read = 0
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for chunk in chunks:
                read += len(chunk)
                if read > DRAIN_MAX_BYTES:
                    return


def _transport_error(exc: httpx.TransportError, *, received: int) -> UpstreamError:
    """The connection failed. Before the first event it is a `connect` failure, which is
    retried: the user has seen nothing. (httpx-aiohttp reports a refused or dropped
    connection as `ConnectTimeout`, so the class alone does not say which happened.)"""
    reason = str(exc) or exc.__class__.__name__
    log.warning("upstream connection failed after %d events: %s", received, reason)
    if received:  # the transport's own words stay in the log: they say little to a user
        return UpstreamError("closed", "the upstream connection closed mid-stream")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return UpstreamError("connect", f"upstream connection failed: {reason[:200]}")
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError("timeout", f"upstream timeout: {exc.__class__.__name__}")
    return UpstreamError("closed", "the upstream closed the connection before it answered")


class _Deadline:
    """`asyncio.timeout` for one stream, with a deadline that is free to move.

    The idle timeout moves with every network chunk, and `Timeout.reschedule` cancels and
    schedules a timer each time (twice per chunk here, a visible share of reading). This
    timer stays where it is when the deadline moves later: when it fires, it re-arms for the
    new deadline, or cancels the task if the deadline has passed. `None` suspends it (while
    the consumer holds a batch). Like `asyncio.timeout`, the cancel is told apart from any
    other by the task's cancel count (`expired_here`).
    """

    def __init__(self, when: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._cancelling = self._task.cancelling() if self._task else 0
        self._when: float | None = when
        self._armed = when
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(when, self._fire)
        self.expired = False

    def move(self, when: float | None) -> None:
        self._when = when
        if when is not None and (self._handle is None or when < self._armed):
            if self._handle is not None:
                self._handle.cancel()
            self._armed = when
            self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if self._when is None or self._task is None:
            return  # suspended: `move` arms it again
        if self._when > self._loop.time():
            self._armed = self._when
            self._handle = self._loop.call_at(self._when, self._fire)
            return
        self.expired = True
        self._task.cancel()

    def expired_here(self) -> bool:
        """On a CancelledError: True if it is this deadline's (which is then consumed)."""
        self.close()
        return self.expired and self._task is not None and self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class _EventReader:
    """SSE frames to typed events; notices the end of the stream."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self.count = 0
        self.finished = False
        self.errored = False  # an `error` event came; a `response.failed` may follow it
        self.error: UpstreamError | None = None

        self.head = b""  # the body's start, while no frame has come (`closed_error`)
        self.framed = False

    def feed(self, chunk: bytes) -> list[RawEvent]:
        frames = self._decoder.feed_data(chunk)
        if not self.framed:
            self.framed = bool(frames)
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
        return self._events(frames)

    def closed_error(self) -> UpstreamError:
        """The body ended before the stream did. A body that was never a stream (a JSON
        error on a 200 event-stream) says why in its own words."""
        if not self.framed and self.head.strip():
            brief, detail = _upstream_words(self.head)
            return UpstreamError(
                "not_sse", f"the upstream answered without a stream: {brief}", detail=detail
            )
        return UpstreamError("closed", "the upstream closed the stream before it ended")

    def close(self) -> list[RawEvent]:
        return self._events(self._decoder.close_data())

    def _events(self, frames: list[str]) -> list[RawEvent]:
        """`frames`: the data of each frame (the only field this reader uses)."""
        batch: list[RawEvent] = []
        if self.finished or self.error is not None:
            return batch
        append = batch.append
        for data in frames:
            if data == "[DONE]":
                self.finished = True
                break
            try:
                # `finite.suspect`, inline: it runs on every event and is almost always False.
                if "NaN" in data or "Infinity" in data:
                    event = read_event(data)
                else:
                    event = parse_event(data)
            except MalformedEvent as exc:
                self.error = _frame_error(data, exc)
                break
            append((data, event))
            # One look-up for the ordinary event. `error` ends nothing by itself: OpenAI
            # follows it with `response.failed`, which carries the error (the corpus'
            # error_failed file); a stream that ends right after an `error` ends cleanly.
            if event.type in TERMINAL_EVENT_TYPES:
                if event.type == "error":
                    self.errored = True
                else:
                    self.finished = True
                    break
        self.count += len(batch)
        return batch


async def _check_response(response: httpx.Response) -> None:
    if response.status_code >= 300:
        body = await response.aread()
        message, detail = _error_message(response.status_code, body)
        error = UpstreamError("http", message, status=response.status_code, detail=detail)
        error.retry_after = _retry_after(response.headers.get("retry-after"))
        raise error
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        raise UpstreamError(
            "not_sse", f"the upstream answered {content_type or 'no content type'}, not a stream"
        )


def _error_message(status: int, body: bytes) -> tuple[str, str]:
    """What the user sees of an error answer (the upstream's own `error.message` when it gave
    one, briefly), and the full body for staff."""
    brief, detail = _upstream_words(body) if body.strip() else ("", "")
    return f"HTTP {status}: {brief or httpx.codes.get_reason_phrase(status)}", detail


def _frame_error(data: str, exc: MalformedEvent) -> UpstreamError:
    """A frame that is not an event. An error object without a `type` (`{"error": {...}}`,
    as some servers send mid-stream) is the server's own failure, in its words."""
    try:
        raw = json.loads(data)
    except ValueError:
        raw = None
    if isinstance(raw, dict) and "error" in raw:
        brief, detail = _upstream_words(data.encode("utf-8", "surrogatepass"))
        return UpstreamError("upstream", f"the upstream failed: {brief}", detail=detail)
    return UpstreamError("malformed", f"malformed stream: {exc}", detail=data[:DETAIL_CHARS])


_MESSAGE_KEYS = ("message", "detail", "error", "msg", "description")


def _upstream_words(body: bytes) -> tuple[str, str]:
    """(brief, full): the message a body carries, at most BRIEF_CHARS on one line, never a
    traceback or markup; and the body itself, for staff."""
    text = body.decode("utf-8", "replace").strip()
    full = text[:DETAIL_CHARS]
    try:
        found = _message_in(json.loads(text))
    except ValueError:
        found = None
    return _brief(found if found is not None else text), full


def _message_in(value: Any, depth: int = 0) -> str | None:
    """The first message-like string in a JSON error body (`error.message`, `detail`, ...)."""
    if isinstance(value, str):
        return value
    if depth > 3:
        return None
    if isinstance(value, dict):
        for key in _MESSAGE_KEYS:
            if key in value and (found := _message_in(value[key], depth + 1)):
                return found
    if isinstance(value, list) and value:
        return _message_in(value[0], depth + 1)
    return None


_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def _brief(text: str) -> str:
    """One short line: a traceback's last line (the exception), an HTML page's title."""
    if "Traceback (most recent call last)" in text:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        text = next((line for line in reversed(lines) if not line.startswith("File ")), "")
        text = text or "the upstream crashed"
    elif "<" in text and ">" in text:
        title = _TITLE.search(text)
        text = html.unescape(title.group(1) if title else _TAGS.sub(" ", text))
    text = " ".join(text.split())
    return text if len(text) <= BRIEF_CHARS else text[: BRIEF_CHARS - 1] + "…"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
