"""The embedded app as a user runs it: `manage.py serve` in a subprocess on a free port, its
own SQLite file, the in-process worker and the built-in simulator; a logged-in HTTP client.

Also what every test that runs real processes shares: `spawn` (a process whose output is
collected, and waited on for the line that says it is ready: tests/team.py's workers,
tests/simulator_server.py), and reading a turn's socket as the page does (`read_all`,
`read_deltas`) and checking that a resumed turn's log holds every upstream event once
(`assert_resumed`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

REPO_ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"Listening on TCP address [\d.]+:(\d+)")
PASSWORD = "pw-served-app-1"
START_TIMEOUT = 30.0


@dataclass
class Spawned:
    """A process a test started, its output (stdout and stderr) collected line by line as
    it comes, so it never blocks on a full pipe."""

    process: subprocess.Popen
    log: list[str] = field(default_factory=list)

    def wait_for(
        self, pattern: str | re.Pattern[str], what: str, timeout: float = START_TIMEOUT
    ) -> re.Match[str]:
        """The first line matching `pattern` (the process says it is ready); the process is
        killed, and its log raised, if it exits or takes longer than `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            for line in list(self.log):
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError(f"{what} did not start:\n" + "".join(self.log))

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=15)


def spawn(
    command: list[str], *, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> Spawned:
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    spawned = Spawned(process)
    threading.Thread(target=_drain, args=(process, spawned.log), daemon=True).start()
    return spawned


def _drain(process: subprocess.Popen, lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)


@dataclass
class ServedApp:
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    url: str = ""
    log: list[str] | None = None
    root: Path = REPO_ROOT  # the source tree to run (a benchmark may compare two)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def prepare(self) -> ServedApp:
        """Migrate its database and create the login `alice` / `PASSWORD`."""
        self.manage("migrate", "--noinput", "-v0")
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model as g; "
            f"g().objects.create_user('alice', password='{PASSWORD}')",
        )
        return self

    def start(self, port: int = 0) -> ServedApp:
        served = spawn(
            [sys.executable, "manage.py", "serve", "--port", str(port)], env=self.env, cwd=self.root
        )
        self.process, self.log = served.process, served.log
        listening = served.wait_for(LISTENING, "serve")
        self.url = f"http://127.0.0.1:{listening[1]}"
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=15)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def create_superuser(self, name: str, password: str, then: str = "") -> None:
        """A superuser in the app's database (before `start`); `then`: more Python for the
        same shell, e.g. rows the test needs beside it."""
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model as g; "
            f"g().objects.create_superuser({name!r}, password={password!r}); {then}",
        )

    def login(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=10)
        client.get("/accounts/login/")
        response = client.post(
            "/accounts/login/",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        assert response.status_code == 302, response.text
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        return client

    def ws_headers(self, client: httpx.Client) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        return {"Cookie": cookie, "Origin": self.url}


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[ServedApp]:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "RELAY_SWEEP_INTERVAL": "0.5",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    app = ServedApp(tmp_path, env).prepare()
    try:
        yield app
    finally:
        app.stop(kill=True)


def new_turn(client: httpx.Client, text: str, **extra: Any) -> dict[str, Any]:
    conversation = client.post("/api/conversations", json={}).json()["id"]
    response = client.post(
        f"/api/conversations/{conversation}/turns", json={"input": text, **extra}
    )
    assert response.status_code == 202, response.text
    return response.json()


def wait_status(client: httpx.Client, turn_id: str, wanted: set[str], timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        turn = client.get(f"/api/turns/{turn_id}").json()
        if turn["status"] in wanted:
            return turn
        time.sleep(0.1)
    raise AssertionError(f"turn {turn_id} stayed {turn['status']}")


def receive_acking(socket: Any, timeout: float) -> list[dict[str, Any]]:
    """One frame's envelopes from a `websockets` socket, acknowledged as the page does (the
    server stops sending to a socket whose page does not acknowledge)."""
    envelopes = [e for e in json.loads(socket.recv(timeout=timeout)) if "seq" in e]
    if envelopes:
        with contextlib.suppress(ConnectionClosed):
            socket.send(json.dumps({"ack": envelopes[-1]["seq"]}))
    return envelopes


def read_all(
    app: ServedApp, client: httpx.Client, turn_id: str, after: int = -1
) -> tuple[list[dict], int]:
    """Every envelope the socket sends until it closes, and its close code."""
    url = app.url.replace("http", "ws") + f"/ws/turns/{turn_id}/?after={after}"
    envelopes = []
    headers = app.ws_headers(client)
    with connect(url, additional_headers=headers, open_timeout=10, max_size=None) as socket:
        try:
            while True:
                envelopes += receive_acking(socket, timeout=20)
        except ConnectionClosed as closed:
            return envelopes, closed.rcvd.code if closed.rcvd else 1006


def read_deltas(app: ServedApp, client: httpx.Client, turn_id: str, count: int) -> list[dict]:
    """The envelopes a socket receives until `count` text deltas are among them (the answer
    is under way); the socket is closed then."""
    url = app.url.replace("http", "ws") + f"/ws/turns/{turn_id}/"
    seen: list[dict] = []
    with connect(url, additional_headers=app.ws_headers(client), max_size=None) as socket:
        while sum(e["event"]["type"] == "response.output_text.delta" for e in seen) < count:
            seen += receive_acking(socket, timeout=20)
    return seen


def upstream_seqs(envelopes: list[dict]) -> list[int]:
    """The upstream's `sequence_number`s, in log order (the relay's own events have none)."""
    return [
        e["event"]["sequence_number"]
        for e in envelopes
        if not e["event"]["type"].startswith("relay.")
    ]


def assert_resumed(envelopes: list[dict], *, seen: list[dict], deltas: int) -> None:
    """A turn's whole log, after a takeover: `seq` gap-free, what a client saw before it
    unchanged, every upstream event once and in order, and all `deltas` text deltas."""
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    assert envelopes[: len(seen)] == seen
    seqs = upstream_seqs(envelopes)
    assert seqs == list(range(len(seqs)))
    kinds = [e["event"]["type"] for e in envelopes]
    assert kinds.count("response.output_text.delta") == deltas
