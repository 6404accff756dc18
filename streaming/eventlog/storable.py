"""Text every database stores: no NUL (PostgreSQL refuses it in text and JSON), no lone
surrogates (UTF-8 has none). Upstream text may carry either (an escaped `\\u0000` in a delta
decodes to a NUL): a turn's fields lose them, its raw log keeps them, escaped. Done before
the write, so that no turn's write can fail on them (nor its round, nor the sweep's)."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """`value` (a string, or JSON-like lists and dicts of them) without NUL or lone
    surrogates; what holds none is returned as is."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def storable_raw(text: str) -> str:
    """Raw event text with each NUL or lone surrogate written as its JSON escape."""
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
