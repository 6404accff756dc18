"""Answers survive restarts: SIGKILL `manage.py serve` at a random point of a paced
background turn, start it again, and follow the turn from a WebSocket client.

Each round: a turn (`[sim:markdown tps=T deltas=D]`), a kill after a random number of the
deltas reached the client, a restart with the same data directory, the client reconnecting
with `?after=` its last seq. Measured: the time from the restarted server listening to the
first resumed event (an event the log did not hold at the kill) reaching the client; over all
rounds, upstream events lost or duplicated (each `sequence_number` once, 0..n, the whole
text) and `seq` gaps. The last line is one JSON object.

    .venv/bin/python bench/resume.py [--kills 20] [--tps 100] [--deltas 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import _common as c  # noqa: F401  (sets sys.path)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.served_app import ServedApp, new_turn, read_deltas, receive_acking, wait_status


def stored_count(data_dir: Path, turn_id: str) -> int:
    """Rows the turn's log holds (the server is dead: the file is at rest)."""
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM streaming_turnevent WHERE turn_id = ?",
            (turn_id.replace("-", ""),),
        ).fetchone()
    return count


def one_round(app: ServedApp, args: argparse.Namespace, rng: random.Random) -> dict:
    client = app.login()
    turn = new_turn(client, f"Go [sim:markdown tps={args.tps} deltas={args.deltas}]")
    ws = app.url.replace("http", "ws") + f"/ws/turns/{turn['id']}/"
    kill_after = rng.randint(1, max(1, args.deltas - 20))
    seen = read_deltas(app, client, turn["id"], kill_after)
    app.stop(kill=True)
    held = stored_count(app.data_dir, turn["id"])
    app.start(port=app.port)
    listening = time.monotonic()
    client = app.login()
    after = seen[-1]["seq"]
    first_resumed = None
    url = f"{ws}?after={after}"
    with connect(url, additional_headers=app.ws_headers(client), max_size=None) as socket:
        try:
            while True:
                for envelope in receive_acking(socket, timeout=30):
                    if first_resumed is None and envelope["seq"] >= held:
                        first_resumed = time.monotonic() - listening
                    seen.append(envelope)
        except ConnectionClosed:
            pass
    stored = wait_status(client, turn["id"], {"completed", "interrupted", "failed"}, timeout=30)
    sequence = [
        e["event"]["sequence_number"] for e in seen if not e["event"]["type"].startswith("relay.")
    ]
    expected = max(sequence) + 1 if sequence else 0
    deltas = sum(e["event"]["type"] == "response.output_text.delta" for e in seen)
    return {
        "status": stored["status"],
        "kill_after_deltas": kill_after,
        "stored_at_kill": held,
        "seq_gap_free": [e["seq"] for e in seen] == list(range(len(seen))),
        "lost": max(0, args.deltas - deltas) + max(0, expected - len(set(sequence))),
        "duplicated": len(sequence) - len(set(sequence)),
        "first_resumed_s": first_resumed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--tps", type=float, default=100)
    parser.add_argument("--deltas", type=int, default=300)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    env = {**os.environ, "DATA_DIR": str(data_dir), "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    env.update(RELAY_SWEEP_INTERVAL="0.5", RELAY_BACKGROUND="auto", PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    app = ServedApp(data_dir, env).prepare().start()
    rounds = []
    try:
        for number in range(args.kills):
            result = one_round(app, args, rng)
            rounds.append(result)
            print(json.dumps({"round": number + 1, **result}), flush=True)
    finally:
        app.stop(kill=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    times = [r["first_resumed_s"] for r in rounds if r["first_resumed_s"] is not None]
    print(
        json.dumps(
            {
                "bench": "resume",
                "kills": len(rounds),
                "completed": sum(r["status"] == "completed" for r in rounds),
                "lost": sum(r["lost"] for r in rounds),
                "duplicated": sum(r["duplicated"] for r in rounds),
                "seq_gaps": sum(not r["seq_gap_free"] for r in rounds),
                "first_resumed_median_s": round(statistics.median(times), 3) if times else None,
                "first_resumed_max_s": round(max(times), 3) if times else None,
                "tps": args.tps,
                "deltas": args.deltas,
            }
        )
    )


if __name__ == "__main__":
    main()
