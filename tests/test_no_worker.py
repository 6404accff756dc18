"""Never stuck, whoever is alive: with no worker process at all, the web process's sweep
ends a turn nobody claims `failed`, and says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served_app import new_turn, wait_status
from tests.simulator_server import start_simulator
from tests.team import Team, team_services

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
