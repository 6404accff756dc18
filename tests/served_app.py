"""The embedded app as a user runs it: `manage.py serve` in a subprocess on a free port, its
own SQLite file, the in-process worker and the built-in simulator; a logged-in HTTP client."""

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

REPO_ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"Listening on TCP address [\d.]+:(\d+)")
PASSWORD = "pw-served-app-1"


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
        self.log = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            for line in list(self.log):
                if match := LISTENING.search(line):
                    self.url = f"http://127.0.0.1:{match[1]}"
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("serve did not start:\n" + "".join(self.log))

    def _drain(self) -> None:
        assert self.process and self.process.stdout and self.log is not None
        for line in self.process.stdout:
            self.log.append(line)

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
