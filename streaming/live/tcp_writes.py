"""Twisted's TCP writes, sent at once when nothing is waiting (daphne serves on Twisted).

Twisted's `FileDescriptor.write` only buffers: it registers the socket for writing and sends
on the reactor's next turn, then unregisters it. Under daphne's asyncio reactor that is an
`epoll_ctl` to add the writer, a loop iteration, the send, and another `epoll_ctl` to remove
it, for every WebSocket frame: 10% of the embedded server's CPU at 200 turns of 50 events/s
(bench/load.py, py-spy). asyncio's own transports do what this does: when nothing is
buffered, send now, and buffer (Twisted's way) only what the socket did not take.

Plain TCP only; a TLS connection, a connection with data still buffered, or any error from
the send take Twisted's path, which handles them as before (a failed send is retried by
Twisted, which then sees the error and closes the connection its own way). Installed once,
on import of the ASGI application, so every daphne process has it.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp

_twisted_write = tcp.Connection.write


def _write(self: Any, data: bytes) -> None:
    if (
        type(data) is bytes
        and data
        and not self.TLS
        and self.connected
        and not self._writeDisconnected
        and not self._tempDataBuffer
        and self.offset >= len(self.dataBuffer)
    ):
        try:
            sent = self.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # Twisted's own send meets the error and closes the connection
        if sent >= len(data):
            return
        data = data[sent:]
    _twisted_write(self, data)


def install() -> None:
    tcp.Connection.write = _write  # type: ignore[method-assign]


def installed() -> bool:
    return tcp.Connection.write is _write
