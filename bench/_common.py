"""Helpers shared by the benchmarks: paths, the simulator process, the long stream, medians."""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

DELTAS = int(os.environ.get("BENCH_DELTAS", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
MODEL = "sim-long"
PROMPT = f"x [sim:long tps=0 deltas={DELTAS} seed=1]"
BODY = {"model": MODEL, "input": PROMPT, "stream": True}


def start_simulator():
    """A separate daphne process serving only the simulator: (process, base URL ending /v1)."""
    from tests.simulator_server import start_simulator as start

    return start()


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


async def ws_read(port: int, path: str, cookies: str) -> tuple[list[str], int | None]:
    """A minimal RFC 6455 client: every text message until the server closes, and the code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: {cookies}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"WebSocket refused: {head[:200]!r}")
    messages, parts = [], []
    try:
        while True:
            b0, b1 = await reader.readexactly(2)
            size = b1 & 0x7F
            if size >= 126:
                size = int.from_bytes(await reader.readexactly(2 if size == 126 else 8), "big")
            payload = await reader.readexactly(size)  # a server never masks
            opcode = b0 & 0x0F
            if opcode == 8:  # close: echo the code, masked (zero key) as a client must
                writer.write(b"\x88\x82\0\0\0\0" + payload[:2])
                return messages, int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            if opcode in (0, 1):
                parts.append(payload)
                if b0 & 0x80:
                    messages.append(b"".join(parts).decode())
                    parts = []
            elif opcode == 9:  # ping -> pong
                writer.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
    finally:
        writer.close()
