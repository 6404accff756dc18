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
from collections.abc import Iterator

import pytest

from tests.served_app import spawn

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


def start_simulator(
    app: str = "streaming.simulator.app:application", server: str | None = None
) -> tuple[subprocess.Popen, str]:
    """Start `server` (uvicorn unless SIMULATOR_SERVER says otherwise) on a free port;
    returns the process and `http://127.0.0.1:PORT/v1`."""
    server = server or os.environ.get("SIMULATOR_SERVER", "uvicorn")
    started = spawn([sys.executable, "-m", *SERVERS[server], app])
    listening = started.wait_for(LISTENING, "the simulator", timeout=START_TIMEOUT)
    return started.process, f"http://127.0.0.1:{listening[1]}/v1"


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    process, url = start_simulator()
    try:
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)
