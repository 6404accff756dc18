"""Django's sync request code runs in threads kept from one request to the next
(`webapp/request_threads.py`)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_started
from django.db import connections

from webapp import request_threads
from webapp.asgi import application
from webapp.request_threads import request_thread


async def get(path: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    await communicator.receive_output(10)
    await communicator.wait(10)
    return start["status"]


async def test_requests_one_after_another_use_one_kept_thread():
    """Before, each request's sync code ran in a new thread (asgiref's executor per
    request), with a new database connection."""
    names: list[str] = []
    idents: list[int] = []

    def note(**kwargs: object) -> None:
        names.append(threading.current_thread().name)
        idents.append(threading.get_ident())

    request_started.connect(note)
    try:
        statuses = [await get("/healthz") for _ in range(4)]
    finally:
        request_started.disconnect(note)
    assert statuses == [200] * 4
    assert len(idents) == 4 and len(set(idents)) == 1
    assert names[0].startswith("request")


async def test_requests_at_once_each_get_a_thread_and_at_most_keep_are_kept():
    entered = 0
    all_in = asyncio.Event()
    count = request_threads.KEEP + 3

    async def one() -> int:
        nonlocal entered
        async with request_thread():
            entered += 1
            if entered == count:
                all_in.set()
            await all_in.wait()  # every request is inside at once
            return await sync_to_async(threading.get_ident)()

    idents = await asyncio.gather(*(one() for _ in range(count)))
    assert len(set(idents)) == count  # none waited for another's thread
    assert len(request_threads._idle) == request_threads.KEEP
    kept = {id(executor) for executor in request_threads._idle}
    await asyncio.gather(*(one() for _ in range(2)))
    # the kept ones served these, and came back; none was made
    assert {id(executor) for executor in request_threads._idle} == kept


@pytest.mark.django_db(transaction=True)
async def test_a_thread_let_go_closes_its_database_connection(monkeypatch):
    monkeypatch.setattr(request_threads, "KEEP", 0)
    opened = []

    def use_the_database() -> None:
        wrapper = connections["default"]  # this thread's, not the proxy
        wrapper.ensure_connection()
        opened.append(wrapper)

    async with request_thread():
        await sync_to_async(use_the_database)()
    for _ in range(100):  # the executor closes it on its way out
        if opened[0].connection is None:
            break
        await asyncio.sleep(0.05)
    assert opened[0].connection is None
