"""Upstream client benchmark: the HTTP client under httpx (UPSTREAM_HTTP_CLIENT) decides how
much CPU the worker spends reading streams. Many paced streams at once, as a busy worker
reads them, through one pooled client of each kind, alternating:

    .venv/bin/python bench/upstream.py            # 100 streams (BENCH_STREAMS) of 250 deltas at 50/s
    .venv/bin/python bench/upstream.py --fast     # plus one unpaced stream of 20,000 deltas each

Each round runs the streams with `stream_response` (our SSE decoder and typed events) and
counts this process's CPU per event: the simulator runs in another process (uvicorn), so its
work is not counted. Rounds alternate the order; medians and the ratio within each round
are reported. The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import replace
from typing import Any

import _common as c  # sets sys.path and DJANGO_SETTINGS_MODULE

from streaming.upstream.client import UpstreamConfig, make_client, stream_response

KINDS = ["aiohttp", "httpx"]
STREAMS = int(os.environ.get("BENCH_STREAMS", "100"))
PACED = {"model": c.MODEL, "input": "x [sim:long tps=50 deltas=250 seed=1]", "stream": True}


def config(base: str, kind: str) -> UpstreamConfig:
    return UpstreamConfig(base_url=base, api_key="x", max_retries=0, http_client=kind)


async def one(client: Any, cfg: UpstreamConfig, body: dict[str, Any]) -> int:
    counted = [0]

    def on_batch(batch: list[Any]) -> None:
        counted[0] += len(batch)

    await stream_response(client=client, config=cfg, body=body, on_batch=on_batch)
    return counted[0]


async def measure(
    client: Any, cfg: UpstreamConfig, body: dict[str, Any], n: int
) -> tuple[int, float, float]:
    """(events, wall seconds, microseconds of this process's CPU per event)"""
    start, cpu = time.perf_counter(), time.process_time()
    events = sum(await asyncio.gather(*(one(client, cfg, body) for _ in range(n))))
    return events, time.perf_counter() - start, (time.process_time() - cpu) * 1e6 / events


async def run(base: str, fast: bool) -> dict[str, Any]:
    configs = {kind: config(base, kind) for kind in KINDS}
    clients = {
        kind: make_client(replace(cfg, max_connections=STREAMS)) for kind, cfg in configs.items()
    }
    cases = {"paced": (PACED, STREAMS)}
    if fast:
        cases["fast"] = (c.BODY, 1)
    cpu: dict[str, dict[str, list[float]]] = {case: {k: [] for k in KINDS} for case in cases}
    ratio: dict[str, list[float]] = {case: [] for case in cases}
    try:
        for kind in KINDS:  # warm-up: connections, first-use costs
            await measure(clients[kind], configs[kind], PACED, min(STREAMS, 10))
        for r in range(c.ROUNDS):
            order = KINDS if r % 2 == 0 else KINDS[::-1]
            for case, (body, n) in cases.items():
                got = {}
                for kind in order:
                    events, wall, us = await measure(clients[kind], configs[kind], body, n)
                    got[kind] = us
                    cpu[case][kind].append(us)
                    print(
                        f"round {r + 1} {case:5s} {kind:8s} {events} events in {wall:.2f}s, {us:.1f} us CPU/event",
                        flush=True,
                    )
                ratio[case].append(got["aiohttp"] / got["httpx"])
    finally:
        for client in clients.values():
            await client.aclose()
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
        result = asyncio.run(run(base, "--fast" in sys.argv))
        result["load_average"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    finally:
        c.stop(process)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
