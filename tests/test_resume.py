"""Answers survive restarts: `manage.py serve` killed mid-answer, started again, the turn
re-attaches to the upstream's background response and completes."""

from __future__ import annotations

from websockets.sync.client import connect

from tests.served_app import ServedApp, new_turn, receive_acking, wait_status
from tests.test_serve import read_all


def upstream_seqs(envelopes: list[dict]) -> list[int]:
    return [
        e["event"]["sequence_number"]
        for e in envelopes
        if not e["event"]["type"].startswith("relay.")
    ]


def test_a_killed_server_resumes_a_background_turn_with_every_event_once(
    served_app: ServedApp,
) -> None:
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Long [sim:markdown tps=40 deltas=200 seed=7]")
    url = app.url.replace("http", "ws") + f"/ws/turns/{turn['id']}/"
    with connect(url, additional_headers=app.ws_headers(client)) as socket:
        seen: list[dict] = []
        while sum(e["event"]["type"].endswith("text.delta") for e in seen) < 10:
            seen += receive_acking(socket, timeout=20)
    app.stop(kill=True)
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], {"completed", "interrupted", "failed"}, timeout=40)
    assert stored["status"] == "completed", stored["error"]
    envelopes, _ = read_all(app, client, turn["id"])
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    assert envelopes[: len(seen)] == seen
    seqs = upstream_seqs(envelopes)
    assert seqs == list(range(len(seqs)))  # every upstream event, once, in order
    kinds = [e["event"]["type"] for e in envelopes]
    assert kinds.count("relay.request.started") == 1 and "response.completed" in kinds
    started = next(e["event"] for e in envelopes if e["event"]["type"] == "relay.request.started")
    assert started["background"] is True
    streamed = "".join(
        e["event"]["delta"] for e in envelopes if e["event"]["type"] == "response.output_text.delta"
    )
    assert stored["output_text"] == streamed and len(streamed) > 0
    deltas = sum(kind == "response.output_text.delta" for kind in kinds)
    assert deltas == 200


def test_a_killed_server_ends_a_forgotten_background_turn_interrupted(
    served_app: ServedApp,
) -> None:
    """The upstream no longer has the response (its store is gone): `interrupted`, with
    the reason, and what streamed kept."""
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Long [sim:markdown tps=40 deltas=400 seed=8]")
    url = app.url.replace("http", "ws") + f"/ws/turns/{turn['id']}/"
    with connect(url, additional_headers=app.ws_headers(client)) as socket:
        seen: list[dict] = []
        while sum(e["event"]["type"].endswith("text.delta") for e in seen) < 5:
            seen += receive_acking(socket, timeout=20)
    app.stop(kill=True)
    for stored_response in (served_app.data_dir / "simulator").glob("*.json"):
        stored_response.unlink()
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], {"completed", "interrupted", "failed"}, timeout=40)
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
    url = app.url.replace("http", "ws") + f"/ws/turns/{turn['id']}/"
    with connect(url, additional_headers=app.ws_headers(client)) as socket:
        seen: list[dict] = []
        while sum(e["event"]["type"].endswith("text.delta") for e in seen) < 10:
            seen += receive_acking(socket, timeout=20)
    app.stop()  # SIGTERM; had it ended the turn, it could not complete below
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], {"completed", "interrupted", "failed"}, timeout=40)
    assert stored["status"] == "completed", stored["error"]
    envelopes, _ = read_all(app, client, turn["id"])
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    seqs = upstream_seqs(envelopes)
    assert seqs == list(range(len(seqs)))
    assert sum(e["event"]["type"] == "response.output_text.delta" for e in envelopes) == 200
