"""The built-in simulator served over real HTTP by uvicorn, for any test that needs an upstream.

`simulator_url` (session-scoped) is the base URL `http://127.0.0.1:PORT/v1`; the server runs
in a subprocess on a free port read from the server's log, and is killed after the session.
`SIMULATOR_SERVER=daphne` serves it with daphne instead; daphne does not cut the connection
of the `drop` scenario (streaming/simulator/app.py, `ConnectionCut`), so those tests need uvicorn.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(
    r"(?:Listening on TCP address |Uvicorn running on http://)127\.0\.0\.1:(\d+)"
)
SERVERS = {
    "daphne": ["daphne", "-b", "127.0.0.1", "-p", "0"],
    # uvloop and httptools: about half daphne's CPU per paced event (docs/simulator.md).
    "uvicorn": [
        "uvicorn",
        *("--host", "127.0.0.1", "--port", "0", "--loop", "uvloop", "--http", "httptools"),
        *("--ws", "none", "--no-access-log"),
    ],
}
START_TIMEOUT = 20.0


def _drain(stream, lines: list[str]) -> None:
    """Keep reading the server's log so it never blocks on a full pipe."""
    for line in stream:
        lines.append(line)


def start_simulator(
    app: str = "streaming.simulator.app:application", server: str | None = None
) -> tuple[subprocess.Popen, str]:
    """Start `server` (uvicorn unless SIMULATOR_SERVER says otherwise) on a free port;
    returns the process and `http://127.0.0.1:PORT/v1`."""
    server = server or os.environ.get("SIMULATOR_SERVER", "uvicorn")
    command = [sys.executable, "-m", *SERVERS[server], app]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        for line in list(lines):
            if match := LISTENING.search(line):
                return process, f"http://127.0.0.1:{match[1]}/v1"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the simulator did not start:\n" + "".join(lines))


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    process, url = start_simulator()
    try:
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)
