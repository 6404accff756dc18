"""The browser's socket for one turn: replay the log after `?after=N`, then follow live.

The consumer joins its turn (through the process's hub, `streaming/live/hub.py`) before it reads
the database, so nothing committed after the read is missed; live batches it already sent
are dropped by `seq`. If a live batch arrives past a gap (the layer dropped a message), the
gap is read from the database: the log is committed before it is relayed, so it always has it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from streaming import selectors
from streaming.eventlog.store import db
from streaming.eventlog.writer import FRAME_CHARS, frame, frames, read_envelopes
from streaming.live.hub import hub_for
from streaming.live.ws_frames import daphne_protocol, frame_writer
from streaming.logs import turn_logger
from streaming.protocol.events import RelayReplayDone

log = logging.getLogger(__name__)

# Close codes (documented in the README).
CLOSE_TOO_SLOW = 4408  # the client stopped reading; reconnect with ?after=<last seq>
CLOSE_BAD_REQUEST = 4400  # `after` is not an integer
CLOSE_NOT_ALLOWED = 4403  # not logged in (any more)
CLOSE_NOT_FOUND = 4404  # no such turn among the user's own
# Not stored, so it has no seq: an envelope of the event alone.
REPLAY_DONE = frame([f'{{"event":{RelayReplayDone().model_dump_json()}}}'])


class TurnConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-message `aclose_old_connections()`: a hop to
        the one thread-sensitive thread before every message, which serialised every viewer
        in the process (bench/load.py). This consumer touches the database only through
        `db()`, which closes its own connections."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.group: str | None = None
        self.busy = True  # until the replay is sent, live batches wait in `inbox`
        self.inbox: list[dict[str, Any]] = []
        self.worker: asyncio.Task[None] | None = None
        user = self.scope.get("user")
        after = _after(self.scope.get("query_string", b""))
        turn_id = self.scope["url_route"]["kwargs"]["turn_id"]
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_NOT_ALLOWED)
            return
        if after is None:
            await self.refuse(CLOSE_BAD_REQUEST)
            return
        turn = await db(selectors.turn_find, turn_id=turn_id, user=user)
        if turn is None:  # another user's turn looks the same as one that never was
            await self.refuse(CLOSE_NOT_FOUND)
            return
        self.turn_id, self.sent, self.done = turn.pk, after, False
        # The server's own send, under channels' session wrapper: frames go straight to it
        # (the wrapper saves the session only for `http.response.start`, and its checks were
        # 5% of the server at 200 turns), and the backlog is read from it.
        self.server_send = innermost_send(self.base_send)
        self.write_frame = frame_writer(self.server_send)
        self.transport = getattr(daphne_protocol(self.server_send), "transport", None)
        self.log = turn_logger(turn.pk, __name__)
        self.hub = hub_for(self.channel_layer)
        self.group = turn.group_name
        await self.hub.join(self.group, self)
        await self.accept()
        await self._catch_up()
        # A final status is committed with the turn's last event: nothing more will come.
        self.done = self.done or not turn.is_active
        await self.send(text_data=REPLAY_DONE)
        if self.done:
            await self.close()
            return
        await self._work()

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`: refused during the handshake, the socket failed
        with HTTP 403, which a browser reports as 1006, the same as a dropped connection, so
        the page reconnected for ever to a turn that was deleted or a session that ended.
        The page stops on 4400, 4403 and 4404 and says why (static/chat/stream.js)."""
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.done = True
        if self.worker is not None:
            self.worker.cancel()
        if self.group:
            await self.hub.leave(self.group, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The protocol needs nothing from the browser; say so rather than ignore it.
        await self.send(text_data=json.dumps({"error": "this socket does not accept messages"}))

    async def deliver(self, message: dict[str, Any]) -> None:
        """A live batch from the hub. Sent at once when it follows what was sent and the
        client keeps up; otherwise queued for this socket's own task (a gap to read from the
        database, a backlog to wait on), so the hub never waits for one socket."""
        if self.done:
            return
        if self.busy or not self._sendable(message):
            self.inbox.append(message)
            if not self.busy:
                self.busy = True
                self.worker = asyncio.ensure_future(self._work())
            return
        # The usual batch: it follows what was sent, and fits one frame.
        first, envelopes = message["first"], message["envelopes"]
        if first == self.sent + 1 and self.write_frame is not None:
            text = frame(envelopes)
            if len(text) <= FRAME_CHARS and self.write_frame(text):
                self.sent = first + len(envelopes) - 1
                if message.get("done"):
                    self.done = True
                    await self.close()
                return
        await self.stream_events(message)

    def _sendable(self, message: dict[str, Any]) -> bool:
        if message["first"] > self.sent + 1:
            return False  # a gap
        backlog = backlog_of(self.transport)
        return backlog is None or backlog <= settings.RELAY_WS_MAX_BACKLOG_BYTES

    async def _work(self) -> None:
        """Send what waits in the inbox, in order; then live batches go straight through."""
        try:
            while self.inbox and not self.done:
                await self.stream_events(self.inbox.pop(0))
        finally:
            self.busy = False

    async def stream_events(self, message: dict[str, Any]) -> None:
        if self.done:
            return
        first, envelopes = message["first"], message["envelopes"]
        last = first + len(envelopes) - 1
        if last <= self.sent:
            return
        if first > self.sent + 1:
            await self._catch_up()
            if self.done:  # the gap reached `relay.turn.done`: nothing more will come
                await self.close()
                return
            if last <= self.sent:
                return
        await self._send_envelopes(envelopes[self.sent + 1 - first :], last, message.get("done"))
        if self.done:
            await self.close()

    async def _catch_up(self) -> None:
        """Send everything stored after `self.sent`, in batches."""
        while not self.done:
            rows = await db(read_envelopes, self.turn_id, self.sent, settings.RELAY_REPLAY_BATCH)
            if not rows:
                return
            last_seq, last_type = rows[-1][0], rows[-1][1]
            await self._send_envelopes(
                [env for _, _, env in rows], last_seq, last_type == "relay.turn.done"
            )

    async def _send_envelopes(self, envelopes: list[str], last: int, done: bool) -> None:
        for text in frames(envelopes):
            if not await self._drained():
                self.log.info("closing a socket: its client stopped reading")
                self.done = True
                await self.close(code=CLOSE_TOO_SLOW)
                return
            if self.write_frame is None or not self.write_frame(text):
                await self.server_send({"type": "websocket.send", "text": text})
        self.sent = last
        self.done = done  # when done, the caller closes, once it has said what it needs to

    async def _drained(self) -> bool:
        """Past the backlog limit, wait for the client to catch up; False if it does not.

        Waiting is safe: everything is in the log, and live batches wait in the inbox
        meanwhile (or are read back from the database as a gap). It is also what paces
        a replay, which would otherwise be written as fast as the database reads.
        """
        limit = settings.RELAY_WS_MAX_BACKLOG_BYTES
        deadline = time.monotonic() + settings.RELAY_WS_DRAIN_SECONDS
        while (backlog := backlog_of(self.transport)) is not None and backlog > limit:
            if time.monotonic() > deadline:
                self.log.info("%d bytes unread after the drain wait", backlog)
                return False
            await asyncio.sleep(0.01)
        return True


def _after(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values:
        return -1
    try:
        return max(-1, int(values[0]))
    except ValueError:
        return None


def backlog_of(transport: Any) -> int | None:
    """Bytes written to this socket that the client has not read yet, under daphne.

    daphne has no WebSocket backpressure: writes pile up in the Twisted transport. It hands
    the app `partial(server.handle_reply, protocol)` as `send` (`innermost_send` finds it
    under the session middleware, `ws_frames.daphne_protocol` the protocol behind it), and
    the consumer keeps that protocol's transport. Other servers: None (no bound applied).
    """
    if transport is None:
        return None
    buffered = getattr(transport, "dataBuffer", b"")
    return len(buffered) + int(getattr(transport, "_tempDataLen", 0))


def innermost_send(send: Any) -> Any:
    """The server's own `send` under channels' session wrappers (`real_send`)."""
    for _ in range(5):
        wrapped = getattr(getattr(send, "__self__", None), "real_send", None)
        if wrapped is None:
            break
        send = wrapped
    return send
