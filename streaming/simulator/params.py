"""Which scenario a simulator request asks for, and at what pace and length.

Parameters come from the request body's `"simulator"` object and from a keyword such as
`[sim:long tps=50 deltas=200 seed=3]` in the last user input text; the keyword wins.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import zlib
from collections.abc import Collection
from typing import Any

KEYWORD = re.compile(r"\[sim:([a-z0-9-]+)((?:\s+[a-z_]+=[^\s\]]+)*)\s*\]")
DEFAULT_SCENARIO = "markdown"
# The largest value of each size and time parameter (docs/simulator.md), so that no request
# makes the simulator build an answer of gigabytes or pause a stream for hours. The sizes
# leave room for the longest stream a test or benchmark asks for (60,000 deltas); `words`
# gives about 1.5 deltas a word in `markdown`.
LIMITS: dict[str, float] = {
    "deltas": 100_000,
    "words": 50_000,
    "tps": 10_000,
    "ttfb": 300,
    "ttft": 300,
    "stall": 300,
    "retry_after": 300,
    "stamp": 1,
    "nobackground": 1,
}
# Paced slower than this, one delta would wait more than 10 s: `tps` is 0 or at least this.
MIN_TPS = 0.1


class ParamError(ValueError):
    """The request names an unknown scenario or a parameter with a bad value."""


@dataclasses.dataclass(frozen=True)
class Params:
    scenario: str = DEFAULT_SCENARIO
    seed: int = 0
    ttfb: float | None = None  # None: 5 s for `slow`, else 0
    ttft: float | None = None  # None: 0.3 s when paced, 0 at full speed
    tps: float = 40.0  # deltas per second; 0 is full speed
    deltas: int | None = None
    words: int | None = None
    retry_after: int = 1
    stall: float | None = None  # None: silent until the client goes away
    file: str | None = None
    stamp: int = 0  # 1: each delta carries `sim_sent_ms`, when it was sent (bench/load.py)
    nobackground: int = 0  # 1: refuse `background: true` with a 400, as a server without it

    @property
    def first_byte_delay(self) -> float:
        if self.ttfb is not None:
            return self.ttfb
        return 5.0 if self.scenario == "slow" else 0.0

    @property
    def first_delta_delay(self) -> float:
        if self.ttft is not None:
            return self.ttft
        return 0.3 if self.tps > 0 else 0.0

    @property
    def delta_interval(self) -> float:
        return 1 / self.tps if self.tps > 0 else 0.0


_FIELDS = {f.name: f for f in dataclasses.fields(Params)}
_SECONDS = {"ttfb", "ttft", "tps", "stall"}
_COUNTS = {"seed", "deltas", "words", "retry_after", "stamp", "nobackground"}


def _cast(name: str, value: Any) -> Any:
    if name not in _FIELDS:
        raise ParamError(f"unknown simulator parameter {name!r}")
    if name in ("scenario", "file"):
        return str(value)
    try:
        number = float(value) if name in _SECONDS else int(value)
    except (TypeError, ValueError):
        raise ParamError(f"simulator parameter {name!r} must be a number") from None
    if name != "seed" and not (0 <= number < math.inf):
        raise ParamError(f"simulator parameter {name!r} must be zero or more")
    if number > LIMITS.get(name, math.inf):
        raise ParamError(f"simulator parameter {name!r} is at most {LIMITS[name]:g}")
    if name == "tps" and 0 < number < MIN_TPS:
        raise ParamError(f"simulator parameter 'tps' is 0 (full speed) or at least {MIN_TPS:g}")
    return number


def _check_max_output_tokens(request: dict[str, Any]) -> None:
    """`incomplete` writes that many deltas: the request field has the bound of `deltas`."""
    limit = request.get("max_output_tokens")
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ParamError("'max_output_tokens' must be a whole number of at least 1")
    if limit > LIMITS["deltas"]:
        raise ParamError(f"'max_output_tokens' is at most {LIMITS['deltas']:g} in the simulator")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def last_user_text(request: dict[str, Any]) -> str:
    """The text of the last user message in `input` (a string or a list of input items)."""
    items = request.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            return _text_of(item.get("content"))
    return ""


def _from_model(model: Any, known: Collection[str]) -> str:
    name = model[4:] if isinstance(model, str) and model.startswith("sim-") else ""
    return name if name in known else DEFAULT_SCENARIO


# The scenario that plays each hosted tool: chosen when the request offers the tool and
# names no scenario (a model that has the tool uses it).
HOSTED_SCENARIOS = {
    "mcp": "mcp",
    "web_search": "web-search",
    "file_search": "file-search",
    "code_interpreter": "code-interpreter",
    "image_generation": "image-generation",
}


def _from_tools(request: dict[str, Any]) -> str | None:
    """The scenario of the request's first hosted tool (`web_search_preview` and dated
    variants count as `web_search`)."""
    tools = request.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        for name, scenario in HOSTED_SCENARIOS.items():
            if isinstance(kind, str) and (kind == name or kind.startswith(name + "_")):
                return scenario
    return None


def _wait_until(start_at: Any) -> float:
    """`start_at` (Unix seconds): how long until that moment (negative once it passed).
    The first delta waits for it, and its `ttft` too; so turns posted one after another,
    however long each took to reach the simulator, can be asked to stream from one moment
    on (`bench/load.py`)."""
    try:
        moment = float(start_at)
    except (TypeError, ValueError):
        raise ParamError("simulator parameter 'start_at' must be a number") from None
    wait = moment - time.time()
    if not wait <= LIMITS["ttft"]:  # also NaN
        raise ParamError(f"simulator parameter 'start_at' is at most {LIMITS['ttft']:g} s ahead")
    return wait


def parse_params(request: dict[str, Any], known: Collection[str]) -> Params:
    """Choose the scenario (keyword, then `simulator.scenario`, then model; a model that
    names none, or `markdown`, plays the request's first hosted tool) and its parameters."""
    text = last_user_text(request)
    options = request.get("simulator") or {}
    if not isinstance(options, dict):
        raise ParamError("'simulator' must be an object")
    values = dict(options)
    matches = list(KEYWORD.finditer(text))
    if matches:
        keyword = matches[-1]
        values.update(pair.split("=", 1) for pair in keyword[2].split())
        values["scenario"] = keyword[1]
    start_at = values.pop("start_at", None)
    wait = None if start_at is None else _wait_until(start_at)
    values = {name: _cast(name, value) for name, value in values.items()}
    if "scenario" not in values:
        scenario = _from_model(request.get("model"), known)
        if scenario == DEFAULT_SCENARIO:
            scenario = _from_tools(request) or scenario
        values["scenario"] = scenario
    if values["scenario"] not in known:
        raise ParamError(f"unknown simulator scenario {values['scenario']!r}")
    values.setdefault("seed", zlib.crc32(text.encode()))
    _check_max_output_tokens(request)
    params = Params(**values)
    if wait is not None and wait > params.first_delta_delay:
        params = dataclasses.replace(params, ttft=wait)
    return params
