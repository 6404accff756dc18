"""Channel-layer benchmark: channels_redis core layer against the pub-sub layer, our traffic.

    .venv/bin/python bench/layers.py [--groups 100,300,600] [--seconds 8] [--redis URL]

Two shapes, each with one sending process (a worker) and receiving processes (daphne):
  batches   G turn groups with one socket consumer each; the sender group_sends one batch
            (one ~300-byte envelope, as a 16 ms flush at 50 events/s carries) per group
            every 20 ms. Reports delivered, lost, latency p50/p99, CPU of both processes.
  wakeups   two worker processes receive on `streaming.worker`; 200 wake-ups at 50/s.
            Reports deliveries per message (core: one worker; pub-sub: every worker).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
import uuid
from typing import Any

ENVELOPE = '{"seq":17,"event":{"type":"response.output_text.delta","sequence_number":9,' + (
    '"item_id":"msg_' + "0" * 50 + '","output_index":0,"content_index":0,'
    '"delta":"Hello there, general","logprobs":[],"obfuscation":"abcdefgh"}}'
)
PERIOD = 0.020  # 50 batches per second per turn
BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


def make_layer(kind: str, url: str, prefix: str) -> Any:
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    hosts = [{"address": url, "socket_timeout": None}]
    cls = RedisChannelLayer if kind == "core" else RedisPubSubChannelLayer
    return cls(hosts=hosts, prefix=prefix)


async def clean(kind: str, url: str, prefix: str) -> None:
    """Delete what the run left in Redis (the core layer keeps groups for a day)."""
    await make_layer(kind, url, prefix).flush()


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- receiving processes -------------------------------------------------------------


def receiver(kind: str, url: str, prefix: str, groups: list[str], conn: Any) -> None:
    asyncio.run(_receive(kind, url, prefix, groups, conn))


async def _receive(kind: str, url: str, prefix: str, groups: list[str], conn: Any) -> None:
    layer = make_layer(kind, url, prefix)
    latencies: list[float] = []
    counts: dict[str, int] = {}

    async def consume(channel: str) -> None:
        while True:
            message = await layer.receive(channel)
            latencies.append(time.time() - message["t"])
            counts[channel] = counts.get(channel, 0) + 1

    channels = []
    for group in groups:
        channel = group if group == "streaming.worker" else await layer.new_channel()
        if channel != group:
            await layer.group_add(group, channel)
        channels.append(channel)
    tasks = [asyncio.create_task(consume(c)) for c in channels]
    await asyncio.sleep(0.5)  # subscriptions settle
    conn.send("ready")
    start_cpu = cpu_seconds()
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
    cpu = cpu_seconds() - start_cpu
    for task in tasks:
        task.cancel()
    conn.send({"latencies": latencies, "received": sum(counts.values()), "cpu": cpu})


def start_receivers(kind: str, url: str, prefix: str, shards: list[list[str]]) -> list[Any]:
    ctx = mp.get_context("spawn")
    started = []
    for groups in shards:
        parent, child = ctx.Pipe()
        process = ctx.Process(target=receiver, args=(kind, url, prefix, groups, child))
        process.start()
        started.append((process, parent))
    for _, parent in started:
        assert parent.poll(60), "a receiver did not start"
        parent.recv()
    return started


def stop_receivers(started: list[Any]) -> list[dict[str, Any]]:
    results = []
    for process, parent in started:
        parent.send("stop")
        results.append(parent.recv())
        process.join(10)
    return results


# --- the two shapes --------------------------------------------------------------------


async def send_batches(
    layer: Any, groups: list[str], seconds: float
) -> tuple[int, int, float, float]:
    sent = errors = 0
    start_cpu, start = cpu_seconds(), time.monotonic()

    async def turn(group: str, offset: float) -> None:
        nonlocal sent, errors
        await asyncio.sleep(offset)
        deadline = time.monotonic() + seconds
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            message = {"type": "stream.events", "first": sent, "envelopes": [ENVELOPE]}
            try:
                await layer.group_send(group, {**message, "done": False, "t": time.time()})
                sent += 1
            except Exception:  # counted: the core layer runs out of pooled connections
                errors += 1
            next_at += PERIOD
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    await asyncio.gather(*(turn(g, i * PERIOD / len(groups)) for i, g in enumerate(groups)))
    elapsed = time.monotonic() - start
    return sent, errors, (cpu_seconds() - start_cpu) / elapsed, elapsed


def batches(kind: str, url: str, groups: int, seconds: float) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    names = [f"turn.{uuid.uuid4().hex}" for _ in range(groups)]
    receivers = start_receivers(kind, url, prefix, [names])
    layer = make_layer(kind, url, prefix)
    sent, errors, sender_cpu, elapsed = asyncio.run(send_batches(layer, names, seconds))
    time.sleep(3.0)  # let the tail arrive
    (result,) = stop_receivers(receivers)
    asyncio.run(clean(kind, url, prefix))
    latencies = result["latencies"]
    return {
        "layer": kind,
        "groups": groups,
        "offered_per_s": round(groups / PERIOD),
        "sent_per_s": round(sent / elapsed),
        "send_errors": errors,
        "lost": sent - result["received"],
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "sender_cpu": round(sender_cpu, 2),
        "receiver_cpu": round(result["cpu"] / (elapsed + 1.0), 2),
    }


async def send_wakeups(layer: Any, count: int) -> None:
    for _ in range(count):
        await layer.send("streaming.worker", {"type": "stream.run", "turn": "x", "t": time.time()})
        await asyncio.sleep(PERIOD)


def wakeups(kind: str, url: str, count: int = 200) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    receivers = start_receivers(kind, url, prefix, [["streaming.worker"], ["streaming.worker"]])
    asyncio.run(send_wakeups(make_layer(kind, url, prefix), count))
    time.sleep(1.0)
    results = stop_receivers(receivers)
    asyncio.run(clean(kind, url, prefix))
    latencies = [v for r in results for v in r["latencies"]]
    received = [r["received"] for r in results]
    return {
        "layer": kind,
        "wakeups": count,
        "deliveries_per_worker": received,
        "per_message": round(sum(received) / count, 2),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", default="100,300,600")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--layers", default="core,pubsub")
    args = parser.parse_args()
    kinds = args.layers.split(",")
    report: dict[str, Any] = {"batches": [], "wakeups": []}
    for groups in [int(g) for g in args.groups.split(",")]:
        for kind in kinds:
            row = batches(kind, args.redis, groups, args.seconds)
            print(f"batches {json.dumps(row)}", flush=True)
            report["batches"].append(row)
    for kind in kinds:
        row = wakeups(kind, args.redis)
        print(f"wakeups {json.dumps(row)}", flush=True)
        report["wakeups"].append(row)
    medians = {
        k: statistics.median(r["p50_ms"] for r in report["batches"] if r["layer"] == k)
        for k in kinds
    }
    report["median_p50_ms"] = medians
    print(json.dumps(report))


if __name__ == "__main__":
    main()
