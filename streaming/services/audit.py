"""The reviewers' audit trail: who opened which transcript, and when."""

from __future__ import annotations

from typing import Any

from streaming.models import TranscriptView, Turn


def transcript_view_record(*, user: Any, turn: Turn, kind: str) -> TranscriptView:
    return TranscriptView.objects.create(
        viewer=user,
        viewer_name=user.get_username(),
        turn=turn,
        turn_ref=str(turn.pk),
        kind=kind,
    )


def transcript_views_record(*, user: Any, turns: list[Turn], kind: str) -> None:
    """One record per turn shown, as when a conversation's whole transcript is opened."""
    TranscriptView.objects.bulk_create(
        TranscriptView(
            viewer=user, viewer_name=user.get_username(), turn=t, turn_ref=str(t.pk), kind=kind
        )
        for t in turns
    )
