"""What hold mode costs: time from an upstream text delta to the log, with the built-in rules.

    .venv/bin/python bench/hold_delay.py [--rounds 5] [--latency-ms 150]

Runs turns through the real relay (the worker in this process, the simulator in a daphne
subprocess over HTTP, SQLite in a temp DATA_DIR) with MODERATION_MODE off and hold, at full
speed (tps=0) and paced like a model (tps=40, 25 ms between deltas), and reports per mode:

  upstream ttft  first text delta received from upstream (Turn.first_text_at - started_at)
  shown ttft     the first text delta's time in the log (TurnEvent.received_ms - started_at),
                 i.e. when it was handed to the writer and so to browsers
  added          shown - upstream for the first text
  delta wait     hold mode's own measure over every text delta: mean / max time from upstream
                 arrival to release (Turn.moderation["hold"])
With --latency-ms, every moderator call in hold mode also waits that long first (the rules
answer in microseconds; the OpenAI endpoint takes a network round trip).
The last line printed is one JSON object.
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

os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="hold-delay-")
os.environ.pop("REDIS_URL", None)
os.environ.pop("DATABASE_URL", None)
import _common as c
import django

django.setup()

from channels.layers import get_channel_layer  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from streaming.eventlog.store import db  # noqa: E402
from streaming.models import Turn, TurnEvent  # noqa: E402
from streaming.moderation import holdback  # noqa: E402
from streaming.moderation.moderators import DEFAULT_RULES, RuleModerator  # noqa: E402
from streaming.protocol.statuses import TURN_ACTIVE  # noqa: E402
from streaming.services import turns as services  # noqa: E402
from streaming.services.conversations import conversation_create  # noqa: E402
from streaming.worker.consumer import RelayWorker, worker_application  # noqa: E402

PROMPT = "Bench [sim:markdown tps={tps} deltas=120 seed={seed}]"


class SlowRules(RuleModerator):
    """The built-in rules behind a fixed latency, standing in for a remote moderator."""

    latency = 0.0

    async def check(self, texts: list[str]) -> list[Any]:
        await asyncio.sleep(self.latency)
        return await super().check(texts)


def _start(user: Any, text: str) -> str:
    conversation = conversation_create(owner=user)
    return str(services.turn_start(conversation=conversation, text=text, model="sim-markdown").pk)


def _measure(turn_id: str) -> dict[str, Any]:
    turn = Turn.objects.get(pk=turn_id)
    first = (
        TurnEvent.objects.filter(turn_id=turn_id, type="response.output_text.delta")
        .order_by("seq")
        .values_list("received_ms", flat=True)
        .first()
    )
    started_ms = turn.started_at.timestamp() * 1000
    upstream = turn.first_text_at.timestamp() * 1000 - started_ms
    hold = (turn.moderation or {}).get("hold") or {}
    return {
        "status": turn.status,
        "upstream": upstream,
        "shown": first - started_ms,
        "mean": hold.get("delay_ms_mean", 0.0),
        "max": hold.get("delay_ms_max", 0.0),
        "checkpoints": hold.get("checkpoints", 0),
    }


async def _turn(user: Any, text: str) -> dict[str, Any]:
    turn_id = await db(_start, user, text)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = await db(lambda: Turn.objects.get(pk=turn_id).status)
        if status not in TURN_ACTIVE:
            return await db(_measure, turn_id)
        await asyncio.sleep(0.02)
    raise RuntimeError(f"turn {turn_id} did not finish")


async def main(rounds: int) -> dict[str, Any]:
    worker = RelayWorker(
        application=worker_application(),
        channels=[services.WORKER_CHANNEL],
        channel_layer=get_channel_layer(),
    )
    task = asyncio.ensure_future(worker.arun())
    user = await db(lambda: get_user_model().objects.create_user("bench", password="bench-pw-1"))
    results: dict[str, Any] = {}
    try:
        for tps in (0, 40):
            for mode in ("off", "hold"):
                settings.MODERATION_MODE = mode
                runs = [
                    await _turn(user, PROMPT.format(tps=tps, seed=seed)) for seed in range(rounds)
                ]
                assert all(r["status"] == "completed" for r in runs), runs
                results[f"tps={tps} {mode}"] = _summary(runs)
    finally:
        task.cancel()
    return results


def _summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    med = lambda key: round(statistics.median(r[key] for r in runs), 1)  # noqa: E731
    return {
        "upstream_ttft_ms": med("upstream"),
        "shown_ttft_ms": med("shown"),
        "added_ms": round(statistics.median(r["shown"] - r["upstream"] for r in runs), 1),
        "delta_wait_mean_ms": med("mean"),
        "delta_wait_max_ms": med("max"),
        "checkpoints": med("checkpoints"),
    }


if __name__ == "__main__":
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
    if "--latency-ms" in sys.argv:
        SlowRules.latency = float(sys.argv[sys.argv.index("--latency-ms") + 1]) / 1000
        holdback.moderator_from_settings = lambda: SlowRules(DEFAULT_RULES)  # type: ignore[assignment]
    call_command("migrate", verbosity=0)
    simulator, url = c.start_simulator()
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = url, ""
    settings.MODERATION_RETRIES = 0
    settings.LIMIT_TURNS_PER_MINUTE = 100_000
    try:
        summary = asyncio.run(main(rounds))
    finally:
        c.stop(simulator)
    print(f"{'':12} {'upstream':>9} {'shown':>9} {'added':>8} {'wait mean':>10} {'wait max':>9}")
    for name, s in summary.items():
        print(
            f"{name:12} {s['upstream_ttft_ms']:>9} {s['shown_ttft_ms']:>9} {s['added_ms']:>8}"
            f" {s['delta_wait_mean_ms']:>10} {s['delta_wait_max_ms']:>9}"
        )
    print(json.dumps(summary))
