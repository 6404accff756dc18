"""Load benchmark: N concurrent turns at 50 events/s, each watched by a WebSocket client.

    .venv/bin/python bench/load.py                          # embedded, then Redis + PostgreSQL
    .venv/bin/python bench/load.py --setup team --steps 100,200,300
    .venv/bin/python bench/load.py --setup embedded --soak 10 --soak-turns 100

The upstream is the simulator in its own process, asked with `stamp=1` so that every delta
carries `sim_sent_ms`, the moment the simulator sent it; the relay keeps unknown fields, so
the client sees it. Relay-added latency = the client's receive time - `sim_sent_ms` (one
machine, one clock), over the deltas received live (after `relay.replay.done`).

Setups: `embedded` is `manage.py serve` on SQLite with the worker inside; `team` is
`manage.py serve` plus `manage.py runworker streaming.worker` on a fresh PostgreSQL database
and the Redis pub-sub layer.

A step posts its N turns (20 at a time) and asks every one to start streaming at one moment,
`--start-in` seconds after the step began (default 2 + N/12: time to post and connect them
all), each a random part of one delta's interval late so the streams do not tick in step.
The moment is the simulator's `start_at`, a wall-clock time: a turn whose request reached
the simulator late (its post, claim and start queued behind the others') still streams from
then on. `start_late_ms` says how much later than asked each turn's first delta came: more
than the relay's latency only when its request reached the simulator after the moment, so
it measures the start of a burst of turns (post to upstream request). So N turns do
stream at once: `peak_concurrent` says how many did, and `together_s` for how long (from the
last turn's first delta to the first turn's last). Without that common start (`--burst`,
each turn streaming `--ttft` after its post) posting the last turns took longer than the
first turns streamed, and a step of 300 never had 300 streaming.

Per N: p50/p99 latency while all N stream (`p50_together_ms`, `p99_together_ms`) and over the
whole step (`p50_ms`, `p99_ms`: with the posting and connecting), `p99_steady_ms` (once every
turn streams, to the end), events lost (a seq gap, a missing delta or a socket that did not
end with `relay.turn.done`: must be 0), the RSS and CPU of the server and worker processes,
and of the bench process itself. Steps stop at the first N whose p99 while together is over
100 ms (or that never had N streaming); the largest N within it is reported, and the largest
by the whole step's p99 beside it. `--soak MINUTES` keeps N turns running back to back and
samples memory every 10 s. The last line printed is one JSON object.

The simulator and the clients share the machine with the relay, so both are kept cheap: the
simulator runs under uvicorn (uvloop, httptools), about half daphne's CPU per paced event
(docs/simulator.md), and each socket is read by `_common.WebSocketReader` on uvloop: 17-19 µs
of CPU per frame received, against 28-32 µs with the `websockets` client (100-200 sockets at
50 frames/s each, alternated in one run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as c  # sets sys.path and DJANGO_SETTINGS_MODULE
import httpx
import uvloop

from tests.served_app import ServedApp
from tests.team import Team, team_services

TPS = 50
P99_TARGET_MS = 100.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
SIMULATOR_PID = [0]  # set by main()


# --- processes -----------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    return 0.0


@dataclass
class Deployment:
    """The relay's processes (named pids), where to reach it, and how to stop it."""

    name: str
    url: str
    pids: dict[str, int]
    stop: Any

    def memory(self) -> dict[str, float]:
        return {name: round(rss_mb(pid), 1) for name, pid in self.pids.items()}

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}


def relay_env(data_dir: Path, upstream: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": upstream,
        "PYTHONUNBUFFERED": "1",
        "LIMIT_ACTIVE_TURNS_PER_USER": "100000",
        "LIMIT_TURNS_PER_MINUTE": "100000",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("REDIS_URL", "DATABASE_URL"):
        env.pop(name, None)
    return env


def start_embedded(upstream: str) -> Deployment:
    data_dir = Path(tempfile.mkdtemp(prefix="load-embedded-"))
    app = ServedApp(data_dir, relay_env(data_dir, upstream)).prepare()
    app.start()
    assert app.process is not None

    def stop() -> None:
        app.stop()
        shutil.rmtree(data_dir, ignore_errors=True)  # a step's SQLite log: up to 200 MB

    return Deployment("embedded", app.url, {"server": app.process.pid}, stop)


def start_team(upstream: str, servers: int, workers: int) -> Deployment:
    team_services()
    data_dir = Path(tempfile.mkdtemp(prefix="load-team-"))
    team = Team(data_dir, upstream)
    extra = relay_env(data_dir, upstream)
    team.env = {**extra, **{k: v for k, v in team.env.items() if k not in extra}}
    for name in ("RELAY_LEASE_SECONDS", "RELAY_SWEEP_INTERVAL"):
        team.env.pop(name, None)  # the defaults, as deployed
    team.start(servers=servers, workers=workers)
    pids = {f"server{i}": s.process.pid for i, s in enumerate(team.servers) if s.process}
    pids |= {f"worker{i}": w.process.pid for i, w in enumerate(team.workers)}

    def stop() -> None:
        team.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    return Deployment("team", team.servers[0].url, pids, stop)


# --- clients -------------------------------------------------------------------------


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    received_ms: list[float] = field(default_factory=list)  # when each latency was taken
    first_live_ms: list[float] = field(default_factory=list)  # per socket, its first live delta
    late_ms: list[float] = field(default_factory=list)  # per socket: first live delta - asked
    spans: list[tuple[float, float]] = field(default_factory=list)  # per socket: first, last live
    replayed: int = 0
    deltas: int = 0
    lost: int = 0
    failed: list[str] = field(default_factory=list)


class Watched:
    """What one turn's socket has received, checked message by message."""

    def __init__(self, result: Result, asked_ms: float) -> None:
        self.result = result
        self.asked_ms = asked_ms  # when the first delta was asked for
        self.next_seq = 0
        self.gaps = False  # a seq out of order, repeated or skipped
        self.live = False  # after `relay.replay.done`
        self.streaming = False  # a live delta has arrived
        self.last_type = ""
        self.deltas = 0
        self.first_ms = self.last_ms = 0.0  # its first and last live delta

    def message(self, text: bytes) -> None:
        now = time.time() * 1000
        for item in json.loads(text):
            event = item["event"]
            if "seq" not in item:
                self.live = self.live or event["type"] == "relay.replay.done"
                continue
            self.gaps = self.gaps or item["seq"] != self.next_seq
            self.next_seq += 1
            self.last_type = event["type"]
            if "sim_sent_ms" in event:
                self.deltas += 1
                if self.live:
                    if not self.streaming:
                        self.streaming = True
                        self.first_ms = now
                        self.result.first_live_ms.append(now)
                        self.result.late_ms.append(now - self.asked_ms)
                    self.last_ms = now
                    self.result.latencies_ms.append(now - event["sim_sent_ms"])
                    self.result.received_ms.append(now)
                else:
                    self.result.replayed += 1


class Clients:
    """One logged-in user; turns posted over HTTP, watched over WebSockets."""

    def __init__(self, url: str) -> None:
        app = ServedApp(Path("."), {})
        app.url = url
        sync = app.login()
        self.url = url
        self.headers = app.ws_headers(sync)
        self.http = httpx.AsyncClient(
            base_url=url,
            cookies=sync.cookies,
            headers={"X-CSRFToken": sync.cookies["csrftoken"]},
            timeout=60,
            limits=httpx.Limits(max_connections=50),
        )

    async def turn(self, prompt: str) -> str:
        conversation = (await self.http.post("/api/conversations", json={})).json()["id"]
        response = await self.http.post(
            f"/api/conversations/{conversation}/turns", json={"input": prompt}
        )
        response.raise_for_status()
        return response.json()["id"]

    async def watch(self, turn_id: str, expected: int, result: Result, asked_ms: float) -> None:
        url = self.url.replace("http", "ws") + f"/ws/turns/{turn_id}/"
        socket = Watched(result, asked_ms)
        await c.ws_follow(url, self.headers, socket.message)
        result.deltas += socket.deltas
        if socket.streaming:
            result.spans.append((socket.first_ms, socket.last_ms))
        missing = expected - socket.deltas
        if missing or socket.gaps or socket.last_type != "relay.turn.done":
            result.lost += max(missing, 1)
            result.failed.append(turn_id)

    async def one(
        self,
        prompt: Callable[[], tuple[str, float]],
        expected: int,
        result: Result,
        gate: asyncio.Semaphore,
    ):
        async with gate:  # bounds the burst of POSTs and handshakes, not the streams
            text, asked_ms = prompt()  # the prompt is made as it is posted
            turn_id = await self.turn(text)
            watching = asyncio.ensure_future(self.watch(turn_id, expected, result, asked_ms))
            await asyncio.sleep(0)
        await watching


TTFT = [1.0]  # set by main(): seconds before each turn's first delta


def prompt(i: int, deltas: int, due: float | None = None) -> Callable[[], tuple[str, float]]:
    """Turn i's prompt, made when it is posted, and the moment (ms since the epoch) its first
    delta is asked for. ttft: time for the socket to connect, so deltas are seen live, not
    replayed. With `due` (a `time.time()`), the first delta is asked for at that moment
    (`start_at`, however long the turn took to reach the simulator), plus a random part of
    one delta's interval so that the N streams do not tick in step; a turn that reaches the
    simulator later than that still waits `TTFT`."""

    def make() -> tuple[str, float]:
        ttft = TTFT[0]
        at, start = time.time() + ttft, ""
        if due is not None:
            at = max(at, due) + random.uniform(0, 1 / TPS)
            start = f" start_at={at:.3f}"
        keyword = f"[sim:long tps={TPS} ttft={ttft:.3f}{start} deltas={deltas} seed={i} stamp=1]"
        return f"Load {i} {keyword}", at * 1000

    return make


# --- steps ---------------------------------------------------------------------------


def steady(result: Result) -> list[float]:
    """The latencies taken after the last socket saw its first live delta."""
    since = max(result.first_live_ms, default=0.0)
    return [
        latency
        for latency, when in zip(result.latencies_ms, result.received_ms, strict=True)
        if when > since
    ]


def together(result: Result) -> tuple[float, float]:
    """The window in which every socket of the step was streaming: (start, end) in ms, or
    an empty window when the first turn ended before the last one started."""
    if not result.spans:
        return 0.0, 0.0
    return max(s for s, _ in result.spans), min(e for _, e in result.spans)


def peak_concurrent(spans: list[tuple[float, float]]) -> int:
    """The most sockets streaming at one moment."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    peak = now = 0
    for _, change in edges:
        now += change
        peak = max(peak, now)
    return peak


def percentile(values: list[float], share: float) -> float:
    if not values:
        return -1.0  # no samples (a JSON number, unlike NaN)
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def sample_memory(deployment: Deployment, peaks: dict[str, float], every: float) -> None:
    while True:
        for name, value in deployment.memory().items():
            peaks[name] = max(peaks.get(name, 0.0), value)
        await asyncio.sleep(every)


async def step(
    deployment: Deployment, n: int, deltas: int, start_in: float | None
) -> dict[str, Any]:
    clients = Clients(deployment.url)
    result, peaks = Result(), {}
    cpu_before, bench_before, started = deployment.cpu(), os.times(), time.monotonic()
    sim_before = cpu_seconds(SIMULATOR_PID[0])
    sampler = asyncio.ensure_future(sample_memory(deployment, peaks, 0.5))
    gate = asyncio.Semaphore(20)
    due = None if start_in is None else time.time() + start_in
    try:
        await asyncio.gather(
            *(clients.one(prompt(i, deltas, due), deltas, result, gate) for i in range(n))
        )
    finally:
        sampler.cancel()
        await clients.http.aclose()
    elapsed = time.monotonic() - started
    cpu_after, bench_after = deployment.cpu(), os.times()
    cpu = {k: round((cpu_after[k] - cpu_before[k]) / elapsed, 2) for k in cpu_after}
    bench_cpu = bench_after.user + bench_after.system - bench_before.user - bench_before.system
    latencies = result.latencies_ms
    start, end = together(result)
    during = [
        latency
        for latency, when in zip(latencies, result.received_ms, strict=True)
        if start <= when <= end
    ]
    return {
        "n": n,
        # While all N stream at once: what "N concurrent turns" measures.
        "p50_together_ms": round(percentile(during, 0.50), 1),
        "p99_together_ms": round(percentile(during, 0.99), 1),
        "together_s": round(max(0.0, end - start) / 1000, 1),
        "peak_concurrent": peak_concurrent(result.spans),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        # Once every turn streams: the start-up burst (N turns posted, claimed and connected
        # within a second or two) left out, to tell it apart from the steady state.
        "p99_steady_ms": round(percentile(steady(result), 0.99), 1),
        "max_ms": round(max(latencies, default=-1.0), 1),
        # How much later than asked each turn's first delta came: the time from post to the
        # upstream request, when a turn reached the simulator after its first delta was due.
        "start_late_ms": {
            q: round(percentile(result.late_ms, share))
            for q, share in (("p50", 0.5), ("p90", 0.9), ("max", 1.0))
        },
        "deltas": result.deltas,
        "live_samples": len(latencies),
        "replayed": result.replayed,
        "lost": result.lost,
        "failed_turns": len(result.failed),
        "events_per_s": round(result.deltas / elapsed),
        "seconds": round(elapsed, 1),
        "rss_mb_peak": peaks,
        "rss_mb_total": round(sum(peaks.values()), 1),
        "cpu_cores": cpu,
        "bench_cpu_cores": round(bench_cpu / elapsed, 2),
        "simulator_cpu_cores": round((cpu_seconds(SIMULATOR_PID[0]) - sim_before) / elapsed, 2),
        # Other work on the machine skews latency: the 1-minute load average at the end.
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


async def soak(deployment: Deployment, n: int, deltas: int, minutes: float) -> list[dict]:
    """N turns back to back for `minutes`; memory every 10 s."""
    clients = Clients(deployment.url)
    result, samples = Result(), []
    deadline = time.monotonic() + minutes * 60
    started = time.monotonic()

    async def lane(i: int) -> None:
        gate = asyncio.Semaphore(1)
        while time.monotonic() < deadline:
            await clients.one(prompt(i, deltas), deltas, result, gate)

    async def sampler() -> None:
        while True:
            samples.append(
                {
                    "t_s": round(time.monotonic() - started),
                    "rss_mb": deployment.memory(),
                    "deltas": result.deltas,
                    "lost": result.lost,
                }
            )
            print(f"soak {json.dumps(samples[-1])}", flush=True)
            await asyncio.sleep(10)

    task = asyncio.ensure_future(sampler())
    try:
        await asyncio.gather(*(lane(i) for i in range(n)))
    finally:
        task.cancel()
        await clients.http.aclose()
    samples.append(
        {
            "t_s": round(time.monotonic() - started),
            "rss_mb": deployment.memory(),
            "deltas": result.deltas,
            "lost": result.lost,
            "p99_ms": round(percentile(result.latencies_ms, 0.99), 1),
        }
    )
    return samples


def passes(row: dict[str, Any], key: str) -> bool:
    """Nothing lost, the p99 `key` within the target, and (for the p99 while together) all
    N turns streaming at one moment."""
    together = key != "p99_together_ms" or row["peak_concurrent"] == row["n"]
    return together and not row["lost"] and 0 <= row[key] <= P99_TARGET_MS


def run_setup(name: str, args: argparse.Namespace, upstream: str) -> dict[str, Any]:
    if name == "embedded":
        deployment = start_embedded(upstream)
    else:
        deployment = start_team(upstream, args.servers, args.workers)
    report: dict[str, Any] = {"setup": name, "steps": [], "idle_rss_mb": deployment.memory()}
    try:
        if args.soak:
            report["soak"] = uvloop.run(soak(deployment, args.soak_turns, args.deltas, args.soak))
            return report
        for n in args.steps:
            start_in = None if args.burst else args.start_in or 2 + n / 12
            row = uvloop.run(step(deployment, n, args.deltas, start_in))
            print(f"{name} {json.dumps(row)}", flush=True)
            report["steps"].append(row)
            if not args.keep_going and not passes(row, "p99_together_ms"):
                break
        for key in ("p99_together_ms", "p99_ms"):
            passing = [r["n"] for r in report["steps"] if passes(r, key)]
            report[f"max_n_{key}_under_100ms"] = max(passing, default=0)
    finally:
        deployment.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", choices=["embedded", "team", "both"], default="both")
    parser.add_argument("--steps", default="10,25,50,100,200,300,400")
    parser.add_argument("--deltas", type=int, default=500, help="deltas per turn (at 50/s)")
    parser.add_argument("--ttft", type=float, default=1.0, help="least seconds to a first delta")
    parser.add_argument(
        "--start-in",
        type=float,
        default=0,
        help="seconds from a step's start to every turn's first delta (default 2 + N/12)",
    )
    parser.add_argument(
        "--burst", action="store_true", help="no common start: each turn streams after --ttft"
    )
    parser.add_argument("--servers", type=int, default=1, help="daphne processes (team)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (team)")
    parser.add_argument("--keep-going", action="store_true", help="run every step")
    parser.add_argument("--soak", type=float, default=0, help="minutes of steady load")
    parser.add_argument("--soak-turns", type=int, default=100)
    args = parser.parse_args()
    args.steps = [int(n) for n in args.steps.split(",")]
    TTFT[0] = args.ttft
    setups = ["embedded", "team"] if args.setup == "both" else [args.setup]
    simulator, upstream = c.start_simulator("uvicorn")
    SIMULATOR_PID[0] = simulator.pid
    reports = []
    try:
        for name in setups:
            reports.append(run_setup(name, args, upstream))
    finally:
        c.stop(simulator)
    summary = {
        "tps_per_turn": TPS,
        "deltas_per_turn": args.deltas,
        "ttft_s": args.ttft,
        "target_p99_ms": P99_TARGET_MS,
        "setups": reports,
        "median_p50_ms": {
            r["setup"]: statistics.median([s["p50_ms"] for s in r["steps"]])
            for r in reports
            if r["steps"]
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
