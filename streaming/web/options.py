"""Reading a conversation's options (model, instructions, reasoning, verbosity, preset) and
a turn's attachments from a request body: a clear 400 naming the field for a bad value."""

from __future__ import annotations

import uuid
from typing import Any

from streaming import selectors
from streaming.models import Preset
from streaming.upstream.models import ModelNotAllowed, model_check
from streaming.upstream.options import INSTRUCTIONS_CHARS, REASONING_EFFORTS, VERBOSITIES

MAX_ATTACHMENTS = 10


class BadOption(ValueError):
    pass


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = data[key] or ""
    if value not in ("", *allowed):
        raise BadOption(f"'{key}' must be one of {', '.join(allowed)} (or null)")
    return value


def _model(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise BadOption("'model' must be a string")
    try:
        return model_check(value)
    except ModelNotAllowed as exc:
        raise BadOption(str(exc)) from None


def _instructions(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadOption("'instructions' must be a string")
    if len(value) > INSTRUCTIONS_CHARS:
        raise BadOption(f"'instructions' is too long (the limit is {INSTRUCTIONS_CHARS})")
    return value


def _preset(value: Any, user: Any) -> Preset | None:
    if value is None:
        return None
    visible = {p.pk: p for p in selectors.presets_visible(user=user)}
    if isinstance(value, bool) or not isinstance(value, int) or value not in visible:
        raise BadOption(f"'preset' {value!r} is not a preset you can use")
    return visible[value]


def conversation_options(data: dict[str, Any], *, user: Any) -> dict[str, Any]:
    """The options present in `data`, checked; a preset fills what the body leaves out."""
    options: dict[str, Any] = {}
    if "preset" in data:
        preset = _preset(data["preset"], user)
        options["preset"] = preset
        if preset is not None:
            options.update(
                model=preset.model,
                instructions=preset.instructions,
                reasoning_effort=preset.reasoning_effort,
            )
    if "model" in data:
        options["model"] = _model(data["model"])
    if "instructions" in data:
        options["instructions"] = _instructions(data["instructions"])
    if "reasoning_effort" in data:
        options["reasoning_effort"] = _choice(data, "reasoning_effort", REASONING_EFFORTS)
    if "verbosity" in data:
        options["verbosity"] = _choice(data, "verbosity", VERBOSITIES)
    return options


def attachment_ids(data: dict[str, Any]) -> list[uuid.UUID]:
    value = data.get("attachments") or []
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise BadOption(f"'attachments' must be a list of at most {MAX_ATTACHMENTS} file ids")
    try:
        return list(dict.fromkeys(uuid.UUID(str(v)) for v in value))
    except ValueError:
        raise BadOption("'attachments' must be a list of file ids") from None
