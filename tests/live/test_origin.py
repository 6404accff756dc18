"""Which pages may open a turn's socket (streaming/live/origin.py): scheme, host and port of
the page's origin must be the socket's own, or one of `CSRF_TRUSTED_ORIGINS`."""

from __future__ import annotations

from typing import Any

import pytest

from streaming.live.origin import origin_allowed
from tests.live.test_consumer import QUICK, connect, receive_all, session_headers
from tests.relay_harness import Relay
from webapp.asgi import application


def scope(origin: str | None, host: str = "chat.test:8000", scheme: str = "ws") -> dict[str, Any]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.fixture(autouse=True)
def _hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["chat.test", "localhost", "testserver"]
    settings.CSRF_TRUSTED_ORIGINS = []


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://chat.test:8000", "chat.test:8000", "ws"),
        ("HTTP://Chat.Test:8000", "chat.test:8000", "ws"),
        ("https://chat.test", "chat.test", "wss"),
        ("https://chat.test:443", "chat.test", "wss"),
        ("http://localhost", "localhost", "ws"),
    ],
)
def test_the_sites_own_origin_may_open_it(origin: str, host: str, scheme: str) -> None:
    assert origin_allowed(scope(origin, host, scheme))


@pytest.mark.parametrize(
    "origin",
    [
        "http://chat.test:8001",  # another port of the same host
        "http://chat.test",  # the default port is another port too
        "https://chat.test:8000",  # another scheme
        "http://evil.test:8000",  # another host
        "http://chat.test.evil.test:8000",
        "null",  # a sandboxed frame or a file
        "chat.test:8000",
        "ftp://chat.test:8000",
    ],
)
def test_any_other_origin_may_not(origin: str) -> None:
    assert not origin_allowed(scope(origin))


def test_a_host_that_is_not_allowed_is_no_origin_of_ours() -> None:
    """A page rebound to our address keeps its own name: the Host header names it, and it is
    not among ALLOWED_HOSTS."""
    assert not origin_allowed(scope("http://rebound.test:8000", "rebound.test:8000"))


def test_an_origin_in_csrf_trusted_origins_may(settings: Any) -> None:
    """Behind a proxy that ends TLS the socket is `ws` on the inside; the public origin is
    the trusted one. Wildcards name subdomains, as Django's CSRF check reads them."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.teams.example"]
    inside = "127.0.0.1:8000"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    assert origin_allowed(scope("https://chat.example.com", inside))
    assert origin_allowed(scope("https://a.teams.example", inside))
    assert not origin_allowed(scope("http://chat.example.com", inside))
    assert not origin_allowed(scope("https://chat.example.com:8443", inside))
    assert not origin_allowed(scope("https://teams.example.evil", inside))


def test_a_client_that_sends_no_origin_is_no_page_and_may() -> None:
    """Browsers always send Origin; a client without one still needs the session."""
    assert origin_allowed(scope(None))


# --- through the whole application, with the user's cookie ----------------------------------

on_the_database = pytest.mark.django_db(transaction=True)


@on_the_database
async def test_a_page_on_another_port_of_the_same_host_cannot_read_the_turn(
    relay: Relay,
) -> None:
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    path = f"/ws/turns/{turn_id}/"
    for origin in ("http://localhost:9999", "https://localhost:8000"):
        headers = session_headers(relay.client, origin, host="localhost:8000")
        _, connected = await connect(application, path, headers=headers)
        assert not connected, origin
    headers = session_headers(relay.client, "http://localhost:8000", host="localhost:8000")
    communicator, connected = await connect(application, path, headers=headers)
    assert connected
    assert (await receive_all(communicator)).envelopes == await relay.stored(turn_id)


@on_the_database
async def test_a_client_without_an_origin_still_needs_the_session(relay: Relay) -> None:
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    path = f"/ws/turns/{turn_id}/"
    cookie = session_headers(relay.client, "")[2]
    communicator, connected = await connect(application, path, headers=[cookie])
    assert connected
    assert (await receive_all(communicator)).envelopes == await relay.stored(turn_id)
    communicator, connected = await connect(application, path, headers=[])
    assert connected
    assert (await receive_all(communicator)).close_code == 4403
