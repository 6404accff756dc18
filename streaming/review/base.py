"""Pieces the review admin shares: read-only admins, the flag badge, the tools filter."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils.html import format_html

from streaming.models import Turn


class UsedToolsFilter(admin.SimpleListFilter):
    title = "used tools"
    parameter_name = "tools"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Turn]) -> QuerySet[Turn]:
        if self.value() not in ("yes", "no"):
            return queryset
        # An output item whose type ends in `_call` (function_call, web_search_call, …).
        calls = queryset.annotate(_output_json=Cast("output", TextField())).filter(
            _output_json__contains='_call"'
        )
        if self.value() == "yes":
            return calls
        return queryset.exclude(pk__in=calls.values("pk"))


def flag_badge(turn: Turn) -> str:
    if turn.flagged:
        categories = ", ".join((turn.moderation or {}).get("categories") or []) or "flagged"
        return format_html('<span class="review-flag">⚑ {}</span>', categories)
    if turn.moderation_status == "error":
        return format_html('<span class="review-flag review-flag-error">{}</span>', "unchecked")
    return ""


class ReadOnlyAdmin(admin.ModelAdmin):
    """Transcripts are evidence: nobody adds or edits them here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def format_ms(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value} ms" if value < 1000 else f"{value / 1000:.1f} s"
