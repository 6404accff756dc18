"""Whoever is alive: with no worker process at all, the web process's sweep ends a turn
nobody claims `failed`, and says why; the only worker killed mid-answer and a new one
started, the new one resumes the background turn and it completes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served_app import assert_resumed, new_turn, read_all, read_deltas, wait_status
from tests.team import Team, running_team

pytestmark = pytest.mark.services


@pytest.fixture
def lonely_server(tmp_path: Path) -> Iterator[Team]:
    with running_team(tmp_path, servers=1, workers=0, RELAY_QUEUE_TIMEOUT="2") as team:
        yield team


def test_with_no_worker_a_turn_does_not_stay_queued(lonely_server: Team) -> None:
    client = lonely_server.servers[0].login()
    turn = new_turn(client, "Hello [sim:markdown tps=0]")
    stored = wait_status(client, turn["id"], {"failed"}, timeout=30)
    assert "no worker is running" in stored["error"]
    kinds = [e["event"]["type"] for e in lonely_server.stored(turn["id"])]
    assert kinds == ["relay.turn.done"]


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[Team]:
    with running_team(tmp_path, servers=1, workers=1) as team:
        yield team


def test_the_only_worker_killed_and_a_new_one_started_resumes_the_turn(one_worker: Team) -> None:
    server = one_worker.servers[0]
    client = server.login()
    turn = new_turn(client, "Long [sim:markdown tps=40 deltas=300 seed=11]")
    seen = read_deltas(server, client, turn["id"], 10)
    one_worker.workers[0].stop(kill=True)
    one_worker.workers.append(one_worker.start_worker())
    one_worker.workers[-1].wait_running()
    stored = wait_status(client, turn["id"], {"completed", "interrupted", "failed"}, timeout=60)
    assert stored["status"] == "completed", stored["error"]
    envelopes, _ = read_all(server, client, turn["id"])
    assert_resumed(envelopes, seen=seen, deltas=300)
