"""A small HTTP/1.1 server on 127.0.0.1 for the upstream client's tests: it records each
request (target, headers, body, which connection carried it) and answers with an event
stream in chunked encoding, keeping connections alive. A proxy is sent absolute-form
targets (`POST http://host/v1/responses`), so the same server stands in for a forward proxy:
the recorded target says the request went through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest_asyncio


def sse(*events: dict[str, Any]) -> list[bytes]:
    return [f"data: {json.dumps(e)}\n\n".encode() for e in events]


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int


@dataclass
class LocalServer:
    """`chunks`: the body of every answer, one write per chunk. `cut_after`: close the
    connection after this many chunks, without the chunked terminator. `gzip_body`: answer
    with the whole body gzip-encoded (one chunk). `routes`: a fixed answer for a target
    that ends with the key, as `(status, content type, body)`, instead of the stream."""

    chunks: list[bytes] = field(default_factory=list)
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    cut_after: int | None = None
    gzip_body: bool = False
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while await self._answer(reader, writer, number):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if h)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.seen.append(Seen(method, target, headers, body, number))
        route = next((a for path, a in self.routes.items() if target.endswith(path)), None)
        if route is not None:
            status, content_type, content = route
            writer.write(
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(content)}\r\n\r\n".encode()
                + content
            )
            await writer.drain()
            return True
        chunks = [gzip.compress(b"".join(self.chunks))] if self.gzip_body else self.chunks
        encoding = "Content-Encoding: gzip\r\n" if self.gzip_body else ""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            + encoding.encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for i, chunk in enumerate(chunks):
            if self.cut_after is not None and i >= self.cut_after:
                await writer.drain()
                return False
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[LocalServer]:
    """A LocalServer listening on a free port, for as long as the block runs."""
    server = LocalServer()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()


@pytest_asyncio.fixture
async def local_server() -> AsyncIterator[LocalServer]:
    async with serving() as server:
        yield server
