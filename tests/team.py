"""A team deployment on this machine: PostgreSQL, Redis, daphne and worker processes.

`team_services()` gives the PostgreSQL and Redis URLs, or skips the test when they are not
reachable (fails instead under CI=true: CI has them). `Team` creates a fresh database and a
fresh Redis prefix, runs `manage.py serve` (no in-process worker with REDIS_URL) and
`manage.py runworker streaming.worker` processes, and drops the database at the end.
`running_team` is all of that with the built-in simulator as the upstream.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.served_app import ServedApp, Spawned, spawn
from tests.simulator_server import start_simulator

PG_HOST, PG_PORT, REDIS_PORT = "127.0.0.1", 5432, 6379
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection((PG_HOST, port), timeout=2):
            return True
    except OSError:
        return False


def team_services() -> None:
    """Skip (or, under CI, fail) when PostgreSQL or Redis is not listening."""
    missing = [
        name
        for name, port in (("PostgreSQL", PG_PORT), ("Redis", REDIS_PORT))
        if not _reachable(port)
    ]
    if missing:
        reason = f"{' and '.join(missing)} not reachable on {PG_HOST}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must have them (dev.py test starts them as root)")
        pytest.skip(reason)


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)


def query(database_url: str, sql: str, *params: Any) -> list[tuple]:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as connection:
        return connection.execute(sql, params).fetchall()


class Worker(Spawned):
    """A `manage.py runworker streaming.worker` process."""

    def wait_running(self) -> None:
        self.wait_for("Running worker", "the worker")


@dataclass
class Team:
    data_dir: Path
    upstream: str
    env: dict[str, str] = field(default_factory=dict)
    servers: list[ServedApp] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    database: str = ""

    def __post_init__(self) -> None:
        tag = uuid.uuid4().hex[:12]
        self.database = f"streamrelay_test_{tag}"
        self.database_url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{self.database}"
        self.env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.database_url,
            # Pub-sub channels ignore the database number: the prefix keeps runs apart.
            "REDIS_URL": f"redis://{PG_HOST}:{REDIS_PORT}/0",
            "REDIS_PREFIX": f"test{tag}",
            "SECRET_KEY": f"team-test-{tag}",
            "OPENAI_API_KEY": "",
            "OPENAI_BASE_URL": self.upstream,
            "RELAY_LEASE_SECONDS": "3",
            "RELAY_SWEEP_INTERVAL": "0.5",
            # One user posts every turn here: lift the per-user limits.
            "LIMIT_ACTIVE_TURNS_PER_USER": "1000",
            "LIMIT_TURNS_PER_MINUTE": "1000",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, *, servers: int = 2, workers: int = 2) -> Team:
        admin_sql(f'CREATE DATABASE "{self.database}"')
        ServedApp(self.data_dir, self.env).prepare()
        self.servers = [ServedApp(self.data_dir, self.env).start() for _ in range(servers)]
        self.workers = [self.start_worker() for _ in range(workers)]
        for worker in self.workers:
            worker.wait_running()
        return self

    def start_worker(self) -> Worker:
        started = spawn(
            [sys.executable, "manage.py", "runworker", "streaming.worker"], env=self.env
        )
        return Worker(started.process, started.log)

    def stop(self) -> None:
        for server in self.servers:
            server.stop(kill=True)
        for worker in self.workers:
            worker.stop(kill=True)
        admin_sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def stored(self, turn_id: str) -> list[dict[str, Any]]:
        """The turn's log as stored: envelopes in seq order."""
        import json

        rows = query(
            self.database_url,
            "SELECT seq, data FROM streaming_turnevent WHERE turn_id = %s ORDER BY seq",
            uuid.UUID(turn_id),
        )
        return [{"seq": seq, "event": json.loads(data)} for seq, data in rows]

    def query_one(self, sql: str, *params: Any) -> tuple:
        (row,) = query(self.database_url, sql, *params)
        return row

    def owners(self, turn_ids: list[str]) -> dict[str, str]:
        """The lease owner (a worker's channel) of each turn that is streaming now."""
        rows = query(
            self.database_url,
            "SELECT id::text, lease_owner FROM streaming_turn "
            "WHERE status = 'streaming' AND id = ANY(%s)",
            [uuid.UUID(t) for t in turn_ids],
        )
        return dict(rows)


@contextlib.contextmanager
def running_team(data_dir: Path, *, servers: int, workers: int, **env: str) -> Iterator[Team]:
    """A started team (`env` added to its settings) against the simulator in a process of
    its own; everything stopped, and the database dropped, afterwards. Skips without the
    services."""
    team_services()
    simulator, upstream = start_simulator()
    team = Team(data_dir, upstream)
    team.env.update(env)
    try:
        yield team.start(servers=servers, workers=workers)
    finally:
        team.stop()
        simulator.kill()
        simulator.wait(timeout=10)
