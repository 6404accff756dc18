"""What goes on the wire for a scenario: paced SSE frames, HTTP faults and recorded replays."""

from __future__ import annotations

import json
import math
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streaming.simulator.params import Params

Frame = tuple[float, bytes]  # (seconds to wait before it, the bytes)

REPO_ROOT = Path(__file__).resolve().parents[2]
STALL_AFTER = 3
MALFORMED_AFTER = 4
BAD_FRAME = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",\n\n'


@dataclass
class Reply:
    """A whole, non-streamed HTTP response."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    ended: str = "completed"


def json_reply(status: int, payload: Any, *, headers: Iterable[tuple[bytes, bytes]] = ()) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    fixed = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    ended = "completed" if status < 400 else f"http_{status}"
    return Reply(status, body, [*fixed, *headers], ended)


def error_reply(status: int, message: str, type_: str, code: str | None, **kw: Any) -> Reply:
    error = {"message": message, "type": type_, "param": None, "code": code}
    return json_reply(status, {"error": error}, **kw)


def rate_limited(params: Params) -> Reply:
    retry = str(params.retry_after).encode()
    message = "Rate limit reached for requests (simulated). Please try again later."
    headers = [(b"retry-after", retry), (b"x-ratelimit-remaining-requests", b"0")]
    return error_reply(429, message, "requests", "rate_limit_exceeded", headers=headers)


class FlakyCounter:
    """Remembers the seeds it has seen (the oldest forgotten past `limit`)."""

    def __init__(self, limit: int = 1024) -> None:
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._limit = limit

    def first_time(self, seed: int) -> bool:
        if seed in self._seen:
            return False
        self._seen[seed] = None
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return True


def http_fault(params: Params, flaky: FlakyCounter) -> Reply | None:
    """The error response a fault scenario answers with instead of a stream, if any."""
    name = params.scenario
    if name == "http-401":
        message = "Incorrect API key provided"
        return error_reply(401, message, "invalid_request_error", "invalid_api_key")
    if name == "http-429" or (name == "flaky-429" and flaky.first_time(params.seed)):
        return rate_limited(params)
    if name == "http-500":
        message = "The server had an error while processing your request. Sorry about that!"
        return error_reply(500, message, "server_error", None)
    return None


# With `stamp=1`, a delta's `sim_sent_ms` holds this mark until `stamped` fills in the time.
STAMP_MARK = b'"sim_sent_ms":"?"'
# One encoder for every frame: `json.dumps` with options builds a new one per call.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(event: dict[str, Any], *, stamp: bool = False) -> bytes:
    data = _JSON.encode(event)
    if stamp and _is_delta(event["type"]):
        data = data[:-1] + ',"sim_sent_ms":"?"}'  # as if it were the event's last key
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def stamped(frame: bytes) -> bytes:
    """The frame with the time it is sent, milliseconds since the epoch, in `sim_sent_ms`."""
    if STAMP_MARK not in frame:
        return frame
    return frame.replace(STAMP_MARK, b'"sim_sent_ms":%.3f' % (time.time() * 1000))


def _is_delta(event_type: str) -> bool:
    return event_type.endswith(".delta")


def paced(typed_frames: Iterable[tuple[str, bytes]], params: Params) -> Iterator[Frame]:
    """Wait `ttft` before the first delta of any kind and 1/`tps` before each later one."""
    first = True
    for event_type, frame in typed_frames:
        delay = 0.0
        if _is_delta(event_type):
            delay = params.first_delta_delay if first else params.delta_interval
            first = False
        yield delay, frame


def scenario_frames(events: list[dict[str, Any]], params: Params) -> Iterator[Frame]:
    """The paced frames of a built scenario, with the wire faults `stall` and `malformed`."""
    stamp = bool(params.stamp)
    frames = paced(((e["type"], encode(e, stamp=stamp)) for e in events), params)
    for number, frame in enumerate(frames):
        if params.scenario == "stall" and number == STALL_AFTER:
            yield (math.inf if params.stall is None else params.stall), b""
        if params.scenario == "malformed" and number == MALFORMED_AFTER:
            yield 0.0, BAD_FRAME
            return
        yield frame


class ReplayError(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def replay_dir() -> Path:
    configured = os.environ.get("SIMULATOR_REPLAY_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpus"


def replay_path(name: str | None) -> Path:
    """The recording `name` inside the replay directory; a 400 or 404 reply otherwise."""
    root = replay_dir().resolve()
    path = (root / (name or "")).resolve()
    if not name or not path.is_relative_to(root) or path == root:
        message = "Parameter 'file' must name a file inside the replay directory"
        raise ReplayError(error_reply(400, message, "invalid_request_error", "invalid_file"))
    if not path.is_file():
        message = f"No recording named {name!r}"
        raise ReplayError(error_reply(404, message, "invalid_request_error", "file_not_found"))
    return path


def _frame_type(block: str) -> tuple[str, dict[str, Any] | None]:
    event_type, data = "", []
    for line in block.split("\n"):
        if line.startswith("event:"):
            event_type = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    try:
        payload = json.loads("\n".join(data))
    except ValueError:
        return event_type, None
    if not isinstance(payload, dict):
        return event_type, None
    return event_type or str(payload.get("type", "")), payload


def replay_blocks(path: Path) -> list[tuple[str, dict[str, Any] | None, bytes]]:
    """Each recorded frame: its type, its parsed data (None if not JSON) and its exact bytes."""
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    return [(*_frame_type(b), (b + "\n\n").encode()) for b in blocks]


def replay_frames(blocks: list[tuple[str, Any, bytes]], params: Params) -> Iterator[Frame]:
    return paced(((t, raw) for t, _, raw in blocks), params)


def replay_final(blocks: list[tuple[str, Any, bytes]]) -> dict[str, Any] | None:
    """The last response object the recording carries (its terminal event's)."""
    for _, payload, _ in reversed(blocks):
        if payload and isinstance(payload.get("response"), dict):
            return payload["response"]
    return None
