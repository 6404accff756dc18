"""Feedback on answers: the owner's rating, changeable."""

from __future__ import annotations

from streaming.models import Feedback, Turn
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
