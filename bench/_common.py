"""Helpers shared by the benchmarks: paths, the simulator process, the long stream, medians."""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

from streaming.protocol.socket import ACK_BYTES, ACK_DELAY_MS  # noqa: E402

DELTAS = int(os.environ.get("BENCH_DELTAS", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
MODEL = "sim-long"
PROMPT = f"x [sim:long tps=0 deltas={DELTAS} seed=1]"
BODY = {"model": MODEL, "input": PROMPT, "stream": True}


def start_simulator(server: str = "daphne"):
    """A separate process serving only the simulator: (process, base URL ending /v1)."""
    from tests.simulator_server import start_simulator as start

    return start(server=server)


def stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # a stuck process is killed
        process.kill()
        process.wait(timeout=10)


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"median {median(values):,.0f}  min {min(values):,.0f}  max {max(values):,.0f}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WebSocketReader(asyncio.Protocol):
    """A minimal RFC 6455 client, read as an asyncio protocol: every text message goes to
    `on_message` (bytes) as it arrives; `closed` resolves to the server's close code.

    A protocol rather than a stream reader: no task wake-up and no buffer copies per frame,
    which is most of a client's CPU when hundreds of sockets each get a small frame every
    20 ms (bench/load.py). Server frames are never masked; ours are (with a zero key).
    It acknowledges what it received as the page does (static/chat/stream.js): the last seq,
    `ACK_DELAY` after a message, or at once past `ACK_BYTES`.
    """

    ACK_DELAY = ACK_DELAY_MS / 1000
    ACK_BYTES = ACK_BYTES

    def __init__(self, request: bytes, on_message: Callable[[bytes], None]) -> None:
        self.request = request
        self.on_message = on_message
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.pending = b""
        self.parts: list[bytes] = []
        self.last_seq = -1
        self.unacked = 0
        self.ack_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.pending:
            data = self.pending + data
        if not self.upgraded:
            head, blank, data = data.partition(b"\r\n\r\n")
            if not blank:
                self.pending = head
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.end(RuntimeError(f"WebSocket refused: {head[:200]!r}"))
                return
            self.upgraded = True
        self.pending = data[self.read_frames(data) :]

    def read_frames(self, data: bytes) -> int:
        """Handle every whole frame in `data`; returns where the unfinished one starts."""
        start, end = 0, len(data)
        while end - start >= 2:
            size, at = data[start + 1] & 0x7F, start + 2
            if size >= 126:
                at += 2 if size == 126 else 8
                if at > end:
                    break
                size = int.from_bytes(data[start + 2 : at], "big")
            if at + size > end:
                break
            self.frame(data[start], data[at : at + size])
            start = at + size
        return start

    def frame(self, head: int, payload: bytes) -> None:
        if head == 0x81:  # a whole text message, the common case
            self.on_message(payload)
            self.received(payload)
            return
        opcode = head & 0x0F
        if opcode in (0, 1):  # a fragment
            self.parts.append(payload)
            if head & 0x80:
                message = b"".join(self.parts)
                self.on_message(message)
                self.received(message)
                self.parts = []
        elif opcode == 8:  # close: echo its code, then the server ends the connection
            self.control(0x88, payload[:2])
            self.end(int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None)
        elif opcode == 9:  # ping
            self.control(0x8A, payload)

    def received(self, message: bytes) -> None:
        """Note the message's last seq; acknowledge soon, or now if much is unacknowledged."""
        at = message.rfind(b'{"seq":')
        if at >= 0:
            end = message.find(b",", at)
            self.last_seq = int(message[at + 7 : end])
        self.unacked += len(message)
        if self.unacked >= self.ACK_BYTES:
            self.ack()
        elif self.ack_timer is None:
            self.ack_timer = asyncio.get_running_loop().call_later(self.ACK_DELAY, self.ack)

    def ack(self) -> None:
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None
        self.unacked = 0
        if self.last_seq < 0 or self.closed.done() or self.transport is None:
            return
        self.control(0x81, b'{"ack":%d}' % self.last_seq)

    def control(self, head: int, payload: bytes) -> None:
        assert self.transport is not None and len(payload) < 126
        self.transport.write(bytes([head, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def end(self, outcome: int | Exception | None) -> None:
        if not self.closed.done():
            if isinstance(outcome, Exception):
                self.closed.set_exception(outcome)
            else:
                self.closed.set_result(outcome)
        if isinstance(outcome, Exception) and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ack_timer is not None:
            self.ack_timer.cancel()
        self.end(exc)  # without a close frame: None, or what broke it


async def ws_follow(
    url: str, headers: dict[str, str], on_message: Callable[[bytes], None]
) -> int | None:
    """Open the WebSocket at `url` (`ws://host:port/path`), give every text message to
    `on_message` until the server closes, and return the close code (None without one)."""
    where = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {where.path}{'?' + where.query if where.query else ''} HTTP/1.1",
        f"Host: {where.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    transport, reader = await loop.create_connection(
        lambda: WebSocketReader(request, on_message), where.hostname, where.port
    )
    try:
        return await reader.closed
    finally:
        transport.close()


async def ws_read(port: int, path: str, cookies: str) -> tuple[list[str], int | None]:
    """Every text message until the server closes, and the close code."""
    messages: list[str] = []
    headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": cookies}
    url = f"ws://127.0.0.1:{port}{path}"
    code = await ws_follow(url, headers, lambda message: messages.append(message.decode()))
    return messages, code
