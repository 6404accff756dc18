"""Threads for Django's sync request code, kept from one request to the next.

Django runs each ASGI request in a `ThreadSensitiveContext` of its own, and asgiref gives
that context a new one-thread executor for the request's sync code (our middleware and views
are sync), then a second thread at the end to shut the first down. So every request started
two threads and opened a database connection in the first (on SQLite: the PRAGMAs, Django's
SQL functions), which nothing closed: the thread ended and the connection waited for the
garbage collector, with the request's other cycles.

Here a request borrows an executor from a free list and runs in a context with that executor
(asgiref's `ThreadSensitiveContext(executor=...)`); Django's own context inside it then adds
nothing. The thread, and the connection it keeps (`CONN_MAX_AGE`), serve the next request.
A request that finds the list empty makes a new executor, so a slow request (a login's
password hash) holds up no other. At most `KEEP` idle executors are kept (the load benchmark
posts 20 at a time); one let go closes its database connections first, so none is left to
the garbage collector.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.db import connections

KEEP = 32

_idle: list[ThreadPoolExecutor] = []


@contextlib.asynccontextmanager
async def request_thread() -> AsyncIterator[None]:
    """The body runs with a kept one-thread executor for its thread-sensitive sync code."""
    if _idle:
        executor = _idle.pop()
    else:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
    try:
        async with ThreadSensitiveContext(executor=executor):
            yield
    finally:
        if len(_idle) < KEEP:
            _idle.append(executor)
        else:
            executor.submit(connections.close_all)
            executor.shutdown(wait=False)
