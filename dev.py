#!/usr/bin/env python3
"""The project's two commands, on any machine with Python 3.11+.

    python3 dev.py run [--host H] [--port P]   set up, migrate, ensure a login, serve
    python3 dev.py test [pytest args…]         set up, lint, run the whole test suite

Only the standard library is used here: this file creates the virtualenv the rest needs.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
LOCKS = ROOT / "requirements"  # generated from pyproject.toml: README, "Dependencies"


def sh(*args: str | Path, **kwargs: object) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def ensure_venv(lock: str) -> None:
    """Create .venv, then install requirements/`lock` and the project (editable) when either
    changed since the last install. Plain pip, hash-checked, so CI and a deploy run the same
    files; `pip install` removes nothing, so after `run` the test lock's packages stay."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py runs on whatever python3 is)
        sys.exit(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]})")
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        sh(sys.executable, "-m", "venv", VENV)
        sh(PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip")
    wanted = install_stamp(lock)
    stamp = VENV / f".installed-{lock}"
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"Installing requirements/{lock} …", flush=True)
        sh(PYTHON, "-m", "pip", "install", "-q", "--require-hashes", "-r", LOCKS / lock)
        sh(PYTHON, "-m", "pip", "install", "-q", "--no-deps", "-e", ROOT)
        stamp.write_text(wanted)


def install_stamp(lock: str) -> str:
    """What an install of `lock` was made from: the lock's and pyproject.toml's bytes."""
    digest = hashlib.sha256()
    for path in (LOCKS / lock, ROOT / "pyproject.toml"):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def manage(*args: str, env: dict[str, str] | None = None) -> None:
    sh(PYTHON, "manage.py", *args, env=env)


def ensure_first_login() -> None:
    """With no user yet, create `admin` with a generated password, shown this once."""
    code = "from django.contrib.auth import get_user_model as g; print(g().objects.exists())"
    output = subprocess.run(
        [PYTHON, "manage.py", "shell", "--verbosity", "0", "-c", code],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # The last line: Django's shell may say first how many models it imported.
    if output.strip().splitlines()[-1:] == ["True"]:
        return
    password = secrets.token_urlsafe(12)
    env = {**os.environ, "DJANGO_SUPERUSER_PASSWORD": password}
    manage(
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        env=env,
    )
    print(f"\n  First login created: user 'admin', password '{password}' (shown only now)\n")


def run(args: list[str]) -> None:
    ensure_venv("lock.txt")
    manage("migrate", "--noinput", "-v0")
    ensure_first_login()
    os.execv(PYTHON, [str(PYTHON), "manage.py", "serve", *args])


def ensure_chromium() -> None:
    """Browser tests drive Debian's chromium; install it where we can (CI runs as root)."""
    if Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing chromium (apt) …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        sh("apt-get", "update", "-qq", env=env)
        sh("apt-get", "install", "-y", "-qq", "chromium", env=env)
    else:
        print("chromium is not installed: browser tests will be skipped", flush=True)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def ensure_services() -> None:
    """Start this machine's PostgreSQL and Redis for the team tests, where we can (as root,
    with the servers installed); elsewhere those tests skip, or fail under CI=true."""
    if os.geteuid() != 0:
        return
    clusters = Path("/etc/postgresql")
    if not _listening(5432) and shutil.which("pg_ctlcluster") and clusters.is_dir():
        for version in sorted(p.name for p in clusters.iterdir()):
            print(f"Starting PostgreSQL {version} …", flush=True)
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
    if not _listening(6379) and shutil.which("redis-server"):
        print("Starting Redis …", flush=True)
        daemon = ["--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379"]
        subprocess.run(["redis-server", *daemon, "--save", "", "--appendonly", "no"])
        for _ in range(50):  # it forks before it listens
            if _listening(6379):
                break
            time.sleep(0.1)


def test(args: list[str]) -> None:
    ensure_venv("lock-test.txt")
    ensure_chromium()
    ensure_services()
    sh(PYTHON, "-m", "ruff", "check", ".")
    sh(PYTHON, "-m", "ruff", "format", "--check", ".")
    result = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT)
    sys.exit(result.returncode)


def main() -> None:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
