"""The browser socket's numbers that both ends must agree on: its close codes and how the
page acknowledges. Defined once here; the consumer (streaming/live/consumer.py) uses them and
the page receives them with the status sets (`statuses.page_constants`). Pure: no Django."""

from __future__ import annotations

# Close codes. 4408: the page stopped acknowledging; it reconnects with ?after=<last seq>.
# The other three are final: the page stops and says why.
CLOSE_TOO_SLOW = 4408
CLOSE_BAD_REQUEST = 4400  # `after` is not an integer
CLOSE_NOT_ALLOWED = 4403  # not logged in (any more)
CLOSE_NOT_FOUND = 4404  # no such turn among the user's own

# The page acknowledges what it rendered at the latest this long after a frame, and at once
# once this many bytes arrived since its last acknowledgement: a small share of the server's
# window (RELAY_WS_MAX_BACKLOG_BYTES), so a fast replay never waits on the page's timer.
# Each acknowledgement is a message the server handles: once a second per streaming socket
# keeps them a small share of its work (hundreds of sockets), and a paced stream sends far
# less than the window in that time.
ACK_DELAY_MS = 1000
ACK_BYTES = 256 * 1024


def socket_constants() -> dict[str, int]:
    return {
        "close_too_slow": CLOSE_TOO_SLOW,
        "close_bad_request": CLOSE_BAD_REQUEST,
        "close_not_allowed": CLOSE_NOT_ALLOWED,
        "close_not_found": CLOSE_NOT_FOUND,
        "ack_delay_ms": ACK_DELAY_MS,
        "ack_bytes": ACK_BYTES,
    }
