"""The heap a serving process builds at start-up, kept out of the collector's full passes.

A full (generation 2) collection walks every object the cyclic collector tracks, and while it
runs the event loop stands still: every event relayed meanwhile is late by the pass. In a
serving process most of those objects are what Django, the app and their libraries built at
start-up (modules, classes, functions, settings), and they live as long as the process. Once
the process is ready they are frozen (`gc.freeze`, the collector's public API), so full
passes walk only what the running turns and sockets hold. Nothing is frozen that could be
garbage: a collection runs first.

What is left still makes a full pass long under load: the objects of every running turn's
connections, sockets and tasks, scattered in memory. Python starts a full pass after every
10 collections of the middle generation (once enough objects have reached the oldest since
the last one), which under load came every few seconds, so every long stream stood still
several times. A full pass is allowed only after `FULL_PASS_AFTER` middle collections (the
third figure of `gc.set_threshold`, also public API): cyclic garbage that reached the
oldest generation waits longer, the rest is still freed at once by reference counting.
`RELAY_GC_TUNING=false` leaves the collector as Python sets it; bench/README.md has the
measured effect of both.
"""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver

FULL_PASS_AFTER = 100  # middle-generation collections; Python's default is 10


def freeze_startup_heap() -> int:
    """Freeze what is alive now and space the full passes; how many objects were frozen
    (0 when turned off)."""
    if not settings.RELAY_GC_TUNING:
        return 0
    get_resolver().url_patterns  # noqa: B018 - imports every view now, to be frozen with the rest
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_AFTER)
    return gc.get_freeze_count()
