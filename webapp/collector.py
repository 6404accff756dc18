"""When the process runs the garbage collector's full passes.

What is loaded at start-up (Django, the models, every pydantic schema: ~100,000 tracked
objects) lives as long as the process, so it is frozen out of the collector's passes, which
scanned it again and again while a turn's events came in (bench/relay.py: 1.25-1.37x the
events/s).

Under load most objects live for one round (a read's events, a batch, its frame), but with
the default thresholds (700, 10, 10) the collector caught many of them alive and promoted them,
and the old generation's quarter-rule then ran a full collection every ~2.5 s: 50-100 ms with
everything stopped (bench/load.py at 300 turns). Young collections every 50,000 allocations
let those objects die first.

Full collections are still needed for the cycles that outlive a young collection (each ended
WebSocket and HTTP request leaves some: 94 -> 730 MB in a 3-minute soak of 100 turns without
them). Their cost is the objects still alive, not the garbage: at 300 streaming turns a full
pass walks ~130,000 objects for 60-130 ms of CPU with everything stopped, and every event
relayed meanwhile is late by that much. So a thread runs one at a quiet moment, once
`QUIET_AFTER` seconds have passed since the last: a second in which the process used less than
`QUIET_CPU` of a core (both the CPU and the pass grow with the turns in flight, so a quiet
second means a short pass). Under load that never lets up it runs one anyway after `AT_MOST`
seconds. (Young collections are no measure of load: the collector counts allocations net of
deallocations, and while relaying most objects die young.)
"""

from __future__ import annotations

import gc
import threading
import time

YOUNG_THRESHOLD = 50_000
QUIET_AFTER = 30.0
AT_MOST = 300.0
QUIET_CPU = 0.1  # share of one core
CHECK_EVERY = 1.0


def due(since_last: float, cpu_share: float) -> bool:
    """Whether a full collection runs now, `since_last` seconds after the last one, the
    process having used `cpu_share` of a core since the previous check."""
    if since_last >= AT_MOST:
        return True
    return since_last >= QUIET_AFTER and cpu_share < QUIET_CPU


class FullCollections:
    """The thread that decides; `check()` is one of its steps, so tests can drive it."""

    def __init__(self, clock=time.monotonic, cpu=time.process_time, collect=gc.collect):
        self.clock, self.cpu, self.collect = clock, cpu, collect
        self.last = self.checked = clock()
        self.cpu_seen = cpu()

    def check(self) -> bool:
        now, cpu = self.clock(), self.cpu()
        share = (cpu - self.cpu_seen) / max(now - self.checked, 1e-6)
        self.checked, self.cpu_seen = now, cpu
        if not due(now - self.last, share):
            return False
        self.collect()
        self.last = self.checked = self.clock()
        self.cpu_seen = self.cpu()
        return True

    def run_forever(self) -> None:
        while True:
            time.sleep(CHECK_EVERY)
            self.check()


def install() -> None:
    """Freeze what start-up loaded, set the young threshold, start the thread."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 1000)
    threading.Thread(target=FullCollections().run_forever, name="full-gc", daemon=True).start()
