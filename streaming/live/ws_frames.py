"""Text frames written straight to daphne's connection, past daphne's reply path and autobahn.

A batch becomes one WebSocket text frame. Through the ASGI `send`, each frame went through
daphne's `handle_reply` and autobahn's `sendMessage` and `sendFrame`, which check options
this server never uses (compression, masking, fragments) and format trace-log arguments on
every call: 9% of the embedded server's GIL time at 300 turns (bench/load.py, py-spy). A
server-to-client text frame is a two-to-ten-byte header and the UTF-8 payload (RFC 6455,
5.2), written here in one call to the transport.

Only for an open connection of daphne's with no compression, no masking and no message half
sent; anything else (another server, a closing socket, a payload over the size limit) says
so, and the caller sends through `send` as before, which handles it as it always did.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

FrameWriter = Callable[[str], bool]


def daphne_protocol(send: Any) -> Any:
    """The connection's protocol behind daphne's `send` (`partial(server.handle_reply,
    protocol)`), or None when `send` is not daphne's."""
    args = getattr(send, "args", ())
    return args[0] if args else None


def frame_writer(send: Any) -> FrameWriter | None:
    """A writer of text frames for the connection behind daphne's `send`, or None when
    `send` is not daphne's."""
    protocol = daphne_protocol(send)
    server = getattr(getattr(send, "func", None), "__self__", None)
    connections = getattr(server, "connections", None)
    open_state = getattr(protocol, "STATE_OPEN", None)
    if connections is None or open_state is None or not hasattr(protocol, "transport"):
        return None
    ground = protocol.SEND_STATE_GROUND
    if getattr(protocol.factory, "isServer", False) is not True or protocol.maskServerFrames:
        return None

    def write(text: str) -> bool:
        entry = connections.get(protocol)  # daphne's record; gone or marked once it closed
        if (
            entry is None
            or "disconnected" in entry
            or protocol.state != open_state
            or protocol.send_state != ground
            or protocol._perMessageCompress is not None
        ):
            return False
        payload = text.encode()
        limit = protocol.maxMessagePayloadSize
        if 0 < limit < len(payload):
            return False  # autobahn refuses it, as before
        protocol.transport.write(_header(len(payload)) + payload)
        return True

    return write


def _header(size: int) -> bytes:
    """FIN and the text opcode, then the payload length, unmasked (a server's frame)."""
    if size < 126:
        return bytes((0x81, size))
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size)
    return struct.pack("!BBQ", 0x81, 127, size)
