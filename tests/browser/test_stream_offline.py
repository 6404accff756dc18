"""The WebSocket client (static/chat/stream.js), driven through a fake socket in the browser."""

import pytest

pytestmark = pytest.mark.browser


def delta(seq, text="x"):
    return {"seq": seq, "event": {"type": "response.output_text.delta", "delta": text}}


def done(seq, status="completed"):
    return {"seq": seq, "event": {"type": "relay.turn.done", "status": status}}


def start(page, **options):
    page.evaluate("o => streams.start(o)", options)
    page.wait_for_function("() => streams.sockets.length === 1")
    page.evaluate("streams.last().open()")


def deliver(page, frame):
    page.evaluate("f => streams.last().deliver(f)", frame)


def sockets(page):
    return page.evaluate("streams.sockets.length")


def test_it_connects_for_everything_when_it_has_nothing(harness):
    """The first connection asks for the whole log (after=-1) on the page's own host."""
    start(harness)
    assert harness.evaluate("streams.last().url") == "ws://harness.test/ws/turns/t1/?after=-1"


def test_it_drops_envelopes_it_already_has(harness):
    """Frames are arrays of envelopes; any seq at or below the last one seen is dropped."""
    start(harness)
    deliver(harness, [delta(0), delta(1), delta(2)])
    deliver(harness, [delta(1), delta(2), delta(3)])
    deliver(harness, [{"event": {"type": "relay.replay.done"}}])
    assert harness.evaluate("streams.seqs()") == [0, 1, 2, 3]
    assert harness.evaluate("streams.received.at(-1).event.type") == "relay.replay.done"


def test_it_resumes_after_the_last_seq_when_the_socket_closes(harness):
    """An unexpected close reconnects, asking only for what comes after the last seq."""
    start(harness)
    deliver(harness, [delta(0), delta(1), delta(2), delta(3), delta(4)])
    harness.evaluate("streams.last().serverClose(1006)")
    harness.wait_for_function("() => streams.sockets.length === 2")
    assert harness.evaluate("streams.last().url").endswith("?after=4")
    harness.evaluate("streams.last().open()")
    deliver(harness, [delta(4), delta(5)])
    assert harness.evaluate("streams.seqs()") == [0, 1, 2, 3, 4, 5]


def test_a_client_too_slow_close_is_just_resumed(harness):
    """Close code 4408 (the server dropped a lagging client) means: reconnect and resume."""
    start(harness)
    deliver(harness, [delta(0), delta(1)])
    harness.evaluate("streams.last().serverClose(4408)")
    harness.wait_for_function("() => streams.sockets.length === 2")
    assert harness.evaluate("streams.last().url").endswith("?after=1")


def test_it_stops_after_the_turn_is_done(harness):
    """After relay.turn.done nothing reconnects, whatever the close."""
    start(harness)
    deliver(harness, [delta(0), done(1)])
    harness.evaluate("streams.last().serverClose(1000)")
    harness.wait_for_timeout(300)
    assert sockets(harness) == 1
    assert harness.evaluate("streams.states").count("done") == 1


@pytest.mark.parametrize("code", [4400, 4403, 4404])
def test_it_gives_up_when_the_turn_is_not_the_users_or_gone(harness, code):
    """Close codes 4400, 4403 and 4404 are final: an error state, and no reconnecting."""
    start(harness)
    harness.evaluate(f"streams.last().serverClose({code})")
    harness.wait_for_timeout(300)
    assert sockets(harness) == 1
    assert harness.evaluate("streams.states.at(-1)").startswith("failed: ")


def test_a_stalled_stream_is_reconnected(harness):
    """While the turn streams, silence longer than the stall limit forces a fresh connection."""
    start(harness, stallMs=300)
    deliver(harness, [delta(0), delta(1)])
    harness.wait_for_function("() => streams.sockets.length === 2", timeout=3000)
    assert harness.evaluate("streams.sockets[0].closedWith") == 4000
    assert harness.evaluate("streams.last().url").endswith("?after=1")


def test_it_reconnects_at_once_when_the_network_returns(harness):
    """Coming back online skips the rest of the backoff wait."""
    start(harness, baseDelayMs=60_000, maxDelayMs=60_000)
    deliver(harness, [delta(0)])
    harness.evaluate("streams.last().serverClose(1006)")
    harness.wait_for_timeout(100)
    assert sockets(harness) == 1
    harness.evaluate("window.dispatchEvent(new Event('online'))")
    harness.wait_for_function("() => streams.sockets.length === 2", timeout=2000)
    assert harness.evaluate("streams.last().url").endswith("?after=0")


def test_it_acknowledges_what_it_rendered_soon_and_not_per_frame(harness):
    """Frames close together get one acknowledgement of the last seq, shortly after them."""
    start(harness)
    for seq in range(5):
        deliver(harness, [delta(seq)])
    assert harness.evaluate("streams.last().sent") == []
    harness.wait_for_function("() => streams.last().sent.length === 1")
    assert harness.evaluate("streams.last().sent") == [{"ack": 4}]
    deliver(harness, [delta(5), delta(6)])
    harness.wait_for_function("() => streams.last().sent.length === 2")
    assert harness.evaluate("streams.last().sent.at(-1)") == {"ack": 6}


def test_it_acknowledges_at_once_when_much_arrived(harness):
    """A large replay is acknowledged as it comes, so the server's window never waits on
    the page's timer."""
    start(harness)
    deliver(harness, [delta(0, "y" * 300_000)])
    assert harness.evaluate("streams.last().sent") == [{"ack": 0}]


UNREADABLE = '[{"seq": 1, "event": {"type": "response.output_text.delta", "logprob": NaN}}]'


def test_it_gives_up_on_a_frame_it_cannot_read_instead_of_reconnecting_for_ever(harness):
    """A frame that is not JSON is asked for again (after the last seq it has); when the
    same thing comes back a few times the turn fails with a clear message, and no socket is
    opened after that."""
    start(harness)
    deliver(harness, [delta(0)])
    for attempt in range(1, 3):
        deliver(harness, UNREADABLE)
        harness.wait_for_function(f"() => streams.sockets.length === {attempt + 1}")
        assert harness.evaluate("streams.last().url").endswith("?after=0")
        harness.evaluate("streams.last().open()")
    deliver(harness, UNREADABLE)
    harness.wait_for_timeout(500)
    assert sockets(harness) == 3
    assert harness.evaluate("streams.states.at(-1)") == (
        "failed: This answer's stream sent data the page cannot read. Reload the page to try again."
    )
    assert harness.evaluate("streams.seqs()") == [0]


def test_a_frame_it_cannot_read_is_forgotten_once_the_stream_moves_on(harness):
    """Unreadable frames count only one after another: new events in between reset them."""
    start(harness)
    for seq in range(4):
        deliver(harness, UNREADABLE)
        harness.wait_for_function(f"() => streams.sockets.length === {seq + 2}")
        harness.evaluate("streams.last().open()")
        deliver(harness, [delta(seq)])
    assert harness.evaluate("streams.seqs()") == [0, 1, 2, 3]
    assert "failed" not in " ".join(harness.evaluate("streams.states"))


def test_a_socket_that_brings_nothing_new_does_not_reset_the_backoff(harness):
    """Connections that replay nothing and close count as failed attempts (the page then
    asks over HTTP whether the turn ended), not as a fresh start at full speed."""
    start(harness)
    deliver(harness, [delta(0)])
    for attempt in range(1, 4):
        deliver(harness, [{"event": {"type": "relay.replay.done"}}])
        harness.evaluate("streams.last().serverClose(1000)")
        harness.wait_for_function(f"() => streams.sockets.length === {attempt + 1}")
        harness.evaluate("streams.last().open()")
        assert harness.evaluate("streams.stream.attempts") == attempt
    deliver(harness, [delta(1)])
    assert harness.evaluate("streams.stream.attempts") == 0
