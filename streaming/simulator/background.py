"""Background mode, as the Responses API has it: a response generated server-side whether
or not anyone reads it, retrieved by id, streamed again from any `sequence_number`, cancelled.

Generation is a function of time: a background response is the scenario's event list with
each event due at its paced offset from when the response was created, so "generated while
nobody was connected" needs no task, and a response survives a restart of the simulator when
the store has a directory (the embedded app's: `DATA_DIR/simulator`), since the events are
rebuilt from what was stored at creation (the request, the id seed, the creation time). The
store forgets a response `FORGET_AFTER` seconds after it was created.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streaming.simulator.faults import encode
from streaming.simulator.hosted import ContainerFiles
from streaming.simulator.params import Params, parse_params
from streaming.simulator.scenarios import SCENARIOS, build_events

FORGET_AFTER = 3600.0


@dataclass
class Background:
    """One stored background response: its events and when each is due (seconds from
    `started`, wall clock)."""

    id: str
    started: float
    events: list[dict[str, Any]]
    due: list[float]
    stamp: bool = False
    cancelled_at: float | None = None
    frames: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.frames = [encode(event, stamp=self.stamp) for event in self.events]

    def end(self) -> float:
        """Seconds from `started` after which nothing more comes."""
        last = self.due[-1] if self.due else 0.0
        if self.cancelled_at is not None:
            return min(last, self.cancelled_at - self.started)
        return last

    def available(self, now: float) -> int:
        """How many events exist by `now`."""
        elapsed = min(now - self.started, self.end())
        return bisect.bisect_right(self.due, elapsed)  # `due` never decreases

    def snapshot(self, now: float) -> dict[str, Any]:
        """The response object as `GET /responses/{id}` shows it now."""
        count = self.available(now)
        last = next(
            (e["response"] for e in reversed(self.events[:count]) if "response" in e),
            self.events[0]["response"],
        )
        if self.cancelled_at is not None and count < len(self.events):
            return {**last, "status": "cancelled"}
        if count < len(self.events):
            return {**last, "status": "in_progress"}
        return last


def timeline(events: list[dict[str, Any]], params: Params) -> list[float]:
    """Each event's due offset: `ttfb`, then `ttft` before the first delta, 1/`tps` between
    the later ones (as a streamed answer is paced)."""
    due, at, first = [], params.first_byte_delay, True
    for event in events:
        if event["type"].endswith(".delta"):
            at += params.first_delta_delay if first else params.delta_interval
            first = False
        due.append(at)
    return due


class BackgroundStore:
    """The simulator's background responses, in memory and, with `directory`, on disk (one
    JSON file each, written at creation and at cancel)."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        forget_after: float = FORGET_AFTER,
        files: ContainerFiles | None = None,
    ) -> None:
        self.directory = directory
        self.forget_after = forget_after
        self.files = files  # where the files code interpreter makes go, as in a plain stream
        self.items: dict[str, Background] = {}

    def create(self, request: dict[str, Any], params: Params) -> Background:
        record = {
            "request": request,
            "id_seed": random.getrandbits(64),
            "created_at": int(time.time()),
            "started": time.time(),
            "cancelled_at": None,
        }
        item = self._build(record)
        self.items[item.id] = item
        self._save(item.id, record)
        return item

    def get(self, response_id: str) -> Background | None:
        self.forget_old()
        item = self.items.get(response_id)
        if item is None and self.directory is not None:
            item = self._load(response_id)
        return item

    def cancel(self, item: Background) -> None:
        if item.cancelled_at is None and item.available(time.time()) < len(item.events):
            item.cancelled_at = time.time()
            record = self._read(item.id)
            if record is not None:
                self._save(item.id, {**record, "cancelled_at": item.cancelled_at})

    def forget_old(self) -> None:
        cutoff = time.time() - self.forget_after
        for response_id in [k for k, v in self.items.items() if v.started < cutoff]:
            del self.items[response_id]
            if self.directory is not None:
                self._path(response_id).unlink(missing_ok=True)

    def _build(self, record: dict[str, Any]) -> Background:
        request = record["request"]
        params = parse_params(request, SCENARIOS)
        events = build_events(
            request,
            params,
            id_seed=record["id_seed"],
            created_at=record["created_at"],
            files=self.files,
        )
        return Background(
            id=events[0]["response"]["id"],
            started=record["started"],
            events=events,
            due=timeline(events, params),
            stamp=bool(params.stamp),
            cancelled_at=record["cancelled_at"],
        )

    def _path(self, response_id: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{response_id}.json"

    def _save(self, response_id: str, record: dict[str, Any]) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self._path(response_id).with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(self._path(response_id))

    def _read(self, response_id: str) -> dict[str, Any] | None:
        if self.directory is None or not response_id.replace("_", "").isalnum():
            return None
        try:
            return json.loads(self._path(response_id).read_text())
        except (OSError, ValueError):
            return None

    def _load(self, response_id: str) -> Background | None:
        record = self._read(response_id)
        if record is None:
            return None
        if record["started"] < time.time() - self.forget_after:
            self._path(response_id).unlink(missing_ok=True)
            return None
        item = self.items[response_id] = self._build(record)
        return item


def wait_for(item: Background, index: int, now: float) -> float:
    """Seconds until event `index` is due (inf if it never will be: cancelled)."""
    if index >= len(item.events):
        return math.inf
    due = item.due[index]
    if due > item.end():
        return math.inf
    return max(0.0, item.started + due - now)
