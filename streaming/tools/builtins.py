"""The built-in function plug-ins, catalogue entries like any other (a team may disable them).

Each is an ordinary callable with type hints and a docstring; streaming/tools/plugins.py
derives what the model is told from them.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from streaming import selectors
from streaming.tools.functions import current_user_id


def current_time(
    timezone: Annotated[str, Field(description="An IANA time zone, e.g. Europe/Oslo")] = "UTC",
) -> dict[str, str]:
    """The current date and time in a time zone."""
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return {"error": f"unknown time zone {timezone!r}"}
    return {"timezone": timezone, "now": datetime.now(zone).isoformat()}


def search_conversations(
    words: Annotated[str, Field(description="Words the past message or answer contains")],
    limit: Annotated[int, Field(ge=1, le=20)] = 5,
) -> dict[str, Any]:
    """Search the user's own earlier conversations: the turns whose message or answer
    contains every one of the words, newest first."""
    user_id = current_user_id()
    if user_id is None:
        return {"error": "no user to search for"}
    found = selectors.turns_search(user_id=user_id, words=words.split(), limit=limit)
    return {"results": found}
