"""The browser's socket for one turn: replay the log after `?after=N`, then follow live.

The consumer joins its turn at the process's hub (streaming/live/hub.py) before it reads the
database, so nothing committed after the read is missed; live batches it already sent are
dropped by `seq`. If a live batch arrives past a gap, the gap is read from the database: the
log is committed before it is relayed, so it always has it.

Flow control is the page's acknowledgements (`{"ack": <seq>}`, static/chat/stream.js): an
ASGI server gives a consumer no backpressure, so the socket counts the bytes of the frames
it sent that the page has not acknowledged yet. Past `RELAY_WS_MAX_BACKLOG_BYTES` it sends
nothing more (live batches wait, or are read back from the log later) until acknowledgements
bring it under; if they do not within `RELAY_WS_DRAIN_SECONDS`, it closes with 4408 and the
page resumes with `?after=`. This holds under any ASGI server, behind TLS or not.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from streaming import selectors
from streaming.eventlog.store import db
from streaming.eventlog.writer import FRAME_CHARS, frame, frames, read_envelopes
from streaming.live.hub import hub
from streaming.logs import turn_logger
from streaming.protocol.events import RelayReplayDone
from streaming.protocol.socket import (
    CLOSE_BAD_REQUEST,
    CLOSE_NOT_ALLOWED,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
)

log = logging.getLogger(__name__)

# Not stored, so it has no seq: an envelope of the event alone.
REPLAY_DONE = frame([f'{{"event":{RelayReplayDone().model_dump_json()}}}'])
NOT_ACCEPTED = json.dumps({"error": 'this socket accepts only {"ack": <seq>}'})


class TurnConsumer(AsyncWebsocketConsumer):
    # No channel of its own: batches come from the hub, which holds the layer membership
    # for the whole process (an alias that is not configured gives no layer).
    channel_layer_alias = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` per message, a hop to
        the one thread-sensitive thread that every socket of the process would queue on for
        each acknowledgement. This consumer touches the database only through `db()`,
        which closes its own connections."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.group: str | None = None
        self.closed = False  # closed by this side: send nothing more
        self.busy = True  # until the replay is sent, live batches wait in `inbox`
        self.inbox: list[dict[str, Any]] = []
        self.worker: asyncio.Task[None] | None = None
        self.window = Window(settings.RELAY_WS_MAX_BACKLOG_BYTES)
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
        self.log = turn_logger(turn.pk, __name__)
        self.hub = hub()
        self.group = turn.group_name
        await self.hub.join(self.group, self)
        await self.accept()
        # The replay runs as this socket's task: the consumer handles one message at a time,
        # and the page's acknowledgements must come in while the replay waits for them.
        self.worker = asyncio.ensure_future(self._replay(ended=not turn.is_active))

    async def _replay(self, *, ended: bool) -> None:
        if not ended:  # it may have ended before the hub was joined: its last batch is past
            turn = await db(selectors.turn_find, turn_id=self.turn_id, user=self.scope["user"])
            ended = turn is None or not turn.is_active
        await self._catch_up()
        if self.closed:
            return
        # A final status is committed with the turn's last event: nothing more will come.
        self.done = self.done or ended
        await self.send(text_data=REPLAY_DONE)
        if self.done:
            await self._end()
            return
        await self._work()

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`: refused during the handshake, the socket failed
        with HTTP 403, which a browser reports as 1006, the same as a dropped connection, so
        the page reconnected for ever to a turn that was deleted or a session that ended.
        The page stops on 4400, 4403 and 4404 and says why (static/chat/stream.js)."""
        await self.accept()
        await self.close(code=code)

    async def _end(self, code: int | None = None) -> None:
        """Close once (the turn is done, or the page stopped acknowledging)."""
        if not self.closed:
            self.done = self.closed = True
            await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.done = True
        if self.worker is not None:
            self.worker.cancel()
        if self.group:
            self.hub.leave(self.group, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """`{"ack": <seq>}`: the page has rendered everything up to `seq`. Anything else
        gets an error frame and changes nothing."""
        seq = _ack(text_data)
        if seq is None or not self.group or seq > self.sent:
            await self.send(text_data=NOT_ACCEPTED)
            return
        self.window.acknowledge(seq)

    async def deliver(self, batch: dict[str, Any]) -> None:
        """A live batch from the hub. Sent at once when it follows what was sent and the
        window has room; otherwise queued for this socket's own task (a gap to read from
        the database, acknowledgements to wait for), so the hub never waits for one socket."""
        if self.done:
            return
        first, envelopes = batch["first"], batch["envelopes"]
        if not self.busy and first == self.sent + 1:
            text = frame(envelopes)
            if len(text) <= FRAME_CHARS and self.window.fits(len(text)):
                await self._send_frame(text, first + len(envelopes) - 1)
                if batch["done"]:
                    self.done = True
                    await self._end()
                return
        self.inbox.append(batch)
        if not self.busy:
            self.busy = True
            self.worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        """Send what waits in the inbox, in order; then live batches go straight through."""
        try:
            while self.inbox and not self.done:
                await self._stream(self.inbox.pop(0))
        finally:
            self.busy = False

    async def _stream(self, batch: dict[str, Any]) -> None:
        first, envelopes = batch["first"], batch["envelopes"]
        last = first + len(envelopes) - 1
        if last <= self.sent:
            if batch["done"]:  # the turn ended at or before what `?after=` asked for
                await self._end()
            return
        if first > self.sent + 1:
            await self._catch_up()
            if self.done:  # the gap reached `relay.turn.done`: nothing more will come
                await self._end()
                return
            if last <= self.sent:
                return
        await self._send_envelopes(envelopes[self.sent + 1 - first :], last, batch["done"])
        if self.done:
            await self._end()

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
        seq = last - len(envelopes)
        for text, count in frames(envelopes):
            if not await self._room_for(len(text)):
                self.log.info("closing a socket: its page stopped acknowledging")
                await self._end(CLOSE_TOO_SLOW)
                return
            seq += count
            await self._send_frame(text, seq)
        self.done = done  # when done, the caller closes, once it has said what it needs to

    async def _send_frame(self, text: str, last: int) -> None:
        self.window.sent(last, len(text))
        self.sent = last
        await self.send(text_data=text)

    async def _room_for(self, size: int) -> bool:
        """Wait for acknowledgements until `size` more bytes fit; False if they do not
        come in time. Waiting is safe: everything is in the log, and live batches wait in
        the inbox meanwhile. It is also what paces a replay to the page's reading."""
        if self.window.fits(size):
            return True
        try:
            async with asyncio.timeout(settings.RELAY_WS_DRAIN_SECONDS):
                while not self.window.fits(size):
                    await self.window.changed()
        except TimeoutError:
            self.log.info("%d bytes unacknowledged after the wait", self.window.unacked)
            return False
        return True


class Window:
    """Bytes sent to a socket and not yet acknowledged, by the last seq of each frame."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.unacked = 0
        self._frames: collections.deque[tuple[int, int]] = collections.deque()  # (last, size)
        self._waiter: asyncio.Future[None] | None = None

    def fits(self, size: int) -> bool:
        """Room for a frame of `size`; an empty window takes any frame, however large."""
        return self.unacked == 0 or self.unacked + size <= self.limit

    def sent(self, last: int, size: int) -> None:
        self._frames.append((last, size))
        self.unacked += size

    def acknowledge(self, seq: int) -> None:
        frames = self._frames
        while frames and frames[0][0] <= seq:
            self.unacked -= frames.popleft()[1]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def changed(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter


def _ack(text: str | None) -> int | None:
    if text is None or len(text) > 100:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.keys() != {"ack"}:
        return None
    seq = message["ack"]
    return seq if type(seq) is int and seq >= 0 else None


def _after(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values:
        return -1
    try:
        return max(-1, int(values[0]))
    except ValueError:
        return None
