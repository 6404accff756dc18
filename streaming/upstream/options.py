"""The per-conversation request options and how each goes into a Responses API request."""

from __future__ import annotations

from typing import Any

REASONING_EFFORTS = ("minimal", "low", "medium", "high")
VERBOSITIES = ("low", "medium", "high")
INSTRUCTIONS_CHARS = 20_000


def request_options(*, instructions: str, reasoning_effort: str, verbosity: str) -> dict[str, Any]:
    """The request fields for what is set; nothing for what is not (the upstream's default)."""
    body: dict[str, Any] = {}
    if instructions:
        body["instructions"] = instructions
    if reasoning_effort:
        body["reasoning"] = {"effort": reasoning_effort, "summary": "auto"}
    if verbosity:
        body["text"] = {"verbosity": verbosity}
    return body
