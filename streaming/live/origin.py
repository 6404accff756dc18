"""Which pages may open a turn's socket: the site's own origin, or one in
`CSRF_TRUSTED_ORIGINS`. Scheme, host and port all count, as they do for a browser.

channels' `AllowedHostsOriginValidator` compares host names only, so a page served on another
port or scheme of the same host (any other service there) could open a socket with the
user's cookie and read a turn's log. The socket's own origin is its `Host` header (which must
be one of `ALLOWED_HOSTS`, as for any request) with `http` for `ws` and `https` for `wss`;
behind a proxy that ends TLS the public origin is the one `CSRF_TRUSTED_ORIGINS` names, as
Django's CSRF check needs for the site's forms.

A handshake without an `Origin` header is let through: browsers always send one, so such a
client is not a page using the user's cookie behind their back (it is a script holding the
session, which can read the same log over HTTP); the consumer still requires the session.
`Origin: null` (a sandboxed frame, a file) is a browser's and is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

Origin = tuple[str, str, int]  # scheme, host, port
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SOCKET_SCHEMES = {"ws": "http", "wss": "https"}


class SameOriginOnly:
    """ASGI wrapper for the WebSocket routes: refuses a handshake from any other origin."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)


def origin_allowed(scope: dict[str, Any]) -> bool:
    headers = dict(scope.get("headers") or [])
    raw = headers.get(b"origin")
    if raw is None:
        return True
    origin = parse_origin(raw.decode("latin-1"))
    if origin is None:
        return False
    return origin == own_origin(scope, headers) or any(
        _matches(origin, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS
    )


def parse_origin(value: str) -> Origin | None:
    """`scheme://host[:port]` as (scheme, host, port), or None for anything else."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def own_origin(scope: dict[str, Any], headers: dict[bytes, bytes]) -> Origin | None:
    """The origin the socket was asked of: its Host header (or the ASGI server's address),
    when that is an allowed host."""
    scheme = _SOCKET_SCHEMES.get(scope.get("scheme") or "ws", "http")
    host = headers.get(b"host", b"").decode("latin-1")
    if not host and scope.get("server"):
        server_host, server_port = scope["server"][:2]
        host = f"{server_host}:{server_port}"
    domain, port = split_domain_port(host.lower())
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # Django's own for DEBUG
    if not domain or not validate_host(domain, allowed):
        return None
    return scheme, domain.strip("[]"), int(port) if port else _DEFAULT_PORTS[scheme]


def _matches(origin: Origin, pattern: str) -> bool:
    """`CSRF_TRUSTED_ORIGINS` as Django reads it: exact, or `scheme://*.domain` for its
    subdomains."""
    wildcard = "://*." in pattern
    trusted = parse_origin(pattern.replace("://*.", "://", 1) if wildcard else pattern)
    if trusted is None:
        return False
    scheme, host, port = trusted
    if origin[0] != scheme or origin[2] != port:
        return False
    return origin[1].endswith("." + host) if wildcard else origin[1] == host
