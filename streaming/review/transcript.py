"""The admin's conversation page: every turn of the conversation as the chat page shows it,
oldest first, each with its flags, its feedback and a link to its own review page."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from streaming.models import Conversation, Feedback, Turn
from streaming.web.serializers import turn_json


def feedback_json(turn: Turn) -> dict[str, Any] | None:
    try:
        item = turn.feedback
    except Feedback.DoesNotExist:
        return None
    return {"rating": item.rating, "comment": item.comment}


def review_json(turn: Turn) -> dict[str, Any]:
    """What the chat renderer needs (the API's turn shape), and what a reviewer triages by."""
    record = {k: v for k, v in turn_json(turn).items() if k != "ws"}
    categories = (turn.moderation or {}).get("categories") or []
    return {
        **record,
        "admin_url": reverse("admin:streaming_turn_change", args=[turn.pk]),
        "flagged": turn.flagged,
        "categories": list(categories) if turn.flagged else [],
        "moderation_status": turn.moderation_status or None,
        "feedback": feedback_json(turn),
    }


def conversation_turns(conversation: Conversation) -> list[Turn]:
    """All of the conversation's turns in the order they were made."""
    return list(
        conversation.turns.order_by("created_at", "pk")
        .select_related("feedback")
        .prefetch_related("attachments")
    )


def transcript_json(turns: list[Turn]) -> list[dict[str, Any]]:
    return [review_json(turn) for turn in turns]
