"""A serving process freezes its start-up heap out of the collector's full passes, and
spaces those passes; requests leave no open database connection for the collector to close."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streaming.management.heap import FULL_PASS_AFTER

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc, django
django.setup()
from streaming.management.heap import freeze_startup_heap
frozen = freeze_startup_heap()
from streaming.web import api  # imported by the freeze, through the URLconf
walked = {id(o) for o in gc.get_objects()}
print(frozen, id(api.turn_started) in walked, id(api.__dict__) in walked, gc.get_threshold()[2])
"""


def probe(**env: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_start_up_heap_and_the_views_are_frozen(tmp_path):
    frozen, function_walked, module_walked, full_after = probe(DATA_DIR=str(tmp_path))
    assert int(frozen) > 10_000
    assert (function_walked, module_walked) == ("False", "False")
    assert int(full_after) == FULL_PASS_AFTER


@pytest.mark.parametrize("value", ["false", "0"])
def test_turned_off_nothing_is_frozen(tmp_path, value):
    frozen, function_walked, _, full_after = probe(DATA_DIR=str(tmp_path), RELAY_GC_TUNING=value)
    assert (frozen, function_walked) == ("0", "True")
    assert int(full_after) == gc.get_threshold()[2]  # this process's: Python's own


REQUESTS = """
import asyncio, gc, sqlite3, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from webapp.asgi import application

get_user_model().objects.create_user("probe", password="probe-password")
client = Client()
client.login(username="probe", password="probe-password")
cookie = ("sessionid=" + client.cookies["sessionid"].value).encode()


def open_connections():
    count = 0
    for found in gc.get_objects():
        if isinstance(found, sqlite3.Connection):
            try:
                found.total_changes
                count += 1
            except sqlite3.ProgrammingError:  # closed
                pass
    return count


async def get(path):
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie)],
    }
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(10)
    while (await app.receive_output(10)).get("more_body"):
        pass
    await app.send_input({"type": "http.disconnect"})
    await app.wait(10)
    return start["status"]


async def main():
    gc.collect()
    gc.disable()  # what the collector would otherwise close later, on the event loop
    before = open_connections()
    statuses = {await get("/api/conversations") for _ in range(20)}
    print(sorted(statuses), open_connections() - before)

asyncio.run(main())
"""


def test_requests_close_their_sqlite_connections(tmp_path):
    """Django runs every ASGI request in a thread of its own: a connection it kept open would
    be garbage holding its page cache until a collector's pass closed it, the loop standing
    still meanwhile."""
    done = subprocess.run(
        [sys.executable, "-c", REQUESTS],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[200]", "0"]
