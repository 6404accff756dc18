"""The one-command app as users run it: `manage.py serve`, real HTTP and WebSockets."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.served_app import ServedApp, new_turn, read_all, read_deltas, wait_status


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_serve_streams_a_turn_to_a_browser_socket(served_app: ServedApp, server: str) -> None:
    """POST a turn, follow it over the socket: every seq once, ending `relay.turn.done`,
    and the stored answer equals what was streamed; on either ASGI server."""
    served_app.env["RELAY_HTTP_SERVER"] = server
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Hi [sim:markdown tps=100 deltas=60 seed=4]")
    envelopes, code = read_all(app, client, turn["id"])
    assert code == 1000
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    assert envelopes[-1]["event"]["type"] == "relay.turn.done"
    assert envelopes[-1]["event"]["status"] == "completed"
    stored = client.get(f"/api/turns/{turn['id']}").json()
    streamed = "".join(
        e["event"]["delta"] for e in envelopes if e["event"]["type"] == "response.output_text.delta"
    )
    assert stored["status"] == "completed" and stored["output_text"] == streamed


def test_a_restart_mid_turn_ends_it_interrupted_and_keeps_what_streamed(
    served_app: ServedApp,
) -> None:
    """Kill the server mid-turn and start it again: the turn is `interrupted` (not stuck),
    its partial output kept, and its log still replays from 0 without gaps. (Without
    background mode: with it, the turn resumes, tests/test_resume.py.)"""
    served_app.env["RELAY_BACKGROUND"] = "off"
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Long [sim:long tps=40 deltas=2000 seed=5]")
    seen = read_deltas(app, client, turn["id"], 10)
    app.stop(kill=True)
    app.start()
    client = app.login()
    stored = wait_status(client, turn["id"], {"interrupted"}, timeout=20)
    assert stored["output_text"] and "stopped" in stored["error"]
    envelopes, _ = read_all(app, client, turn["id"])
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    assert envelopes[: len(seen)] == seen
    assert envelopes[-1]["event"]["status"] == "interrupted"


def test_a_client_that_stops_reading_is_closed_and_resumes_from_its_last_seq(
    served_app: ServedApp,
) -> None:
    """A socket whose client does not read (so does not acknowledge) is closed once the
    bytes it has not acknowledged pass the limit, instead of growing the server;
    reconnecting after the last seq gets the rest.

    The close frame (4408) queues behind the unread data, so a client that reads nothing at
    all may only see the connection drop (1006) when the server gives up on the handshake.
    """
    served_app.env["RELAY_WS_MAX_BACKLOG_BYTES"] = str(256 * 1024)
    drain = 2.0
    served_app.env["RELAY_WS_DRAIN_SECONDS"] = str(drain)
    app = served_app.start()
    client = app.login()
    turn = new_turn(client, "Flood [sim:long tps=0 deltas=60000 seed=6]")
    url = app.url.replace("http", "ws") + f"/ws/turns/{turn['id']}/"
    received: list[dict] = []
    # max_queue=1: the client library stops reading the network while we do not recv.
    headers = app.ws_headers(client)
    with connect(url, additional_headers=headers, max_queue=1, max_size=None) as socket:
        wait_status(client, turn["id"], {"completed"}, timeout=60)
        time.sleep(drain + 1)  # not reading for longer than the server waits
        try:
            while True:
                received += [e for e in json.loads(socket.recv(timeout=10)) if "seq" in e]
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006  # no close frame reached us
    assert code in (4408, 1006)
    assert any("stopped acknowledging" in line for line in app.log or [])
    # Resume as the page does: after the last seq, again if dropped again (a loaded machine
    # can make even a reading client too slow for this test's small limits).
    for _ in range(10):
        rest, code = read_all(app, client, turn["id"], after=received[-1]["seq"])
        received += rest
        if received[-1]["event"]["type"] == "relay.turn.done":
            break
    assert code == 1000, "".join(app.log or [])[-4000:]
    seqs = [e["seq"] for e in received]
    assert seqs == list(range(len(seqs)))
