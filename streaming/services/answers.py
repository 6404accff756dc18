"""Feedback on answers (the owner's rating, changeable) and read-only shares."""

from __future__ import annotations

import secrets
from typing import Any

from streaming.models import Conversation, Feedback, Share, Turn, TurnReview
from streaming.protocol.statuses import TURN_ACTIVE


class NotFinished(Exception):
    """The answer is still queued or streaming."""


def feedback_set(*, turn: Turn, rating: str, comment: str) -> Feedback:
    if turn.status in TURN_ACTIVE:
        raise NotFinished("rate the answer once it has finished")
    item, _ = Feedback.objects.update_or_create(
        turn=turn, defaults={"rating": rating, "comment": comment}
    )
    return item


def share_create(*, conversation: Conversation) -> Share:
    """The conversation's share, made once (posting again returns the same link)."""
    made, _ = Share.objects.get_or_create(
        conversation=conversation, defaults={"token": secrets.token_urlsafe(32)}
    )
    return made


def share_revoke(*, conversation: Conversation) -> None:
    Share.objects.filter(conversation=conversation).delete()


def review_mark(*, turn: Turn, reviewer: Any, reviewed: bool, note: str) -> None:
    """A reviewer's mark on a turn of the review queue; unmarked, the mark is gone."""
    if not reviewed:
        TurnReview.objects.filter(turn=turn).delete()
        return
    TurnReview.objects.update_or_create(turn=turn, defaults={"reviewer": reviewer, "note": note})
