"""When full garbage collections run: at a quiet moment, or after `AT_MOST` under load."""

from __future__ import annotations

import gc
import threading

from webapp import collector
from webapp.collector import AT_MOST, QUIET_AFTER, QUIET_CPU, FullCollections, due


class Process:
    """A fake clock and CPU counter: `run(seconds, share)` advances both."""

    def __init__(self) -> None:
        self.now = self.cpu = 0.0
        self.collections: list[float] = []

    def run(self, seconds: float, share: float) -> None:
        self.now += seconds
        self.cpu += seconds * share

    def collector(self) -> FullCollections:
        return FullCollections(
            clock=lambda: self.now,
            cpu=lambda: self.cpu,
            collect=lambda: self.collections.append(self.now),
        )


def drive(process: Process, full: FullCollections, seconds: int, share: float) -> None:
    for _ in range(seconds):
        process.run(1.0, share)
        full.check()


def test_due_waits_for_quiet_after_the_last_collection():
    assert not due(QUIET_AFTER - 1, 0.0)
    assert due(QUIET_AFTER, 0.0)
    assert not due(QUIET_AFTER, QUIET_CPU)
    assert not due(AT_MOST - 1, 1.0)
    assert due(AT_MOST, 1.0)


def test_a_busy_process_collects_at_its_first_quiet_second():
    process = Process()
    full = process.collector()
    drive(process, full, 100, 0.6)  # streaming: well past QUIET_AFTER, never quiet
    assert process.collections == []
    drive(process, full, 1, 0.02)  # the turns ended
    assert process.collections == [101.0]
    drive(process, full, int(QUIET_AFTER) - 1, 0.0)  # quiet, but the last was just now
    assert process.collections == [101.0]
    drive(process, full, 1, 0.0)
    assert process.collections == [101.0, 101.0 + QUIET_AFTER]


def test_a_process_that_is_never_quiet_still_collects_every_at_most_seconds():
    process = Process()
    full = process.collector()
    drive(process, full, int(2 * AT_MOST), 0.9)
    assert process.collections == [AT_MOST, 2 * AT_MOST]


def test_the_share_is_measured_over_the_last_check_only():
    """A busy start-up does not make a later quiet second look busy."""
    process = Process()
    full = process.collector()
    process.run(QUIET_AFTER, 1.0)  # no check meanwhile: a share of 1.0
    assert not full.check()
    process.run(1.0, 0.0)
    assert full.check()


def test_the_thread_is_running_in_the_served_process():
    import webapp.asgi  # noqa: F401  (installs it)

    assert "full-gc" in [t.name for t in threading.enumerate()]
    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
