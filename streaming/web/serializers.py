"""The JSON shapes of the HTTP API."""

from __future__ import annotations

from typing import Any

from streaming.models import Conversation, Preset, ToolEntry, Turn, Upload


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "model": conversation.model,
        "instructions": conversation.instructions,
        "reasoning_effort": conversation.reasoning_effort or None,
        "verbosity": conversation.verbosity or None,
        "preset": conversation.preset_id,
        "preset_name": conversation.preset.name if conversation.preset_id else None,
    }


def turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "id": str(turn.id),
        "conversation": str(turn.conversation_id),
        "status": turn.status,
        "model": turn.model,
        "instructions": turn.instructions,
        "reasoning_effort": turn.reasoning_effort or None,
        "verbosity": turn.verbosity or None,
        "attachments": [upload_json(u) for u in turn.attachments.all()],
        "input": turn.input,
        "output_text": turn.output_text,
        "output": turn.output,
        "usage": turn.usage,
        "timings": turn.timings,
        "error": turn.error or None,
        "tools": turn.tools,
        "approvals": turn.approvals,  # the owner's answers so far, by approval request id
        "created_at": turn.created_at.isoformat(),
        "ws": turn_socket_path(turn),
    }


def turn_socket_path(turn: Turn) -> str:
    return f"/ws/turns/{turn.id}/"


def upload_json(upload: Upload) -> dict[str, Any]:
    return {
        "id": str(upload.id),
        "name": upload.name,
        "size": upload.size,
        "content_type": upload.content_type,
        "url": f"/api/files/{upload.id}",
    }


def preset_json(preset: Preset) -> dict[str, Any]:
    return {
        "id": preset.pk,
        "name": preset.name,
        "description": preset.description,
        "model": preset.model,
        "instructions": preset.instructions,
        "reasoning_effort": preset.reasoning_effort or None,
        "tools": preset.tools,
    }


def tool_choice_json(entry: ToolEntry) -> dict[str, Any]:
    return {"name": entry.name, "label": entry.label, "kind": entry.kind, "default": entry.default}
