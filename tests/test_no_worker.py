"""Whoever is alive: with no worker process at all, the web process's sweep ends a turn
nobody claims `failed`, and says why; the only worker killed mid-answer and a new one
started, the new one resumes the background turn and it completes."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.served_app import new_turn, receive_acking, wait_status
from tests.simulator_server import start_simulator
from tests.team import Team, team_services
from tests.test_resume import upstream_seqs
from tests.test_serve import read_all

pytestmark = pytest.mark.services


@pytest.fixture
def lonely_server(tmp_path: Path) -> Iterator[Team]:
    team_services()
    simulator, upstream = start_simulator()
    team = Team(tmp_path, upstream)
    team.env["RELAY_QUEUE_TIMEOUT"] = "2"
    try:
        yield team.start(servers=1, workers=0)
    finally:
        team.stop()
        simulator.kill()
        simulator.wait(timeout=10)


def test_with_no_worker_a_turn_does_not_stay_queued(lonely_server: Team) -> None:
    client = lonely_server.servers[0].login()
    turn = new_turn(client, "Hello [sim:markdown tps=0]")
    stored = wait_status(client, turn["id"], {"failed"}, timeout=30)
    assert "no worker is running" in stored["error"]
    kinds = [e["event"]["type"] for e in lonely_server.stored(turn["id"])]
    assert kinds == ["relay.turn.done"]


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[Team]:
    team_services()
    simulator, upstream = start_simulator()
    team = Team(tmp_path, upstream)
    try:
        yield team.start(servers=1, workers=1)
    finally:
        team.stop()
        simulator.kill()
        simulator.wait(timeout=10)


def test_the_only_worker_killed_and_a_new_one_started_resumes_the_turn(one_worker: Team) -> None:
    server = one_worker.servers[0]
    client = server.login()
    turn = new_turn(client, "Long [sim:markdown tps=40 deltas=300 seed=11]")
    url = server.url.replace("http", "ws") + f"/ws/turns/{turn['id']}/"
    with connect(url, additional_headers=server.ws_headers(client)) as socket:
        seen: list[dict] = []
        while sum(e["event"]["type"].endswith("text.delta") for e in seen) < 10:
            seen += receive_acking(socket, timeout=20)
        victim = one_worker.workers[0]
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        one_worker.workers.append(one_worker.start_worker())
        one_worker.workers[-1].wait_running()
    stored = wait_status(client, turn["id"], {"completed", "interrupted", "failed"}, timeout=60)
    assert stored["status"] == "completed", stored["error"]
    envelopes, _ = read_all(server, client, turn["id"])
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    assert envelopes[: len(seen)] == seen
    seqs = upstream_seqs(envelopes)
    assert seqs == list(range(len(seqs)))
    assert sum(e["event"]["type"] == "response.output_text.delta" for e in envelopes) == 300
