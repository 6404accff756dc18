"""The admin's view of user signal: feedback on turns, the review queue (turns flagged or
rated down, oldest first, with a reviewed mark and note), and the read-only shares."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from streaming.models import Feedback, ReviewQueueTurn, Share, Turn
from streaming.review.base import ReadOnlyAdmin, flag_badge
from streaming.services import answers as answer_services


class FeedbackFilter(admin.SimpleListFilter):
    title = "feedback"
    parameter_name = "feedback"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("up", "Up"), ("down", "Down"), ("none", "None")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Turn]) -> QuerySet[Turn]:
        if self.value() in ("up", "down"):
            return queryset.filter(feedback__rating=self.value())
        if self.value() == "none":
            return queryset.filter(feedback__isnull=True)
        return queryset


def feedback_cell(turn: Turn) -> str:
    item = Feedback.objects.filter(turn=turn).first()
    if item is None:
        return "—"
    # Words, not emoji: a machine without an emoji font showed empty boxes.
    mark = "Up" if item.rating == "up" else "Down"
    return format_html("<strong>{}</strong> {}", mark, item.comment[:80])


class ReviewForm(forms.ModelForm):
    reviewed = forms.BooleanField(required=False, label="reviewed")
    note = forms.CharField(required=False, widget=forms.Textarea, label="reviewer's note")

    class Meta:
        model = ReviewQueueTurn
        fields: list[str] = []


@admin.register(ReviewQueueTurn)
class ReviewQueueAdmin(admin.ModelAdmin):
    """Staff with change permission on the queue mark a turn reviewed; the turn stays as is."""

    form = ReviewForm
    list_display = ["__str__", "turn_link", "flags", "user_feedback", "reviewed", "review_note"]
    list_filter = [FeedbackFilter, "flagged", ("review", admin.EmptyFieldListFilter)]
    ordering = ["created_at"]
    readonly_fields = ["turn_link", "input", "output_text", "flags", "user_feedback"]
    fields = ["turn_link", "input", "output_text", "flags", "user_feedback", "reviewed", "note"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewQueueTurn]:
        queue = Q(flagged=True) | Q(feedback__rating=Feedback.Rating.DOWN)
        return super().get_queryset(request).filter(queue).select_related("review")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        review = getattr(obj, "review", None) if obj else None
        form.base_fields["reviewed"].initial = review is not None
        form.base_fields["note"].initial = review.note if review else ""
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        answer_services.review_mark(
            turn=obj,
            reviewer=request.user,
            reviewed=form.cleaned_data["reviewed"],
            note=form.cleaned_data["note"],
        )

    @admin.display(description="turn")
    def turn_link(self, turn: Turn) -> str:
        url = reverse("admin:streaming_turn_change", args=[turn.pk])
        return format_html('<a href="{}">transcript</a>', url)

    @admin.display(description="flags")
    def flags(self, turn: Turn) -> str:
        return flag_badge(turn)

    @admin.display(description="feedback")
    def user_feedback(self, turn: Turn) -> str:
        return feedback_cell(turn)

    @admin.display(description="reviewed", boolean=True)
    def reviewed(self, turn: Turn) -> bool:
        return getattr(turn, "review", None) is not None

    @admin.display(description="note")
    def review_note(self, turn: Turn) -> str:
        review = getattr(turn, "review", None)
        return review.note[:80] if review else ""


@admin.register(Share)
class ShareAdmin(ReadOnlyAdmin):
    list_display = ["conversation", "owner", "created_at"]
    list_select_related = ["conversation__owner"]
    fields = ["conversation", "created_at"]
    readonly_fields = fields

    @admin.display(description="owner")
    def owner(self, share: Share) -> str:
        return share.conversation.owner.get_username()
