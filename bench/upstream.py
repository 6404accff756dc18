"""Upstream client benchmark: the HTTP client under httpx (UPSTREAM_HTTP_CLIENT) decides how
much CPU the worker spends reading streams. Many paced streams at once, as a busy worker
reads them, through one pooled client of each kind, alternating:

    .venv/bin/python bench/upstream.py            # 100 streams (BENCH_STREAMS) of 250 deltas at 50/s
    .venv/bin/python bench/upstream.py --fast     # plus one unpaced stream of 20,000 deltas each

Each round runs the streams with `stream_response` (our SSE decoder and typed events) and
counts this process's CPU per event: the simulator runs in another process (uvicorn), so its
work is not counted. Two readers that are not clients of the relay run beside them, paced
only, to say where the cost lies: `aiohttp-api` reads with aiohttp's own API (no httpx
between) into the same decoder and typed events, and `protocol` is the floor, an asyncio
protocol on the loop that only counts the frames of each response (no HTTP parsing, no
decoding). The loop is uvloop, as `manage.py serve` runs. Rounds alternate the order;
medians and the ratio within each round are reported. The last line printed is one JSON
object.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import _common as c  # sets sys.path and DJANGO_SETTINGS_MODULE
import aiohttp
import uvloop

from streaming.upstream.client import UpstreamConfig, make_client, stream_response
from streaming.upstream.client import _EventReader as EventReader  # ours: the same decoding

KINDS = ["aiohttp", "httpx"]
REFERENCES = ["aiohttp-api", "protocol"]
STREAMS = int(os.environ.get("BENCH_STREAMS", "100"))
PACED = {"model": c.MODEL, "input": "x [sim:long tps=50 deltas=250 seed=1]", "stream": True}
Reader = Callable[[dict[str, Any]], Awaitable[int]]  # one stream's request body -> events


def config(base: str, kind: str) -> UpstreamConfig:
    return UpstreamConfig(base_url=base, api_key="x", max_retries=0, http_client=kind)


def relay_reader(client: Any, cfg: UpstreamConfig) -> Reader:
    async def read(body: dict[str, Any]) -> int:
        counted = [0]

        def on_batch(batch: list[Any]) -> None:
            counted[0] += len(batch)

        await stream_response(client=client, config=cfg, body=body, on_batch=on_batch)
        return counted[0]

    return read


def aiohttp_reader(session: aiohttp.ClientSession, base: str) -> Reader:
    async def read(body: dict[str, Any]) -> int:
        reader, events = EventReader(), 0
        headers = {"Authorization": "Bearer x", "Accept": "text/event-stream"}
        async with session.post(f"{base}/responses", json=body, headers=headers) as response:
            async for chunk in response.content.iter_any():
                events += len(reader.feed(chunk))
        return events + len(reader.close())

    return read


LAST_CHUNK = b"\r\n0\r\n\r\n"  # the end of a chunked body, with the chunk before it


class _Counting(asyncio.Protocol):
    """Counts the blank lines that end SSE frames until the chunked body's last chunk."""

    def __init__(self, done: asyncio.Future[int]) -> None:
        self.done, self.frames, self.tail = done, 0, b""

    def data_received(self, data: bytes) -> None:
        self.frames += data.count(b"\n\n")
        self.tail = (self.tail + data)[-len(LAST_CHUNK) :]
        if self.tail == LAST_CHUNK and not self.done.done():
            self.done.set_result(self.frames)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.frames)


def protocol_reader(base: str) -> Reader:
    url = urlsplit(base)

    async def read(body: dict[str, Any]) -> int:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        transport, _ = await loop.create_connection(lambda: _Counting(done), url.hostname, url.port)
        data = json.dumps(body).encode()
        transport.write(
            b"POST %s/responses HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (url.path.encode(), url.netloc.encode(), len(data))
            + data
        )
        try:
            return await done
        finally:
            transport.close()

    return read


async def measure(read: Reader, body: dict[str, Any], n: int) -> tuple[int, float, float]:
    """(events, wall seconds, microseconds of this process's CPU per event)"""
    start, cpu = time.perf_counter(), time.process_time()
    events = sum(await asyncio.gather(*(read(body) for _ in range(n))))
    return events, time.perf_counter() - start, (time.process_time() - cpu) * 1e6 / events


async def run(base: str, fast: bool) -> dict[str, Any]:
    configs = {kind: config(base, kind) for kind in KINDS}
    clients = {
        kind: make_client(replace(cfg, max_connections=STREAMS)) for kind, cfg in configs.items()
    }
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=STREAMS))
    readers = {kind: relay_reader(clients[kind], configs[kind]) for kind in KINDS}
    readers["aiohttp-api"] = aiohttp_reader(session, base)
    readers["protocol"] = protocol_reader(base)
    cases = {"paced": (PACED, STREAMS, KINDS + REFERENCES)}
    if fast:
        cases["fast"] = (c.BODY, 1, KINDS)
    cpu: dict[str, dict[str, list[float]]] = {
        case: {k: [] for k in kinds} for case, (_, _, kinds) in cases.items()
    }
    ratio: dict[str, list[float]] = {case: [] for case in cases}
    try:
        for kind in readers:  # warm-up: connections, first-use costs
            await measure(readers[kind], PACED, min(STREAMS, 10))
        for r in range(c.ROUNDS):
            for case, (body, n, kinds) in cases.items():
                order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
                got = {}
                for kind in order:
                    events, wall, us = await measure(readers[kind], body, n)
                    got[kind] = us
                    cpu[case][kind].append(us)
                    print(
                        f"round {r + 1} {case:5s} {kind:11s} {events} events in {wall:.2f}s, "
                        f"{us:.1f} us CPU/event",
                        flush=True,
                    )
                ratio[case].append(got["aiohttp"] / got["httpx"])
    finally:
        for client in clients.values():
            await client.aclose()
        await session.close()
    return {
        "streams": STREAMS,
        **{
            f"{case}_cpu_us_per_event": {k: round(c.median(v), 1) for k, v in per.items()}
            for case, per in cpu.items()
        },
        **{f"{case}_ratio_aiohttp_over_httpx": round(c.median(v), 2) for case, v in ratio.items()},
        "rounds": c.ROUNDS,
    }


def main() -> None:
    process, base = c.start_simulator(server="uvicorn")
    try:
        load = os.getloadavg()[0]
        result = uvloop.run(run(base, "--fast" in sys.argv))
        result["load_average"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    finally:
        c.stop(process)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
