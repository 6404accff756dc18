"""Text frames written straight to daphne's connection: the bytes, and when it declines."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from autobahn.websocket.protocol import WebSocketProtocol
from websockets.frames import Frame, Opcode

from streaming.live.ws_frames import frame_writer


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class Protocol:
    """The attributes of daphne's WebSocket protocol (an autobahn one) the writer reads."""

    STATE_OPEN = WebSocketProtocol.STATE_OPEN
    SEND_STATE_GROUND = WebSocketProtocol.SEND_STATE_GROUND

    def __init__(self) -> None:
        self.factory = type("Factory", (), {"isServer": True})()
        self.maskServerFrames = False
        self.state = WebSocketProtocol.STATE_OPEN
        self.send_state = WebSocketProtocol.SEND_STATE_GROUND
        self._perMessageCompress = None
        self.maxMessagePayloadSize = 16 * 1024 * 1024
        self.transport = Transport()


class Server:
    """daphne's server: its `connections` record, and `handle_reply` behind `send`."""

    def __init__(self, protocol: Protocol) -> None:
        self.connections: dict[Any, dict[str, Any]] = {protocol: {"connected": 1.0}}

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        raise AssertionError("the writer did not decline, so this is never called")


def daphne_send() -> tuple[Any, Protocol, Server]:
    protocol = Protocol()
    server = Server(protocol)
    return functools.partial(server.handle_reply, protocol), protocol, server


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 300_000])
def test_a_frame_is_the_text_frame_rfc_6455_defines(size: int) -> None:
    """Every length encoding (7-bit, 16-bit, 64-bit) gives the bytes of an unmasked text
    frame, as the websockets library serialises it; multi-byte UTF-8 is counted in bytes."""
    send, protocol, _ = daphne_send()
    write = frame_writer(send)
    assert write is not None
    text = "é" * (size // 4) + "x" * (size - 2 * (size // 4))  # `size` bytes of UTF-8
    assert len(text.encode()) == size
    assert write(text) is True
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    assert protocol.transport.written == [expected]


@pytest.mark.parametrize(
    "change",
    [
        lambda p, s: setattr(p, "state", WebSocketProtocol.STATE_CLOSING),
        lambda p, s: setattr(p, "send_state", WebSocketProtocol.SEND_STATE_INSIDE_MESSAGE),
        lambda p, s: setattr(p, "_perMessageCompress", object()),
        lambda p, s: setattr(p, "maxMessagePayloadSize", 10),
        lambda p, s: s.connections[p].update(disconnected=2.0),
        lambda p, s: s.connections.clear(),
    ],
    ids=["closing", "mid-message", "compressed", "over-the-limit", "disconnected", "gone"],
)
def test_it_declines_what_daphne_must_handle_itself(change: Any) -> None:
    """A closing socket, a message half sent, compression, a payload over the limit, or a
    connection daphne let go: nothing is written, and the caller uses `send`."""
    send, protocol, server = daphne_send()
    write = frame_writer(send)
    assert write is not None
    change(protocol, server)
    assert write("hello, more than ten bytes") is False
    assert protocol.transport.written == []


def test_another_servers_send_gets_no_writer() -> None:
    async def send(message: dict[str, Any]) -> None: ...

    assert frame_writer(send) is None
    send_masking, protocol, _ = daphne_send()
    protocol.maskServerFrames = True
    assert frame_writer(send_masking) is None
