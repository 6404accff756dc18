"""The browser's socket: who may open it, what it sends (replay, `relay.replay.done`, live,
close after `relay.turn.done`), and how it fills a gap in the live batches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from streaming.eventlog.writer import envelope
from streaming.live.auth import socket_auth
from streaming.live.hub import hub
from streaming.models import Conversation, Turn, TurnEvent
from tests.relay_harness import Relay, as_user
from webapp.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

PACED = "Hello [sim:markdown tps=100 deltas=60 seed=2]"
QUICK = "Hello [sim:markdown tps=0 deltas=20 seed=1]"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fresh_layer() -> Iterator[None]:
    """An in-memory layer bound to this test's loop, and no worker (nothing sweeps)."""
    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


@dataclass
class Received:
    """Everything one connection received, frame by frame, until the server closed it."""

    frames: list[Any] = field(default_factory=list)
    close_code: int | None = None

    @property
    def items(self) -> list[dict[str, Any]]:
        return [item for f in self.frames if isinstance(f, list) for item in f]

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        return [item for item in self.items if "seq" in item]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if isinstance(f, dict)]

    def count(self, event_type: str) -> int:
        return sum(item["event"]["type"] == event_type for item in self.items)


async def receive_all(communicator: WebsocketCommunicator, timeout: float = 10) -> Received:
    received = Received()
    while True:
        message = await communicator.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            received.close_code = message.get("code")
            return received
        received.frames.append(json.loads(message["text"]))


def delta(n: int) -> str:
    return json.dumps(
        {
            "type": "response.output_text.delta",
            "sequence_number": n,
            "output_index": 0,
            "content_index": 0,
            "item_id": "msg_1",
            "delta": f"w{n} ",
        }
    )


DONE = json.dumps({"type": "relay.turn.done", "status": "completed"})


def create_turn(owner: Any, *, status: str = "streaming") -> Turn:
    conversation = Conversation.objects.create(owner=owner)
    return Turn.objects.create(
        conversation=conversation,
        input="hi",
        model="sim-markdown",
        status=status,
        lease_owner="a-worker-elsewhere",
        lease_expires_at=timezone.now() + timedelta(hours=1),
    )


def store(turn: Turn, seqs: range, *, done: bool = False) -> list[str]:
    """Append events to the log as the worker would; returns their envelopes."""
    rows = [
        TurnEvent(turn=turn, seq=s, type="response.output_text.delta", data=delta(s)) for s in seqs
    ]
    if done:
        rows[-1].type, rows[-1].data = "relay.turn.done", DONE
        Turn.objects.filter(pk=turn.pk).update(status="completed", lease_owner="")
    for row in rows:
        row.received_ms = 0
    TurnEvent.objects.bulk_create(rows)
    Turn.objects.filter(pk=turn.pk).update(next_seq=seqs.stop)
    return [envelope(row.seq, row.data) for row in rows]


async def publish(turn: Turn, first: int, envelopes: list[str], *, done: bool = False) -> None:
    """A write round with this one batch, as the flusher publishes it."""
    batch = {"group": turn.group_name, "first": first, "envelopes": envelopes, "done": done}
    await hub().publish([batch])


async def replayed(
    user: Any, turn: Turn, seqs: list[int], *, after: int = -1
) -> WebsocketCommunicator:
    """A socket on `turn` that has received its replay (`seqs`) and `relay.replay.done`."""
    communicator, connected = await connect(as_user(user), f"/ws/turns/{turn.pk}/?after={after}")
    assert connected
    replay = json.loads(await communicator.receive_from(timeout=5))
    assert [e["seq"] for e in replay] == seqs
    marker = json.loads(await communicator.receive_from(timeout=5))
    assert marker == [{"event": {"type": "relay.replay.done"}}]
    return communicator


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(name)


async def connect(app: Any, path: str, **kwargs: Any) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(app, path, **kwargs)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def refused_with(app: Any, path: str, **kwargs: Any) -> int | None:
    """The close code of a socket the consumer accepts and closes at once, sending nothing:
    a browser sees that code (a refused handshake would be 1006, which it retries)."""
    communicator, connected = await connect(app, path, **kwargs)
    assert connected
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message.get("code")


# --- who may connect ---------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_layer")
async def test_anonymous_users_are_refused() -> None:
    """No login, no socket."""
    turn = await sync_to_async(create_turn)(await sync_to_async(make_user)("alice"))
    assert await refused_with(as_user(AnonymousUser()), f"/ws/turns/{turn.pk}/") == 4403


@pytest.mark.usefixtures("fresh_layer")
async def test_another_users_turn_is_refused() -> None:
    """Bob cannot watch Alice's turn; Alice can."""
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
    turn = await sync_to_async(create_turn)(alice, status="completed")
    assert await refused_with(as_user(bob), f"/ws/turns/{turn.pk}/") == 4404
    communicator, connected = await connect(as_user(alice), f"/ws/turns/{turn.pk}/")
    assert connected
    await communicator.disconnect()


@pytest.mark.usefixtures("fresh_layer")
@pytest.mark.parametrize("query", ["?after=abc", "?after=1.5", "?after=-"])
async def test_a_bad_after_is_refused(query: str) -> None:
    """An `after` that is not an integer closes the socket rather than guessing."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice, status="completed")
    assert await refused_with(as_user(alice), f"/ws/turns/{turn.pk}/{query}") == 4400


@pytest.mark.usefixtures("fresh_layer")
async def test_an_unknown_turn_is_refused() -> None:
    """A turn id that matches nothing is refused like another user's."""
    alice = await sync_to_async(make_user)("alice")
    unknown = "/ws/turns/00000000-0000-0000-0000-000000000000/"
    assert await refused_with(as_user(alice), unknown) == 4404


# --- the full stack: origin check, session cookie ----------------------------------------


def session_headers(client: Any, origin: str, host: str = "localhost") -> list[tuple[bytes, bytes]]:
    """A browser's handshake headers: its page's origin, the host it asked, its cookie."""
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"origin", origin.encode()), (b"host", host.encode()), (b"cookie", cookie.encode())]


async def test_the_full_stack_accepts_a_session_from_an_allowed_origin(relay: Relay) -> None:
    """Through `webapp.asgi.application`: the session cookie logs the socket in, and the
    stored log is replayed."""
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    communicator, connected = await connect(
        application,
        f"/ws/turns/{turn_id}/",
        headers=session_headers(relay.client, "http://localhost"),
    )
    assert connected
    received = await receive_all(communicator)
    assert received.envelopes == await relay.stored(turn_id)


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost.evil.example"])
async def test_the_full_stack_refuses_a_foreign_origin(relay: Relay, origin: str) -> None:
    """A page on another site cannot open the socket with the user's cookie."""
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    _, connected = await connect(
        application, f"/ws/turns/{turn_id}/", headers=session_headers(relay.client, origin)
    )
    assert not connected


async def test_the_full_stack_refuses_a_socket_without_a_session(relay: Relay) -> None:
    """The right origin without the session cookie is still anonymous."""
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    assert await refused_with(application, f"/ws/turns/{turn_id}/", headers=headers) == 4403


async def test_the_full_stack_refuses_a_session_from_before_a_password_change(
    relay: Relay,
) -> None:
    """The session's auth hash is checked when the socket opens, as a request checks it: a
    changed password logs out every session, sockets included."""
    turn_id = await relay.start(QUICK)
    await relay.wait_done(turn_id)
    headers = session_headers(relay.client, "http://localhost")
    relay.user.set_password("a-new-password")
    await sync_to_async(relay.user.save)()
    assert await refused_with(application, f"/ws/turns/{turn_id}/", headers=headers) == 4403


async def test_the_consumer_sends_through_the_servers_own_send() -> None:
    """The socket's authentication wraps nothing around `send`: a wrapper would run on
    every frame of every live turn (streaming/live/auth.py)."""
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["send"], seen["user"] = send, scope["user"]
        await send({"type": "websocket.close"})

    server_sends: list[Any] = []

    async def server_send(message: dict[str, Any]) -> None:
        server_sends.append(message)

    scope = {"type": "websocket", "path": "/ws/", "headers": [], "query_string": b""}
    await socket_auth(inner)(scope, None, server_send)
    assert seen["send"] is server_send
    assert isinstance(seen["user"], AnonymousUser)
    assert server_sends == [{"type": "websocket.close"}]


# --- what the socket sends ----------------------------------------------------------------


async def test_a_message_from_the_browser_gets_an_error_and_changes_nothing(
    relay: Relay,
) -> None:
    """Text or bytes from the browser: one error frame each; the turn streams on to the
    end, and the socket gets the same events as one that said nothing."""
    turn_id = await relay.start(PACED)
    chatty = (await relay.watch(turn_id)).communicator
    quiet = (await relay.watch(turn_id)).communicator
    await chatty.send_to(text_data='{"type": "response.cancel"}')
    await chatty.send_to(bytes_data=b"\x00hello")
    said, heard = await receive_all(chatty), await receive_all(quiet)
    assert len(said.errors) == 2
    assert all(isinstance(e["error"], str) and e["error"] for e in said.errors)
    turn = await relay.wait_done(turn_id)
    assert turn.status == "completed" and not turn.cancel_requested
    stored = await relay.stored(turn_id)
    assert said.envelopes == heard.envelopes == stored
    assert "response.cancel" not in json.dumps(stored)
    assert said.close_code == heard.close_code


async def test_replay_done_comes_once_per_connection_without_a_seq(relay: Relay) -> None:
    """Joining mid-turn and after the end, each connection gets exactly one
    `relay.replay.done`, alone in its frame and without a seq, after the replayed events."""
    turn_id = await relay.start(PACED)
    live = (await relay.watch(turn_id)).communicator
    during = await receive_all(live)
    await relay.wait_done(turn_id)
    after = await receive_all((await relay.watch(turn_id)).communicator)
    stored = await relay.stored(turn_id)
    for received in (during, after):
        assert received.count("relay.replay.done") == 1
        marker = next(f for f in received.frames if f[0]["event"]["type"] == "relay.replay.done")
        assert marker == [{"event": {"type": "relay.replay.done"}}]
        assert received.envelopes == stored
    # After the end, the whole log is replay: the marker follows the last event.
    assert after.frames[-1] == [{"event": {"type": "relay.replay.done"}}]


async def test_the_server_closes_the_socket_after_the_turn_is_done(relay: Relay) -> None:
    """`relay.turn.done` is the last envelope; nothing but the close follows it, whether it
    came live or from the replay."""
    turn_id = await relay.start(PACED)
    live = await receive_all((await relay.watch(turn_id)).communicator)
    await relay.wait_done(turn_id)
    replayed = await receive_all((await relay.watch(turn_id)).communicator)
    for received in (live, replayed):
        assert received.envelopes[-1]["event"]["type"] == "relay.turn.done"
        last_data = max(i for i, f in enumerate(received.frames) if "seq" in f[0])
        assert received.frames[last_data + 1 :] in (
            [],
            [[{"event": {"type": "relay.replay.done"}}]],
        )
        assert received.close_code in (None, 1000)


# --- live batches after a gap --------------------------------------------------------------


@pytest.mark.usefixtures("fresh_layer")
async def test_a_live_batch_after_a_gap_is_filled_from_the_database() -> None:
    """The layer lost a batch: the next one starts past what the socket sent. The socket
    reads the missing events from the log and sends them in order; repeats are dropped."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    await sync_to_async(store)(turn, range(0, 3))
    communicator = await replayed(alice, turn, [0, 1, 2])

    envelopes = await sync_to_async(store)(turn, range(3, 8))  # 3..5 never published
    await publish(turn, 6, envelopes[3:])
    filled = json.loads(await communicator.receive_from(timeout=5))
    assert filled == [json.loads(e) for e in envelopes]

    await publish(turn, 0, [envelope(s, delta(s)) for s in range(3)])
    await publish(turn, 6, envelopes[3:])
    final = await sync_to_async(store)(turn, range(8, 9), done=True)
    await publish(turn, 8, final, done=True)
    received = await receive_all(communicator, timeout=5)
    assert received.frames == [[json.loads(final[0])]]


@pytest.mark.usefixtures("fresh_layer")
async def test_a_gap_filled_up_to_the_end_closes_the_socket() -> None:
    """When filling a gap reads `relay.turn.done`, the socket sends it and closes."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    await sync_to_async(store)(turn, range(0, 2))
    communicator = await replayed(alice, turn, [0, 1])

    envelopes = await sync_to_async(store)(turn, range(2, 6), done=True)
    await publish(turn, 5, envelopes[-1:], done=True)  # 2..4 were lost

    received = await receive_all(communicator, timeout=2)
    assert received.envelopes == [json.loads(e) for e in envelopes]


@pytest.mark.usefixtures("fresh_layer")
async def test_a_live_batch_overlapping_the_replay_is_trimmed() -> None:
    """A batch published before the socket read the log, arriving after its replay, sends
    only the events not yet sent."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    envelopes = await sync_to_async(store)(turn, range(0, 4))
    communicator = await replayed(alice, turn, [2, 3], after=1)
    await publish(turn, 0, envelopes)
    more = await sync_to_async(store)(turn, range(4, 6), done=True)
    await publish(turn, 2, envelopes[2:] + more, done=True)

    received = await receive_all(communicator, timeout=5)
    assert received.frames == [[json.loads(e) for e in more]]


# --- flow control: the page's acknowledgements ---------------------------------------------


async def _live_batches(turn: Turn, batches: int, size: int) -> list[list[str]]:
    """Store and publish `batches` live batches of `size` events each after seq 0; the last
    one ends the turn."""
    published = []
    for n in range(batches):
        seqs = range(1 + n * size, 1 + (n + 1) * size)
        last = n == batches - 1
        envelopes = await sync_to_async(store)(turn, seqs, done=last)
        await publish(turn, seqs.start, envelopes, done=last)
        published.append(envelopes)
    return published


@pytest.mark.usefixtures("fresh_layer")
async def test_a_page_that_stops_acknowledging_is_closed_with_4408(settings: Any) -> None:
    """Past the window of unacknowledged bytes nothing more is sent; when no acknowledgement
    comes within the drain time, the socket is closed with 4408 (the page resumes)."""
    settings.RELAY_WS_MAX_BACKLOG_BYTES = 2000
    settings.RELAY_WS_DRAIN_SECONDS = 0.3
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    await sync_to_async(store)(turn, range(0, 1))
    communicator = await replayed(alice, turn, [0])
    published = await _live_batches(turn, batches=20, size=5)
    received = await receive_all(communicator, timeout=5)
    assert received.close_code == 4408
    sent = sum(len(json.dumps(f)) for f in received.frames)
    assert 0 < len(received.envelopes) < 20 * 5
    assert sent <= 2000 + len(published[0][0]) * 5 * 2  # the window, give or take a frame
    assert [e["seq"] for e in received.envelopes] == list(range(1, 1 + len(received.envelopes)))


@pytest.mark.usefixtures("fresh_layer")
async def test_a_page_that_reads_slowly_but_steadily_gets_everything(settings: Any) -> None:
    """Acknowledging each frame a little late, well within the drain time: the socket
    waits for the window each time and sends the whole turn, in order, then closes."""
    settings.RELAY_WS_MAX_BACKLOG_BYTES = 2000
    settings.RELAY_WS_DRAIN_SECONDS = 1.0
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    await sync_to_async(store)(turn, range(0, 1))
    communicator = await replayed(alice, turn, [0])
    await communicator.send_to(text_data=json.dumps({"ack": 0}))
    await _live_batches(turn, batches=20, size=5)
    seqs: list[int] = []
    close_code = None
    while True:
        message = await communicator.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            close_code = message.get("code")
            break
        frame = json.loads(message["text"])
        seqs += [item["seq"] for item in frame if "seq" in item]
        await asyncio.sleep(0.05)  # a slow page
        await communicator.send_to(text_data=json.dumps({"ack": seqs[-1]}))
    assert seqs == list(range(1, 101))
    assert close_code in (None, 1000)


@pytest.mark.usefixtures("fresh_layer")
@pytest.mark.parametrize(
    "text", ['{"ack": -1}', '{"ack": "3"}', '{"ack": 1.5}', '{"ack": 9}', '{"ack": 0, "x": 1}']
)
async def test_a_bad_acknowledgement_gets_an_error_and_changes_nothing(text: str) -> None:
    """Only `{"ack": <seq already sent>}` is accepted; anything else gets an error frame."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    await sync_to_async(store)(turn, range(0, 2))
    communicator = await replayed(alice, turn, [0, 1])
    await communicator.send_to(text_data=text)
    reply = json.loads(await communicator.receive_from(timeout=5))
    assert isinstance(reply, dict) and "ack" in reply["error"]
    await communicator.disconnect()


# --- a finished turn: replay, then close ---------------------------------------------------


@pytest.mark.usefixtures("fresh_layer")
@pytest.mark.parametrize("after", [-1, 2, 5, 6, 500, 2**31, 2**63, 10**30])
async def test_a_finished_turn_replays_what_follows_after_and_closes(after: int) -> None:
    """Whatever `after` asks, at the end of the log or past it: the rest of the log (maybe
    nothing), `relay.replay.done`, and the socket closes, as nothing more will come."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    envelopes = await sync_to_async(store)(turn, range(0, 6), done=True)
    communicator, connected = await connect(as_user(alice), f"/ws/turns/{turn.pk}/?after={after}")
    assert connected
    received = await receive_all(communicator, timeout=5)
    expected = [json.loads(e) for e in envelopes[after + 1 :]]
    assert received.frames == ([expected] if expected else []) + [
        [{"event": {"type": "relay.replay.done"}}]
    ]
    assert received.close_code in (None, 1000)  # a normal close


@pytest.mark.usefixtures("fresh_layer")
async def test_a_socket_asking_past_the_end_closes_when_the_turn_ends() -> None:
    """Opened on a streaming turn with `?after=` past its log, the socket closes when the
    turn's last batch comes, though it has nothing of it to send."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    await sync_to_async(store)(turn, range(0, 3))
    communicator, connected = await connect(as_user(alice), f"/ws/turns/{turn.pk}/?after=40")
    assert connected
    marker = json.loads(await communicator.receive_from(timeout=5))
    assert marker == [{"event": {"type": "relay.replay.done"}}]
    envelopes = await sync_to_async(store)(turn, range(3, 6), done=True)
    await publish(turn, 3, envelopes, done=True)
    received = await receive_all(communicator, timeout=5)
    assert received.frames == []


@pytest.mark.usefixtures("fresh_layer")
async def test_a_turn_that_ended_before_the_socket_joined_is_replayed_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its status said streaming when the socket looked; its last batch went out before the
    socket joined the hub: the replay reads the end from the log and closes."""
    alice = await sync_to_async(make_user)("alice")
    turn = await sync_to_async(create_turn)(alice)
    envelopes = await sync_to_async(store)(turn, range(0, 3))
    joined = hub().join

    async def join_late(group: str, consumer: Any) -> None:
        more = await sync_to_async(store)(turn, range(3, 5), done=True)
        envelopes.extend(more)
        await joined(group, consumer)

    monkeypatch.setattr(hub(), "join", join_late)  # our hub: the turn ends just before
    communicator, connected = await connect(as_user(alice), f"/ws/turns/{turn.pk}/?after=10")
    assert connected
    received = await receive_all(communicator, timeout=5)
    assert received.frames == [[{"event": {"type": "relay.replay.done"}}]]
