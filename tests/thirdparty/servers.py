"""Responses servers from other projects, for the relay's tests against them.

Each is installed from its hash-checked lock under requirements/ into its own virtualenv,
`.venv-thirdparty/<name>/` at the repository root (never into .venv: its dependencies must not
change ours), again only when the lock changed, and started as a real process on a free port.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENVS = REPO_ROOT / ".venv-thirdparty"
LOCKS = REPO_ROOT / "requirements"
START_TIMEOUT = 30.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def thirdparty_venv(name: str) -> Path:
    """The virtualenv holding `name`, made from requirements/thirdparty-<name>.txt; its bin/."""
    lock = LOCKS / f"thirdparty-{name}.txt"
    venv = VENVS / name
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = venv / ".installed-lock"
    VENVS.mkdir(exist_ok=True)
    with open(VENVS / f".{name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two pytest runs in one tree install it once
        if not stamp.exists() or stamp.read_text() != wanted:
            subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
            pip = [venv / "bin" / "python", "-m", "pip", "install", "-q"]
            subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", lock], check=True)
            stamp.write_text(wanted)
    return venv / "bin"


@dataclass
class ServerProcess:
    """A started server: its base URL (ending in /v1) and every line of its log so far."""

    process: subprocess.Popen
    url: str = ""
    lines: list[str] = field(default_factory=list)

    def log(self, after: int = 0) -> list[str]:
        """The log's lines from `after` on, without terminal colours."""
        return [ANSI.sub("", line).rstrip("\n") for line in self.lines[after:]]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def _drain(server: ServerProcess) -> None:
    """Keep reading the server's log so it never blocks on a full pipe."""
    assert server.process.stdout is not None
    for line in server.process.stdout:
        server.lines.append(line)


def server_start(command: list[str | Path], listening: re.Pattern[str], cwd: Path) -> ServerProcess:
    """Run `command` (which binds a free port) and wait for the log line `listening`, whose
    group 1 is the port."""
    process = subprocess.Popen(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its log lines as they happen
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = ServerProcess(process)
    threading.Thread(target=_drain, args=(server,), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        for line in server.log():
            if match := listening.search(line):
                server.url = f"http://127.0.0.1:{match[1]}/v1"
                return server
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start:\n" + "\n".join(server.log()))
