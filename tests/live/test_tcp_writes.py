"""`streaming.live.tcp_writes`: Twisted's TCP writes go out at once when nothing is buffered, and
what the socket does not take is buffered in order, as Twisted always did."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twisted.internet import tcp

import webapp.asgi  # noqa: F401 (installs it, as in every daphne process)
from streaming.live import tcp_writes


class Reactor:
    """Records what a connection asks of the reactor."""

    def __init__(self) -> None:
        self.writers: list[object] = []

    def addWriter(self, fd: object) -> None:  # Twisted's names
        if fd not in self.writers:
            self.writers.append(fd)

    def removeWriter(self, fd: object) -> None:
        if fd in self.writers:
            self.writers.remove(fd)


@pytest.fixture
def pair() -> Iterator[tuple[tcp.Connection, socket.socket, Reactor]]:
    assert tcp_writes.installed()  # the ASGI application installs it on import
    ours, peer = socket.socketpair()
    reactor = Reactor()
    connection = tcp.Connection(ours, protocol=None, reactor=reactor)  # type: ignore[arg-type]
    connection.connected = True
    yield connection, peer, reactor
    ours.close()
    peer.close()


def read_all(peer: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += peer.recv(size - len(data))
    return data


def test_a_write_with_nothing_buffered_is_sent_at_once(pair) -> None:
    connection, peer, reactor = pair
    connection.write(b"frame one")
    connection.write(b"frame two")
    assert reactor.writers == []  # no reactor turn asked for
    assert read_all(peer, 18) == b"frame oneframe two"


def test_what_the_socket_does_not_take_is_buffered_and_later_writes_keep_their_order(
    pair,
) -> None:
    connection, peer, reactor = pair
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than any socket buffer
    connection.write(big)
    assert reactor.writers == [connection]
    buffered = connection._tempDataLen
    assert 0 < buffered < len(big)
    connection.write(b"after")  # must queue behind the rest of `big`, not jump ahead
    assert connection._tempDataLen == buffered + 5
    received = b""
    while len(received) < len(big) + 5:
        connection.doWrite()
        received += peer.recv(1 << 20)
    assert received == big + b"after"
    assert reactor.writers == []


def test_a_closed_peer_leaves_the_error_to_twisted(pair) -> None:
    connection, peer, reactor = pair
    peer.close()
    connection.write(b"x" * 1000)  # the send fails: Twisted's own path sees the error
    assert reactor.writers == [connection]
    assert connection.doWrite() is not None  # Twisted reports the lost connection


def test_tls_connections_keep_twisted_s_path(pair) -> None:
    connection, _peer, _reactor = pair
    written = []
    connection.TLS = True
    connection.protocol = type("TLS", (), {"write": lambda self, data: written.append(data)})()
    connection.write(b"secret")
    assert written == [b"secret"]
