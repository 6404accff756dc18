"""Whoever is alive: with no worker process at all, the web process's sweep ends a turn
nobody claims `failed`, and says why; the only worker killed mid-answer and a new one
started, the new one resumes the background turn and it completes; and a worker started
later knows what an earlier one learnt of the upstream (no background mode)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
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


def test_a_worker_started_later_knows_the_upstream_refused_background_mode(
    one_worker: Team,
) -> None:
    """`auto`: the refusal the first worker met is remembered in the team's cache, so a
    worker process started after it does not ask that upstream again."""
    server = one_worker.servers[0]
    client = server.login()
    first = new_turn(client, "Hi [sim:markdown tps=0 nobackground=1]")
    assert wait_status(client, first["id"], {"completed", "failed"})["status"] == "completed"
    one_worker.workers[0].stop(kill=True)
    one_worker.workers.append(one_worker.start_worker())
    one_worker.workers[-1].wait_running()
    second = new_turn(client, "Again [sim:markdown tps=0 nobackground=1]")
    assert wait_status(client, second["id"], {"completed", "failed"})["status"] == "completed"
    started = [
        e["event"]
        for turn in (first, second)
        for e in one_worker.stored(turn["id"])
        if e["event"]["type"] == "relay.request.started"
    ]
    assert [s["background"] for s in started] == [False, False]
    seen = httpx.get(f"{one_worker.upstream}/_requests").json()
    assert sum(r.get("ended") == "background refused" for r in seen) == 1
