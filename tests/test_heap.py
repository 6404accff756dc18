"""A serving process freezes its start-up heap out of the collector's full passes, and
spaces those passes."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streaming.management.heap import FULL_PASS_AFTER

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc, django
django.setup()
from streaming.management.heap import freeze_startup_heap
frozen = freeze_startup_heap()
from streaming.web import api  # imported by the freeze, through the URLconf
walked = {id(o) for o in gc.get_objects()}
print(frozen, id(api.turn_started) in walked, id(api.__dict__) in walked, gc.get_threshold()[2])
"""


def probe(**env: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_start_up_heap_and_the_views_are_frozen(tmp_path):
    frozen, function_walked, module_walked, full_after = probe(DATA_DIR=str(tmp_path))
    assert int(frozen) > 10_000
    assert (function_walked, module_walked) == ("False", "False")
    assert int(full_after) == FULL_PASS_AFTER


@pytest.mark.parametrize("value", ["false", "0"])
def test_turned_off_nothing_is_frozen(tmp_path, value):
    frozen, function_walked, _, full_after = probe(DATA_DIR=str(tmp_path), RELAY_GC_TUNING=value)
    assert (frozen, function_walked) == ("0", "True")
    assert int(full_after) == gc.get_threshold()[2]  # this process's: Python's own
