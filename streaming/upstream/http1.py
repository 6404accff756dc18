"""The upstream's HTTP: an httpx transport for HTTP/1.1 with a lean body reader.

httpx's default transport reads a streamed body through httpcore and h11: for every network
chunk, h11's state machine and chunked reader plus six nested async generators. A model
streams an event per chunk, so at 200 turns of 50 events/s that path was over a third of the
embedded server's CPU, h11 half of it (bench/load.py, py-spy). This transport writes the
request itself, parses the response head once, and decodes the body (chunked, sized or read
to the end) in one function per network read; each read becomes one chunk of the response,
as before, so the relay still batches by network chunk.

What it does not do is left to httpx: the client builds requests and decodes content
encodings, and proxies from the environment get httpx's own transports. One connection is
kept for the next request to the same origin (a turn's tool round trips). Sockets come from
`streaming/upstream/sockets.py`. Errors are httpx's, as its own transport raises them.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpcore
import httpx

from streaming.upstream.sockets import AsyncioBackend, AsyncioStream

MAX_HEAD_BYTES = 64 * 1024
READ_BYTES = 64 * 1024
_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.WriteError: httpx.WriteError,
}


class ChunkedDecoder:
    """`Transfer-Encoding: chunked`, fed whatever the network gives; `done` after the last
    chunk and its trailers. Raises httpx.RemoteProtocolError on a malformed body."""

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0  # bytes of data left in the current chunk
        self._state = "size"  # size | data | crlf | trailer | done
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """The body's bytes in `data`. A read made of whole chunks (a model's stream sends
        an event per chunk, each read at once) is cut up in one pass; anything else (a
        chunk split across reads, an extension, the last chunk) goes the general way."""
        if self._state != "size" or self._buffer:
            return self._feed(data)
        out: list[bytes] = []
        at, end = 0, len(data)
        match = _PLAIN_SIZE.match
        while (found := match(data, at)) is not None:
            start = found.end()
            stop = start + int(found.group(1), 16)
            if stop == start or data[stop : stop + 2] != b"\r\n":
                break  # the last chunk, or one not whole in this read (or malformed)
            out.append(data[start:stop])
            at = stop + 2
        if at == end:
            return out[0] if len(out) == 1 else b"".join(out)
        if at:
            out.append(self._feed(data[at:]))
            return b"".join(out)
        return self._feed(data)

    def _feed(self, data: bytes) -> bytes:
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        at = 0
        while True:
            state = self._state
            if state == "data":
                take = min(self._remaining, len(buffer) - at)
                if take == 0:
                    break
                out.append(buffer[at : at + take])
                at += take
                self._remaining -= take
                if self._remaining:
                    break
                self._state = "crlf"
            elif state == "crlf":
                if len(buffer) - at < 2:
                    break
                if buffer[at : at + 2] != b"\r\n":
                    raise httpx.RemoteProtocolError("malformed chunked body: no CRLF after data")
                at += 2
                self._state = "size"
            elif state in ("size", "trailer"):
                end = buffer.find(b"\r\n", at)
                if end < 0:
                    if len(buffer) - at > MAX_HEAD_BYTES:
                        raise httpx.RemoteProtocolError("malformed chunked body: line too long")
                    break
                line, at = buffer[at:end], end + 2
                if state == "trailer":
                    if not line:
                        self._state, self.done = "done", True
                        at = len(buffer)  # nothing may follow on this response
                        break
                    continue
                self._remaining = _chunk_size(line)
                self._state = "data" if self._remaining else "trailer"
            else:
                break
        self._buffer = buffer[at:]
        return out[0] if len(out) == 1 else b"".join(out)


_PLAIN_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n")  # a size line with nothing else
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    if _HEX.fullmatch(text) is None:
        raise httpx.RemoteProtocolError(f"malformed chunked body: bad chunk size {line[:40]!r}")
    return int(text, 16)


class ResponseBody(httpx.AsyncByteStream):
    """The response body, one chunk per network read; closing it early drops the
    connection (that is how a cancelled turn closes its upstream request). Read it by
    iterating, or by callback with `push`."""

    def __init__(
        self,
        transport: Http1Transport,
        origin: tuple[str, str, int],
        stream: AsyncioStream,
        first: bytes,
        framing: ChunkedDecoder | int | None,
        keep: bool,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._stream = stream
        self._first = first
        self._framing = framing  # a decoder, a Content-Length left to read, or None: to the end
        self._keep = keep
        self._complete = framing == 0
        self._closed = False

    def _decode(self, data: bytes) -> bytes:
        """The body's bytes in `data`, a network read; notes when the body is complete."""
        framing = self._framing
        if isinstance(framing, ChunkedDecoder):
            chunk = framing.feed(data)
            self._complete = framing.done
            return chunk
        if framing is None:
            return data
        chunk = data[:framing]
        self._framing = framing - len(chunk)
        self._complete = self._framing == 0
        return chunk

    def _ended(self) -> None:
        """The connection ended: fine for a body without framing, else it was cut short."""
        if self._framing is not None:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )
        self._complete = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        data, self._first = self._first, b""
        while True:
            chunk = self._decode(data) if data else b""
            if chunk:
                yield chunk
            if self._complete:
                return
            try:
                data = await self._stream.read(READ_BYTES)
            except (httpcore.NetworkError, httpcore.TimeoutException) as exc:
                raise _ERRORS.get(type(exc), httpx.TransportError)(str(exc)) from exc
            if not data:
                self._ended()
                return

    async def push(
        self, deliver: Callable[[bytes], Awaitable[Any] | None], stop: Callable[[], bool]
    ) -> None:
        """`__aiter__`'s chunks handed to `deliver` from the socket's callback
        (`AsyncioStream.push`), until the body ends or `stop()` is true. An awaitable
        `deliver` returns is awaited before the next chunk."""

        def on_data(data: bytes) -> Awaitable[Any] | None:
            chunk = self._decode(data)
            return deliver(chunk) if chunk else None

        def done() -> bool:
            return self._complete or stop()

        data, self._first = self._first, b""
        if data and (waiting := on_data(data)) is not None:
            await waiting
        if done():
            return
        try:
            await self._stream.push(on_data, done)
        except (httpcore.NetworkError, httpcore.TimeoutException) as exc:
            raise _ERRORS.get(type(exc), httpx.TransportError)(str(exc)) from exc
        if not done():
            self._ended()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._complete and self._keep:
            self._transport._park(self._origin, self._stream)
        else:
            await self._stream.aclose()


class Http1Transport(httpx.AsyncBaseTransport):
    def __init__(self, *, verify: ssl.SSLContext) -> None:
        self._ssl = verify
        self._backend = AsyncioBackend()
        self._idle: tuple[tuple[str, str, int], httpcore.AsyncNetworkStream] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        head = _request_head(request, len(body))
        stream = await self._connection(origin, timeouts.get("connect"))
        try:
            await _mapped(stream.write(head + body, timeouts.get("write")))
            status, reason, headers, rest = await _read_head(stream)
        except BaseException:
            await stream.aclose()
            raise
        framing = _framing(request, status, headers)
        keep = _keeps_alive(request, headers)
        if framing == 0:  # no body at all
            if keep:
                self._park(origin, stream)
            else:
                await stream.aclose()
            content = ResponseBody(self, origin, stream, b"", 0, keep=False)
            content._closed = True
        else:
            content = ResponseBody(self, origin, stream, rest, framing, keep)
        return httpx.Response(
            status,
            headers=headers,
            stream=content,
            # httpx wraps the stream it is given; `push` reaches the body from the response.
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason, "push": content.push},
        )

    async def _connection(
        self, origin: tuple[str, str, int], timeout: float | None
    ) -> httpcore.AsyncNetworkStream:
        if self._idle is not None:
            (kept_origin, stream), self._idle = self._idle, None
            if kept_origin == origin and not stream.get_extra_info("is_readable"):
                return stream  # alive: an idle connection that is readable was closed
            await stream.aclose()
        scheme, host, port = origin
        stream = await _mapped(self._backend.connect_tcp(host, port, timeout=timeout))
        if scheme == "https":
            stream = await _mapped(stream.start_tls(self._ssl, host, timeout))
        return stream

    def _park(self, origin: tuple[str, str, int], stream: httpcore.AsyncNetworkStream) -> None:
        if self._idle is not None:
            self._idle[1]._transport.close()  # type: ignore[attr-defined]
        self._idle = (origin, stream)

    async def aclose(self) -> None:
        if self._idle is not None:
            await self._idle[1].aclose()
            self._idle = None


def _request_head(request: httpx.Request, length: int) -> bytes:
    target = request.url.raw_path or b"/"
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    has_length = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            continue  # the body is sent whole, with its length
        if lowered == b"content-length":
            has_length = True
            value = str(length).encode("ascii")
        lines.append(name + b": " + value)
    if length and not has_length:
        lines.append(b"Content-Length: " + str(length).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_head(
    stream: httpcore.AsyncNetworkStream,
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
    """The status, reason, headers and the bytes after the head; informational (1xx)
    responses are skipped."""
    buffer = b""
    while True:
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("the response head is too large")
            data = await _mapped(stream.read(READ_BYTES))
            if not data:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            buffer += data
            end = buffer.find(b"\r\n\r\n")
        head, buffer = buffer[:end], buffer[end + 4 :]
        status_line, *lines = head.split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"malformed status line {status_line[:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200 and status != 101:
            continue
        headers = []
        for line in lines:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise httpx.RemoteProtocolError(f"malformed header line {line[:80]!r}")
            headers.append((name, value.strip()))
        return status, parts[2] if len(parts) > 2 else b"", headers, buffer


def _framing(
    request: httpx.Request, status: int, headers: list[tuple[bytes, bytes]]
) -> ChunkedDecoder | int | None:
    if request.method == "HEAD" or status in (204, 304):
        return 0
    values = {name.lower(): value for name, value in headers}
    encoding = values.get(b"transfer-encoding", b"").lower()
    if encoding:
        if encoding.split(b",")[-1].strip() != b"chunked":
            return None  # not chunked last: read until the server closes
        return ChunkedDecoder()
    if b"content-length" in values:
        try:
            return int(values[b"content-length"])
        except ValueError:
            raise httpx.RemoteProtocolError("malformed Content-Length") from None
    return None


def _keeps_alive(request: httpx.Request, headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in [*request.headers.raw, *headers]:
        if name.lower() == b"connection" and b"close" in value.lower():
            return False
    return True


async def _mapped(awaitable: Any) -> Any:
    """httpcore's errors from the socket layer as httpx's."""
    try:
        return await awaitable
    except httpcore.NetworkError as exc:
        raise _ERRORS.get(type(exc), httpx.TransportError)(str(exc)) from exc
    except httpcore.TimeoutException as exc:
        raise _ERRORS.get(type(exc), httpx.TimeoutException)(str(exc)) from exc
