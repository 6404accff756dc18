"""The JSON shapes of the HTTP API."""

from __future__ import annotations

from typing import Any

from streaming.models import Conversation, ToolEntry, Turn


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }


def turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "id": str(turn.id),
        "conversation": str(turn.conversation_id),
        "status": turn.status,
        "model": turn.model,
        "input": turn.input,
        "output_text": turn.output_text,
        "output": turn.output,
        "usage": turn.usage,
        "timings": turn.timings,
        "error": turn.error or None,
        "tools": turn.tools,
        "created_at": turn.created_at.isoformat(),
        "ws": turn_socket_path(turn),
    }


def turn_socket_path(turn: Turn) -> str:
    return f"/ws/turns/{turn.id}/"


def tool_choice_json(entry: ToolEntry) -> dict[str, Any]:
    return {"name": entry.name, "label": entry.label, "kind": entry.kind, "default": entry.default}
