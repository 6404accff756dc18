"""Many processes, one truth: two daphne servers and two workers on PostgreSQL and Redis.

Turns are posted on one server and watched on the other; whatever a client received must
equal the log stored in PostgreSQL, seq by seq. A worker killed with SIGKILL mid-turn leaves
its turns to the sweep of the surviving worker, which ends them `interrupted` within the
lease time; the surviving worker's turns are untouched.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.served_app import ServedApp, new_turn, receive_acking, wait_status
from tests.team import Team, running_team

pytestmark = pytest.mark.services

LEASE, SWEEP = 3.0, 0.5  # RELAY_LEASE_SECONDS, RELAY_SWEEP_INTERVAL in Team.env


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    data_dir = Path(tmp_path_factory.mktemp("team"))
    # Plain streams: a dead worker's turns end interrupted.
    with running_team(data_dir, servers=2, workers=2, RELAY_BACKGROUND="off") as team:
        yield team


def watch(app: ServedApp, client: httpx.Client, turn_id: str) -> tuple[list[dict], int]:
    """Every envelope one socket receives for the turn, and the close code."""
    url = app.url.replace("http", "ws") + f"/ws/turns/{turn_id}/"
    received: list[dict] = []
    with connect(url, additional_headers=app.ws_headers(client), open_timeout=10) as socket:
        try:
            while True:
                received += receive_acking(socket, timeout=30)
        except ConnectionClosed as closed:
            return received, closed.rcvd.code if closed.rcvd else 1006


def post_and_watch(
    team: Team, clients: list[httpx.Client], pool: ThreadPoolExecutor, prompts: list[str]
) -> list[tuple[str, Future]]:
    """Post turn i on server i % 2 and watch it over a socket on the other server."""
    watched = []
    for i, prompt in enumerate(prompts):
        here, there = i % 2, (i + 1) % 2
        turn_id = new_turn(clients[here], prompt)["id"]
        future = pool.submit(watch, team.servers[there], clients[there], turn_id)
        watched.append((turn_id, future))
    return watched


def assert_received_what_was_stored(team: Team, turn_id: str, received: list[dict]) -> None:
    stored = team.stored(turn_id)
    assert [e["seq"] for e in stored] == list(range(len(stored))), "gap in the stored log"
    assert received == stored, f"turn {turn_id}: the client's copy differs from the log"
    assert stored[-1]["event"]["type"] == "relay.turn.done"


def test_twenty_turns_across_two_servers_and_two_workers_match_the_log(team: Team) -> None:
    clients = [server.login() for server in team.servers]
    prompts = [f"Turn {i} [sim:markdown tps=50 deltas=100 seed={i}]" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        watched = post_and_watch(team, clients, pool, prompts)
        owners = set()
        while not all(future.done() for _, future in watched):
            owners |= set(team.owners([turn_id for turn_id, _ in watched]).values())
            time.sleep(0.2)
    assert len(owners) == 2, f"both workers should have run turns, saw {owners}"
    for turn_id, future in watched:
        received, code = future.result()
        assert code == 1000
        assert_received_what_was_stored(team, turn_id, received)
        assert received[-1]["event"]["status"] == "completed"
        deltas = [e for e in received if e["event"]["type"] == "response.output_text.delta"]
        assert len(deltas) == 100


def test_a_killed_worker_s_turns_end_interrupted_and_the_others_complete(team: Team) -> None:
    clients = [server.login() for server in team.servers]
    with ThreadPoolExecutor(max_workers=MOST_TURNS) as pool:
        watched, owners = post_until_both_workers_stream(team, clients, pool)
        turn_ids = [turn_id for turn_id, _ in watched]
        victim = team.workers[0]
        victim.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        victim.process.wait(timeout=10)
        results = {turn_id: future.result(timeout=60) for turn_id, future in watched}
    statuses = {t: wait_status(clients[0], t, {"completed", "interrupted"}) for t in turn_ids}
    interrupted = {t for t, turn in statuses.items() if turn["status"] == "interrupted"}
    # The killed worker held exactly the turns of one lease owner.
    assert interrupted and interrupted in [
        {t for t, owner in owners.items() if owner == o} for o in set(owners.values())
    ]
    for turn_id, (received, code) in results.items():
        assert code == 1000
        assert_received_what_was_stored(team, turn_id, received)
        status = received[-1]["event"]["status"]
        assert status == ("interrupted" if turn_id in interrupted else "completed")
    ended = max(_finished_after_kill(team, t) for t in interrupted)
    assert ended - killed_at <= LEASE + SWEEP + 1.5, f"interrupted {ended - killed_at:.1f} s after"


MOST_TURNS = 16


def post_until_both_workers_stream(
    team: Team, clients: list[httpx.Client], pool: ThreadPoolExecutor, timeout: float = 20
) -> tuple[list[tuple[str, Future]], dict[str, str]]:
    """Post long turns, two at a time, until at least 8 are posted and both workers stream
    some; returns the watched turns and, for those streaming then, turn -> lease owner.

    Every worker hears every wake-up and the first to claim a turn runs it, so one worker
    can win a whole run of turns (in one run of four, all eight went to one worker)."""
    watched: list[tuple[str, Future]] = []
    owners: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        both = len(set(owners.values())) == 2
        if len(watched) < 8 or (not both and len(watched) < MOST_TURNS):
            n = len(watched)
            watched += post_and_watch(team, clients, pool, [_long(n), _long(n + 1)])
        elif both:
            time.sleep(1.0)  # well into the turns: some events stored and relayed
            return watched, owners
        time.sleep(0.3)
        owners = team.owners([turn_id for turn_id, _ in watched])
    raise AssertionError(f"both workers did not stream turns: {owners}")


def _long(i: int) -> str:
    return f"Long {i} [sim:markdown tps=50 deltas=400 seed={100 + i}]"


def _finished_after_kill(team: Team, turn_id: str) -> float:
    """When the turn was ended, on this process's monotonic clock."""
    (finished_at,) = team.query_one(
        "SELECT extract(epoch FROM finished_at) FROM streaming_turn WHERE id = %s", turn_id
    )
    return time.monotonic() - (time.time() - float(finished_at))
