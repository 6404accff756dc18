"""The audit trail on one page: staff actions in the admin (Django's LogEntry) and who opened
which transcript (TranscriptView), newest first, filtered by user and date. Queries only."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.admin.models import LogEntry
from django.utils import timezone

from streaming.models import TranscriptView

LIMIT = 500
_ACTIONS = {1: "added", 2: "changed", 3: "deleted"}


def _day_start(day: date) -> Any:
    return timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time()))


def audit_entries(
    *, user: str = "", since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    entries_q = LogEntry.objects.select_related("user", "content_type")
    views_q = TranscriptView.objects.all()
    if user:
        entries_q = entries_q.filter(user__username=user)
        views_q = views_q.filter(viewer_name=user)
    if since:
        entries_q = entries_q.filter(action_time__gte=_day_start(since))
        views_q = views_q.filter(viewed_at__gte=_day_start(since))
    if until:
        end = _day_start(until + timedelta(days=1))
        entries_q = entries_q.filter(action_time__lt=end)
        views_q = views_q.filter(viewed_at__lt=end)
    rows = [
        {
            "at": entry.action_time,
            "user": entry.user.get_username(),
            "what": f"{_ACTIONS.get(entry.action_flag, 'acted on')} {entry.content_type} "
            f"“{entry.object_repr}”",
            "detail": entry.get_change_message(),
        }
        for entry in entries_q.order_by("-action_time")[:LIMIT]
    ]
    rows += [
        {
            "at": view.viewed_at,
            "user": view.viewer_name,
            "what": f"opened transcript {view.turn_ref} ({view.kind})",
            "detail": "",
        }
        for view in views_q.order_by("-viewed_at")[:LIMIT]
    ]
    rows.sort(key=lambda row: row["at"], reverse=True)
    return rows[:LIMIT]
