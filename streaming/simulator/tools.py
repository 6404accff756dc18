"""What the simulator calls: only the tools a request offers, as a real model would.

`get_weather` is the simulator's demo plug-in (deterministic, for the round trip, not the
forecast): add `{"name": "get_weather", "label": "Weather (demo)", "function":
"streaming.simulator.tools:get_weather"}` to the catalogue to see it called.
"""

from __future__ import annotations

import json
import random
from typing import Any, Literal

from streaming.simulator import texts

ZONES = ["Europe/Oslo", "Asia/Tokyo", "America/Lima", "Africa/Nairobi", "Europe/Paris"]


def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather for a place."""
    degrees = 10 + sum(map(ord, location.lower())) % 20
    if unit == "fahrenheit":
        degrees = round(degrees * 9 / 5 + 32)
    return json.dumps({"location": location, "temperature": degrees, "unit": unit, "sky": "clear"})


def offered(request: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The request's tools of one `type`, in order."""
    tools = request.get("tools")
    tools = tools if isinstance(tools, list) else []
    return [t for t in tools if isinstance(t, dict) and t.get("type") == kind]


def hosted(request: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The request's first hosted tool of this kind (`web_search` is also offered as
    `web_search_preview` and dated variants), or None."""
    tools = request.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        kind_of = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind_of, str) and (kind_of == kind or kind_of.startswith(kind + "_")):
            return tool
    return None


def arguments_for(tool: dict[str, Any], rng: random.Random, query: str) -> str:
    """Plausible arguments from a function's parameter schema: a place for a location, a
    zone for a time zone, the user's words for a query, the first choice of an enum."""
    properties = (tool.get("parameters") or {}).get("properties") or {}
    args: dict[str, Any] = {}
    for name, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        if "enum" in spec:
            args[name] = spec["enum"][0]
        elif spec.get("type") == "integer":
            args[name] = max(int(spec.get("minimum", 1)), min(3, int(spec.get("maximum", 3))))
        elif spec.get("type") == "boolean":
            args[name] = False
        elif "zone" in name:
            args[name] = rng.choice(ZONES)
        elif "location" in name or "city" in name or "place" in name:
            args[name] = rng.choice(texts.CITIES)
        elif spec.get("type", "string") == "string":
            args[name] = query
    return json.dumps(args, separators=(",", ":"))
