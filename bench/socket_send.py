"""What the socket's authentication costs per frame sent.

A turn's socket sends one frame per live batch, so anything wrapped around the ASGI server's
`send` runs for every event of every live turn. This sends `BENCH_FRAMES` (default 100,000)
frames through each stack to a `send` that does nothing, alternating the stacks over
`BENCH_ROUNDS` rounds, and reports the median microseconds per frame:

- `channels`: channels' `AuthMiddlewareStack`, whose session middleware wraps `send`;
- `ours`: `streaming.live.auth.socket_auth`, which looks the user up once and wraps nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="socket-send-")
os.environ.pop("REDIS_URL", None)
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import django

django.setup()

from channels.auth import AuthMiddlewareStack  # noqa: E402

from streaming.live.auth import socket_auth  # noqa: E402

FRAMES = int(os.environ.get("BENCH_FRAMES", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SCOPE = {"type": "websocket", "path": "/ws/", "headers": [], "query_string": b""}
MESSAGE = {"type": "websocket.send", "text": "x" * 200}


async def per_frame(stack: Any) -> float:
    took: list[float] = []

    async def consumer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        for _ in range(FRAMES):
            await send(MESSAGE)
        took.append(time.perf_counter() - started)

    async def server_send(message: dict[str, Any]) -> None:
        return None

    await stack(consumer)(dict(SCOPE), None, server_send)
    return took[0] / FRAMES * 1e6


async def main() -> None:
    stacks = {"channels": AuthMiddlewareStack, "ours": socket_auth}
    results: dict[str, list[float]] = {name: [] for name in stacks}
    for round_ in range(ROUNDS):
        names = list(stacks)[round_ % 2 :] + list(stacks)[: round_ % 2]
        for name in names:
            results[name].append(await per_frame(stacks[name]))
        print(round_, {name: round(values[-1], 2) for name, values in results.items()}, flush=True)
    medians = {name: round(statistics.median(values), 2) for name, values in results.items()}
    print(json.dumps({"us_per_frame": medians, "frames": FRAMES, "rounds": ROUNDS}))


if __name__ == "__main__":
    asyncio.run(main())
