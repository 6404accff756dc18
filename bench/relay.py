"""Relay benchmark: one long turn through the whole app, against a raw read of the same stream.

    .venv/bin/python bench/relay.py                      # separate simulator process (default)
    .venv/bin/python bench/relay.py --in-app-simulator   # the simulator mounted in the app
    .venv/bin/python bench/relay.py --compare DIR        # also a server run from another
                                                         # source tree (e.g. before a change)
    .venv/bin/python bench/relay.py --compare . --compare-env RELAY_FLUSH_MAX_EVENTS=2048
                                                         # ... or with other settings

relay: POST /api/conversations/<id>/turns (model sim-long, 20,000 deltas at full speed, a new
       conversation each time), then a WebSocket client on /ws/turns/<turn>/ reads until the
       server closes it: simulator -> worker (in the `serve` process) -> log (SQLite, on disk)
       -> channel layer -> consumer -> client. Rate = envelopes received / wall time from the
       POST to the close. The client checks it got every seq 0..N-1 once, in order, ending
       with `relay.turn.done` status completed, and N = the upstream's events + 2.
raw:   httpx stream + aiter_lines + json.loads of the same stream from the same simulator,
       asked as the relay asks for it: in background mode (`background`, `store`), as
       RELAY_BACKGROUND=auto does, unless RELAY_BACKGROUND=off. The simulator's background
       stream is itself slower than a plain one, so a raw read of a plain stream would not
       be the limit of what the relay is given.

The order of the contenders rotates every round; ratios are taken within a round and the
medians reported. Each server runs on a fresh temp DATA_DIR; RELAY_* settings come from the
environment. Also printed: the server's CPU time as a share of each relay's wall time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common as c  # sets sys.path
import httpx
from django.conf import settings

from streaming.upstream.background import background_fields
from tests.served_app import PASSWORD, ServedApp


class Server:
    """`manage.py serve` of one source tree (tests/served_app.py), and a logged-in client."""

    def __init__(self, tree: str, env: dict) -> None:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-relay-"))
        self.tree = tree
        self.app = ServedApp(data_dir, {**env, "DATA_DIR": str(data_dir)}, root=Path(tree))
        self.app.prepare().start()
        self.process, self.port, self.log = self.app.process, self.app.port, self.app.log or []
        self.http = httpx.AsyncClient(base_url=self.app.url, timeout=60)

    def stop(self) -> None:
        c.stop(self.process)

    async def login(self) -> None:
        await self.http.get("/accounts/login/")
        form = {
            "username": "alice",
            "password": PASSWORD,
            "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
        }
        response = await self.http.post("/accounts/login/", data=form)
        assert "sessionid" in self.http.cookies, f"login failed: {response.status_code}"

    async def post(self, path: str, body: dict) -> dict:
        response = await self.http.post(
            path,
            json=body,
            headers={
                "X-CSRFToken": self.http.cookies["csrftoken"],
                "Origin": f"http://127.0.0.1:{self.port}",
            },
        )
        assert response.status_code in (201, 202), response.text
        return response.json()

    async def relay(self) -> tuple[int, float, dict]:
        conversation = (await self.post("/api/conversations", {}))["id"]
        start, cpu = time.perf_counter(), c.cpu_seconds(self.process.pid)
        turn = await self.post(
            f"/api/conversations/{conversation}/turns", {"input": c.PROMPT, "model": c.MODEL}
        )
        cookies = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        messages, code = await c.ws_read(self.port, turn["ws"], cookies)
        elapsed = time.perf_counter() - start
        server_cpu = c.cpu_seconds(self.process.pid) - cpu
        seqs, last = [], {}
        for message in messages:
            for item in json.loads(message):
                if "seq" in item:
                    seqs.append(item["seq"])
                    last = item["event"]
        n = max(seqs) + 1 if seqs else 0
        check = {
            "events": len(seqs),
            "frames": len(messages),
            "lost": n - len(set(seqs)),
            "duplicated": len(seqs) - len(set(seqs)),
            "ordered": seqs == sorted(seqs),
            "last": f"{last.get('type')} {last.get('status')}",
            "close_code": code,
            "server_cpu": server_cpu / elapsed,
        }
        return len(seqs), len(seqs) / elapsed, check


def raw_body() -> dict:
    """The request the relay makes of the upstream, under the environment's RELAY_BACKGROUND
    (read by the settings the servers read it with)."""
    if settings.RELAY_BACKGROUND == "off":
        return c.BODY
    return {**c.BODY, **background_fields()}


async def raw(client: httpx.AsyncClient, url: str) -> tuple[int, float]:
    n, start = 0, time.perf_counter()
    async with client.stream("POST", f"{url}/responses", json=raw_body()) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                json.loads(line[5:])
                n += 1
    return n, n / (time.perf_counter() - start)


async def run(servers: dict[str, Server], upstream: str) -> dict:
    client = httpx.AsyncClient(timeout=httpx.Timeout(10, read=None))
    for server in servers.values():
        await server.login()
        await server.relay()  # warm-up
    n_raw, _ = await raw(client, upstream)
    names = [*servers, "raw"]
    rates: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names if name != "relay"}
    bad: list[dict] = []
    for r in range(c.ROUNDS):
        line = []
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name == "raw":
                n, rate = await raw(client, upstream)
                assert n == n_raw, f"the upstream sent {n} events, then {n_raw}"
                line.append(f"raw {rate:,.0f}/s")
            else:
                _, rate, check = await servers[name].relay()
                ok = check["events"] == n_raw + 2 and check["last"] == "relay.turn.done completed"
                if not ok or check["lost"] or check["duplicated"] or not check["ordered"]:
                    bad.append({"round": r + 1, "server": name, **check})
                line.append(
                    f"{name} {rate:,.0f}/s ({check['frames']} frames, server CPU "
                    f"{check['server_cpu']:.0%})"
                )
            rates[name].append(rate)
        for other in ratios:
            ratios[other].append(rates["relay"][-1] / rates[other][-1])
        print(f"round {r + 1}: " + "  ".join(line), flush=True)
    await client.aclose()
    for name in names:
        print(f"{name:14s} events/s {c.spread(rates[name])}")
    for problem in bad:
        print("PROBLEM", problem)
    result = {
        "events": n_raw + 2,
        "relay_events_per_s": round(c.median(rates["relay"])),
        "raw_events_per_s": round(c.median(rates["raw"])),
        "ratio": round(c.median(ratios["raw"]), 2),
        "lost": sum(p["lost"] for p in bad),
        "duplicated": sum(p["duplicated"] for p in bad),
        "bad_rounds": len(bad),
        "rounds": c.ROUNDS,
    }
    if "compare" in servers:
        result["compare_events_per_s"] = round(c.median(rates["compare"]))
        result["ratio_relay_over_compare"] = round(c.median(ratios["compare"]), 2)
    return result


def main() -> None:
    in_app = "--in-app-simulator" in sys.argv
    compare = sys.argv[sys.argv.index("--compare") + 1] if "--compare" in sys.argv else None
    extra = (
        sys.argv[sys.argv.index("--compare-env") + 1].split(",")
        if "--compare-env" in sys.argv
        else []
    )
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "LIMIT_TURNS_PER_MINUTE": "1000",
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
    }
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "REDIS_URL",
        "DATABASE_URL",
        "SIMULATOR_BASE_URL",
    ):
        env.pop(name, None)
    simulator, servers = None, {}
    try:
        if not in_app:
            simulator, env["OPENAI_BASE_URL"] = c.start_simulator()
        servers["relay"] = Server(str(c.REPO_ROOT), env)
        if compare:
            servers["compare"] = Server(compare, {**env, **dict(kv.split("=", 1) for kv in extra)})
        upstream = (
            f"http://127.0.0.1:{servers['relay'].port}/simulator/v1"
            if in_app
            else env["OPENAI_BASE_URL"]
        )
        for name, server in servers.items():
            print(
                f"{name}: pid {server.process.pid}, port {server.port}, tree {server.tree}",
                flush=True,
            )
        print(
            f"upstream: {upstream} ({'in the app' if in_app else 'a separate simulator process'})"
        )
        load = os.getloadavg()[0]
        result = asyncio.run(run(servers, upstream))
        result["load_average"] = [round(load, 1), round(os.getloadavg()[0], 1)]  # start, end
        result["simulator"] = "in-app" if in_app else "separate"
    finally:
        for process in [*(s.process for s in servers.values()), simulator]:
            if process is not None:
                c.stop(process)
        for server in servers.values():
            shutil.rmtree(server.app.data_dir, ignore_errors=True)
    if result["bad_rounds"] or "--server-log" in sys.argv:
        for name, server in servers.items():
            print(f"{name} server log (tail):\n" + "".join(server.log[-40:]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
