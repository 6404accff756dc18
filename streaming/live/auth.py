"""Who is on a socket: the session's user, looked up once, when the socket opens.

channels' `AuthMiddlewareStack` puts a lazy session into the scope and wraps `send` so that
it can save the session and set its cookie on a response. A socket sends no response after
its handshake, yet that wrapper still reads the session (through its lazy proxies) on every
frame, a cost paid for every event of every live turn (`bench/socket_send.py`). A turn's
socket only needs the user, so this looks it up once with channels' own `get_user` (which
also checks the session's auth hash, as a request would) and hands the ASGI server's `send`
to the consumer untouched.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.sessions import CookieMiddleware
from django.conf import settings


class SessionUser:
    """Sets `scope["session"]` and `scope["user"]` from the session cookie."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        session = self.session_store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
        scope = {**scope, "session": session}
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)


def socket_auth(inner: Any) -> CookieMiddleware:
    """Cookies parsed (channels' `CookieMiddleware` leaves `send` alone), then the user."""
    return CookieMiddleware(SessionUser(inner))
