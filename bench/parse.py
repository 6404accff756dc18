"""Parse benchmark: one long stream from the simulator, read and understood four ways.

    .venv/bin/python bench/parse.py            # 5 rounds (BENCH_ROUNDS), 20,000 deltas (BENCH_DELTAS)
    .venv/bin/python bench/parse.py --profile  # cProfile of one run of ours, top functions

Contenders, each reading the same bytes over HTTP from a separate simulator process:
  ours       streaming.upstream.client.stream_response (our SSE decoder + pydantic validation
             of every event) folded by streaming.protocol.accumulator.Accumulator, over the
             default HTTP client (UPSTREAM_HTTP_CLIENT=aiohttp: httpx over aiohttp)
  ours_httpx the same over httpx's own transport (UPSTREAM_HTTP_CLIENT=httpx)
  sdk        the official SDK: AsyncOpenAI(...).responses.create(stream=True), every event
  raw        httpx stream + aiter_lines + json.loads of each data line (a floor, no typing)
  httpx_sse  httpx-sse aconnect_sse + json.loads + our parse_event (as the issue asks)
  httpx_sse_fold  httpx-sse aconnect_sse + our parse_event + Accumulator: ours with only
             the SSE decoder swapped, the fair test of whether our own decoder is needed

The order rotates every round; rates are events / wall time of one stream; ratios are taken
within each round, and the medians are reported. Also the client's CPU per event (less
sensitive than wall time to the simulator and to other load on the machine), and our SSE
decoder alone on the same bytes, in memory, fed in 64 KiB chunks (`feed_data`, what the
upstream reader uses; `feed`, which builds a `Frame` per event).
The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import _common as c  # sets sys.path and DJANGO_SETTINGS_MODULE
import httpx
from httpx_sse import aconnect_sse
from openai import AsyncOpenAI

from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import parse_event
from streaming.protocol.sse import SSEDecoder
from streaming.upstream.client import UpstreamConfig, make_client, stream_response


def _config(base: str, http_client: str = "aiohttp") -> UpstreamConfig:
    return UpstreamConfig(base_url=base, api_key="x", max_retries=0, http_client=http_client)


class Contenders:
    """Each client is made once and kept (keep-alive), so a round times only the stream."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.url = f"{base}/responses"
        self.config = _config(base)
        self.ours_client = make_client(self.config)
        self.httpx_config = _config(base, "httpx")
        self.ours_httpx_client = make_client(self.httpx_config)
        self.httpx_client = httpx.AsyncClient(timeout=httpx.Timeout(10, read=None))
        self.openai = AsyncOpenAI(base_url=base, api_key="x", max_retries=0)

    async def aclose(self) -> None:
        await self.ours_client.aclose()
        await self.ours_httpx_client.aclose()
        await self.httpx_client.aclose()
        await self.openai.close()

    async def body(self) -> bytes:
        response = await self.httpx_client.post(self.url, json=c.BODY)
        return response.content

    async def ours(self) -> int:
        return await self._ours(self.ours_client, self.config)

    async def ours_httpx(self) -> int:
        return await self._ours(self.ours_httpx_client, self.httpx_config)

    async def _ours(self, client: httpx.AsyncClient, config: UpstreamConfig) -> int:
        acc, counted = Accumulator(), [0]

        def on_batch(batch: list[Any]) -> None:
            for _raw, event in batch:
                acc.feed(event)
            counted[0] += len(batch)

        await stream_response(client=client, config=config, body=c.BODY, on_batch=on_batch)
        n = counted[0]
        assert acc.terminal_type == "response.completed" and not acc.anomalies, acc.anomalies
        assert len(acc.output[0]["content"][0]["text"]) > c.DELTAS
        return n

    async def sdk(self) -> int:
        n, last = 0, None
        stream = await self.openai.responses.create(model=c.MODEL, input=c.PROMPT, stream=True)
        async for event in stream:
            n += 1
            last = event
        assert last is not None and last.type == "response.completed"
        return n

    async def raw(self) -> int:
        n = 0
        async with self.httpx_client.stream("POST", self.url, json=c.BODY) as response:
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    json.loads(line[5:])
                    n += 1
        return n

    async def httpx_sse(self) -> int:
        n = 0
        async with aconnect_sse(self.httpx_client, "POST", self.url, json=c.BODY) as source:
            async for sse in source.aiter_sse():
                json.loads(sse.data)
                parse_event(sse.data)
                n += 1
        return n

    async def httpx_sse_fold(self) -> int:
        acc, n = Accumulator(), 0
        async with aconnect_sse(self.httpx_client, "POST", self.url, json=c.BODY) as source:
            async for sse in source.aiter_sse():
                acc.feed(parse_event(sse.data))
                n += 1
        assert acc.terminal_type == "response.completed" and not acc.anomalies
        return n


NAMES = ["ours", "ours_httpx", "sdk", "raw", "httpx_sse", "httpx_sse_fold"]


def decoders(body: bytes) -> dict[str, float]:
    """Median microseconds per event of our SSE decoder alone, both ways, 11 rounds."""
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    def ours_data() -> int:
        decoder = SSEDecoder()
        return sum(len(decoder.feed_data(chunk)) for chunk in chunks)

    def ours_frames() -> int:
        decoder = SSEDecoder()
        return sum(len(decoder.feed(chunk)) for chunk in chunks)

    runs = {"ours_feed_data": ours_data, "ours_feed_frames": ours_frames}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(11):
        for name, fn in runs.items():
            start = time.perf_counter()
            n = fn()
            times[name].append((time.perf_counter() - start) * 1e6 / n)
    return {name: round(c.median(values), 2) for name, values in times.items()}


async def timed(fn) -> tuple[int, float, float]:
    """(events, events per second of wall time, microseconds of this process's CPU per event)"""
    start, cpu = time.perf_counter(), time.process_time()
    n = await fn()
    return n, n / (time.perf_counter() - start), (time.process_time() - cpu) * 1e6 / n


async def run(base: str) -> dict:
    contenders = Contenders(base)
    rates: dict[str, list[float]] = {name: [] for name in NAMES}
    cpu: dict[str, list[float]] = {name: [] for name in NAMES}
    ratios: dict[str, list[float]] = {"sdk": [], "raw": [], "httpx_sse_fold": [], "ours_httpx": []}
    counts = set()
    try:
        for name in NAMES:  # warm-up: imports, connections, pydantic's first-use costs
            await getattr(contenders, name)()
        for r in range(c.ROUNDS):
            order = NAMES[r % len(NAMES) :] + NAMES[: r % len(NAMES)]
            got = {}
            for name in order:
                n, rate, us = await timed(getattr(contenders, name))
                counts.add((name, n))
                got[name] = rate
                rates[name].append(rate)
                cpu[name].append(us)
            for other in ratios:
                ratios[other].append(got["ours"] / got[other])
            print(
                f"round {r + 1}: " + "  ".join(f"{k} {v:,.0f}/s" for k, v in got.items()),
                flush=True,
            )
        body = await contenders.body()
    finally:
        await contenders.aclose()
    events = {n for _, n in counts}
    assert len(events) == 1, f"the contenders disagree on the event count: {sorted(counts)}"
    for name in NAMES:
        print(
            f"{name:15s} events/s {c.spread(rates[name])};  client CPU/event "
            f"{c.median(cpu[name]):.1f} us"
        )
    return {
        "events": events.pop(),
        **{f"{name}_events_per_s": round(c.median(rates[name])) for name in NAMES},
        "ratio_ours_over_sdk": round(c.median(ratios["sdk"]), 2),
        "ratio_ours_over_raw": round(c.median(ratios["raw"]), 2),
        "ratio_ours_over_httpx_sse_fold": round(c.median(ratios["httpx_sse_fold"]), 2),
        "ratio_ours_over_ours_httpx": round(c.median(ratios["ours_httpx"]), 2),
        "cpu_us_per_event": {name: round(c.median(cpu[name]), 1) for name in NAMES},
        "decode_us_per_event": decoders(body),
        "rounds": c.ROUNDS,
    }


async def profile(base: str) -> None:
    import cProfile
    import pstats

    contenders = Contenders(base)
    await contenders.ours()
    profiler = cProfile.Profile()
    profiler.enable()
    await contenders.ours()
    profiler.disable()
    await contenders.aclose()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    process, base = c.start_simulator()
    try:
        if "--profile" in sys.argv:
            asyncio.run(profile(base))
            return
        load = os.getloadavg()[0]
        result = asyncio.run(run(base))
        result["load_average"] = [round(load, 1), round(os.getloadavg()[0], 1)]  # start, end
    finally:
        c.stop(process)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
