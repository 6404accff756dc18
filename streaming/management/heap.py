"""The heap a serving process builds at start-up, kept out of the collector's full passes.

A full (generation 2) collection walks every object the cyclic collector tracks, and while it
runs the event loop stands still: every event relayed meanwhile is late by the pass. In a
serving process most of those objects are what Django, the app and their libraries built at
start-up (modules, classes, functions, settings), and they live as long as the process. Once
the process is ready they are frozen (`gc.freeze`, the collector's public API), so full
passes walk only what the running turns and sockets hold. Nothing is frozen that could be
garbage: a collection runs first. `RELAY_GC_FREEZE=false` leaves the collector as Python
sets it; bench/README.md has the measured effect.
"""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver


def freeze_startup_heap() -> int:
    """Freeze what is alive now; how many objects were frozen (0 when turned off)."""
    if not settings.RELAY_GC_FREEZE:
        return 0
    get_resolver().url_patterns  # noqa: B018 - imports every view now, to be frozen with the rest
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
