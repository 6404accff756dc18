"""The admin's conversation page: every turn of the conversation as the chat page shows it,
oldest first (every branch), each with its flags, its feedback, a link to its own review page
and whether it is on the path the user sees now."""

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


def review_json(turn: Turn, *, on_path: bool = True) -> dict[str, Any]:
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
        "parent": str(turn.parent_id) if turn.parent_id else None,
        "on_path": on_path,
    }


def conversation_turns(conversation: Conversation) -> list[Turn]:
    """All of the conversation's turns in the order they were made."""
    return list(
        conversation.turns.order_by("created_at", "pk")
        .select_related("feedback")
        .prefetch_related("attachments")
    )


def active_path(turns: list[Turn], leaf_id: Any) -> set[Any]:
    """The ids from the conversation's active leaf up through its parents."""
    by_id = {turn.pk: turn for turn in turns}
    path: set[Any] = set()
    while leaf_id in by_id and leaf_id not in path:
        path.add(leaf_id)
        leaf_id = by_id[leaf_id].parent_id
    return path


def transcript_json(turns: list[Turn], *, leaf_id: Any = None) -> list[dict[str, Any]]:
    """Every turn; with the conversation's active leaf, those off its path say so."""
    path = active_path(turns, leaf_id) if leaf_id is not None else None
    return [review_json(turn, on_path=path is None or turn.pk in path) for turn in turns]
