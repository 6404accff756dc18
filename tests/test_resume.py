"""Answers survive restarts: `manage.py serve` killed mid-answer, started again, the turn
re-attaches to the upstream's background response and completes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.served_app import (
    ServedApp,
    assert_resumed,
    new_turn,
    read_all,
    read_deltas,
    wait_status,
)

ENDED = {"completed", "interrupted", "failed"}


def test_a_killed_server_resumes_a_background_turn_with_every_event_once(
    served_app: ServedApp,
) -> None:
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Long [sim:markdown tps=40 deltas=200 seed=7]")
    seen = read_deltas(app, client, turn["id"], 10)
    app.stop(kill=True)
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], ENDED, timeout=40)
    assert stored["status"] == "completed", stored["error"]
    envelopes, _ = read_all(app, client, turn["id"])
    assert_resumed(envelopes, seen=seen, deltas=200)
    kinds = [e["event"]["type"] for e in envelopes]
    assert kinds.count("relay.request.started") == 1 and "response.completed" in kinds
    started = next(e["event"] for e in envelopes if e["event"]["type"] == "relay.request.started")
    assert started["background"] is True
    streamed = "".join(
        e["event"]["delta"] for e in envelopes if e["event"]["type"] == "response.output_text.delta"
    )
    assert stored["output_text"] == streamed and len(streamed) > 0


def test_a_killed_server_ends_a_forgotten_background_turn_interrupted(
    served_app: ServedApp,
) -> None:
    """The upstream no longer has the response (its store is gone): `interrupted`, with
    the reason, and what streamed kept."""
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Long [sim:markdown tps=40 deltas=400 seed=8]")
    seen = read_deltas(app, client, turn["id"], 5)
    app.stop(kill=True)
    for stored_response in (served_app.data_dir / "simulator").glob("*.json"):
        stored_response.unlink()
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], ENDED, timeout=40)
    assert stored["status"] == "interrupted"
    assert "resuming failed" in stored["error"] and stored["output_text"]
    envelopes, _ = read_all(app, client, turn["id"])
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    assert envelopes[: len(seen)] == seen


def test_a_graceful_stop_hands_a_background_turn_over_to_the_next_process(
    served_app: ServedApp,
) -> None:
    """SIGTERM past the grace period: the turn is not ended `interrupted`; the next process
    resumes it and it completes, every upstream event once."""
    served_app.env["RELAY_SHUTDOWN_GRACE"] = "0.2"
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Long [sim:markdown tps=40 deltas=200 seed=9]")
    seen = read_deltas(app, client, turn["id"], 10)
    app.stop()  # SIGTERM; had it ended the turn, it could not complete below
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], ENDED, timeout=40)
    assert stored["status"] == "completed", stored["error"]
    envelopes, _ = read_all(app, client, turn["id"])
    assert_resumed(envelopes, seen=seen, deltas=200)


def weather_cut_by_a_kill(location: str) -> str:
    """The weather for a place. Each call is noted in DATA_DIR; the first never returns
    (the test kills the server inside it)."""
    calls = Path(os.environ["DATA_DIR"]) / "weather-calls"
    with calls.open("a") as noted:
        noted.write(location + "\n")
    if len(calls.read_text().splitlines()) == 1:
        time.sleep(600)
    return json.dumps({"location": location, "sky": "clear"})


def test_a_server_killed_inside_a_tool_call_runs_it_once_more_and_goes_on(
    served_app: ServedApp, tmp_path: Path
) -> None:
    """The response asked for a function call and the server died while running it: the
    next process runs the call again (once), sends its output and the answer completes,
    in the same log."""
    catalogue = tmp_path / "tools.json"
    weather = {"name": "get_weather", "label": "Weather", "default": True}
    weather["function"] = f"{__name__}:weather_cut_by_a_kill"
    catalogue.write_text(json.dumps([weather]))
    served_app.manage("tools", "import", str(catalogue))
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Weather? [sim:function-call tps=40 seed=5]", tools=["get_weather"])
    calls = served_app.data_dir / "weather-calls"
    deadline = time.monotonic() + 30
    while not calls.exists():
        assert time.monotonic() < deadline, "the tool was never called"
        time.sleep(0.05)
    app.stop(kill=True)
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], ENDED, timeout=40)
    assert stored["status"] == "completed", stored["error"]
    called = calls.read_text().splitlines()
    assert len(called) == 2 and called[0] == called[1]
    envelopes, _ = read_all(app, client, turn["id"])
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    kinds = [e["event"]["type"] for e in envelopes]
    assert kinds.count("relay.request.started") == 2 and kinds.count("relay.tool.output") == 1
    assert kinds.count("response.completed") == 2 and kinds[-1] == "relay.turn.done"
    assert called[0] in stored["output_text"]  # the answer quotes the tool's output
