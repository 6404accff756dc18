"""Function tools the relay can run for the model, and their JSON schemas.

A tool is a plain function taking the parsed arguments and returning a string. Unknown
tools and bad arguments answer the model with an error string instead of failing the turn,
which is what the model needs to recover.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., str]

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


def _get_weather(location: str, unit: str = "celsius") -> str:
    # A deterministic stand-in: the point is the round trip, not the forecast.
    degrees = 10 + sum(map(ord, location.lower())) % 20
    if unit == "fahrenheit":
        degrees = round(degrees * 9 / 5 + 32)
    return json.dumps({"location": location, "temperature": degrees, "unit": unit, "sky": "clear"})


def _current_time(timezone: str = "UTC") -> str:
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return json.dumps({"error": f"unknown time zone {timezone!r}"})
    return json.dumps({"timezone": timezone, "now": datetime.now(zone).isoformat()})


REGISTRY: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "get_weather",
            "Current weather for a place.",
            {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
            _get_weather,
        ),
        Tool(
            "current_time",
            "The current time in an IANA time zone.",
            {
                "type": "object",
                "properties": {"timezone": {"type": "string"}},
                "required": [],
            },
            _current_time,
        ),
    )
}


def tool_schemas() -> list[dict[str, Any]]:
    return [tool.schema() for tool in REGISTRY.values()]


def tool_call(name: str, arguments: str) -> str:
    """Run a registered tool; errors become the string the model reads."""
    tool = REGISTRY.get(name)
    if tool is None:
        return json.dumps({"error": f"no tool named {name!r}"})
    try:
        args = json.loads(arguments or "{}")
        if not isinstance(args, dict):
            raise TypeError("arguments must be a JSON object")
        return tool.run(**args)
    except (ValueError, TypeError) as exc:
        return json.dumps({"error": f"bad arguments for {name}: {exc}"})
