"""The upstream's sockets: an httpcore network backend on plain asyncio protocols.

httpx reads through httpcore's default backend, anyio, whose socket stream pauses the
transport after every chunk it hands out and resumes it on the next read: two `epoll_ctl`
calls, a cancel scope and a few task switches per network chunk. A model streams one event
per chunk, so that was most of what reading an event cost: measured (bench/load.py, 200
turns at 50 events/s) the read path was half of the server's event loop, a third of it in
anyio. Here a protocol buffers what arrives and a read takes it all; reading is paused only
if the buffer passes `HIGH_WATER` (a reader that fell behind), never per chunk.

A stream can also be read by callback (`AsyncioStream.push`): each chunk is handled inside
the transport's own `data_received`, so a chunk costs no task switch and no trip through the
awaits between the socket and the relay (httpx's byte iterators, the body's generator, the
stream's generators). That was a fifth of the embedded server's CPU at 200 turns of 50
events/s (bench/load.py, py-spy); `streaming/upstream/client.py` reads event streams this way.

`streaming/upstream/http1.py` speaks HTTP over it. Errors are httpcore's, as anyio's would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore

HIGH_WATER = 1024 * 1024  # bytes buffered before the socket stops being read


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.eof = False
        self.error: Exception | None = None
        self.paused = False
        self.reader: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.writing_paused = False
        self.sink: Callable[[bytes], None] | None = None  # set while `push` reads

    def data_received(self, data: bytes) -> None:
        if self.sink is not None:
            self.sink(data)
            return
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = self.error or exc
        self._wake_reader()
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    def _wake_reader(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        if len(data) > max_bytes:
            data, rest = data[:max_bytes], data[max_bytes:]
            self.chunks = [rest]
            self.buffered = len(rest)
        else:
            self.chunks = []
            self.buffered = 0
        if self.paused and self.buffered <= HIGH_WATER // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data


async def _wait(
    waiter: asyncio.Future[None], timeout: float | None, error: type[Exception], doing: str
) -> None:
    """Wait for `waiter` at most `timeout` seconds (None: as long as it takes)."""
    try:
        if timeout is None:
            await waiter
        else:
            async with asyncio.timeout(timeout):
                await waiter
    except TimeoutError:
        raise error(f"timed out {doing} the upstream") from None


class _Raised:
    """An exception from `push`'s callback, carried to its task."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.chunks:
            if protocol.eof:
                return b""  # httpcore turns an early end into its own error
            protocol.reader = asyncio.get_running_loop().create_future()
            try:  # the relay passes no timeout: it keeps its own idle timeout
                await _wait(protocol.reader, timeout, httpcore.ReadTimeout, "reading from")
            finally:
                protocol.reader = None
            if not protocol.chunks:
                if protocol.error is not None:
                    raise httpcore.ReadError(str(protocol.error)) from protocol.error
                return b""
        return protocol.take(max_bytes)

    async def push(
        self, on_data: Callable[[bytes], Awaitable[Any] | None], stop: Callable[[], bool]
    ) -> None:
        """Read by callback until `stop()` is true or the stream ends (check `stop()` to
        tell which): each chunk goes to `on_data` as it arrives, inside the transport's
        callback. An awaitable `on_data` returns is awaited before the next chunk (what
        arrives meanwhile is buffered, as `read` buffers); an exception it raises ends the
        push and is raised here. Ends with httpcore.ReadError if the connection broke."""
        protocol = self._protocol
        held: list[Any] = []  # what the callback left for this task: an awaitable, an error

        def sink(data: bytes) -> None:
            try:
                result = on_data(data)
            except Exception as exc:
                result = _Raised(exc)
            if result is not None or stop():
                protocol.sink = None  # until this task has dealt with it
                held.append(result)
                protocol._wake_reader()

        while True:
            if held:
                result = held.pop()
            elif protocol.chunks:
                try:
                    result = on_data(protocol.take(HIGH_WATER))
                except Exception as exc:
                    result = _Raised(exc)
            elif protocol.eof:
                if protocol.error is not None:
                    raise httpcore.ReadError(str(protocol.error)) from protocol.error
                return
            else:
                protocol.reader = asyncio.get_running_loop().create_future()
                protocol.sink = sink
                try:
                    await protocol.reader
                finally:
                    protocol.sink = protocol.reader = None
                continue
            if isinstance(result, _Raised):
                raise result.error
            if result is not None:
                await result
            if stop():
                return

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._transport.is_closing():
            raise httpcore.WriteError(str(protocol.error or "the connection is closed"))
        self._transport.write(buffer)
        if protocol.writing_paused:
            protocol.drain = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.drain, timeout, httpcore.WriteTimeout, "writing to")
            finally:
                protocol.drain = None
            if protocol.error is not None:
                raise httpcore.WriteError(str(protocol.error)) from protocol.error

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport  # type: ignore[assignment]
        return AsyncioStream(transport, self._protocol)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        transport, protocol = self._transport, self._protocol
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":  # an idle pooled connection: readable means it was closed
            return bool(protocol.chunks) or protocol.eof
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        connect = loop.create_connection(_Protocol, host, port, local_addr=local)
        return await self._connected(connect, timeout, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        connect = asyncio.get_running_loop().create_unix_connection(_Protocol, path)
        return await self._connected(connect, timeout, socket_options)

    async def _connected(
        self, connect: Any, timeout: float | None, socket_options: Iterable[Any] | None
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await connect
        except TimeoutError:
            raise httpcore.ConnectTimeout("timed out connecting to the upstream") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        if sock is not None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):  # as anyio does
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
