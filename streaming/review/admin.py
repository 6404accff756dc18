"""Transcript review for staff: conversations and turns, read-only, with export and audit.

Reviewers (the group the migration creates) hold view permissions only; superusers may
also delete. Nobody edits a transcript. Opening a turn page or its replay is recorded.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from streaming import selectors
from streaming.models import Conversation, TranscriptView, Turn
from streaming.protocol.statuses import page_constants
from streaming.review import export, transcript
from streaming.review import views as admin_views
from streaming.review.answers_admin import FeedbackFilter, feedback_cell
from streaming.review.base import ReadOnlyAdmin, UsedToolsFilter, flag_badge, format_ms
from streaming.services import audit


class TurnInline(admin.TabularInline):
    model = Turn
    fields = ["created_at", "status", "model", "input_preview", "flags"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    extra = 0
    ordering = ["created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="input")
    def input_preview(self, turn: Turn) -> str:
        return turn.input if len(turn.input) <= 120 else turn.input[:119] + "…"

    @admin.display(description="flags")
    def flags(self, turn: Turn) -> str:
        return flag_badge(turn)


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    class Media:
        css = {"all": ["review/review.css"]}

    list_display = ["__str__", "owner", "turn_count", "created_at", "updated_at"]
    list_filter = ["owner", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["title", "turns__input", "turns__output_text"]
    date_hierarchy = "created_at"
    fields = ["title", "owner", "created_at", "updated_at"]
    inlines = [TurnInline]
    actions = ["export_jsonl", "export_jsonl_with_events", "export_csv"]
    change_form_template = "admin/streaming/conversation/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).annotate(turn_total=Count("turns"))

    @admin.display(description="turns", ordering="turn_total")
    def turn_count(self, conversation: Conversation) -> int:
        return conversation.turn_total  # type: ignore[attr-defined]

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], **kwargs: Any
    ) -> Any:
        conversation = context.get("original")
        if conversation is not None:
            turns = transcript.conversation_turns(conversation)
            context["transcript"] = transcript.transcript_json(
                turns, leaf_id=conversation.active_leaf_id
            )
            context["relay_constants"] = page_constants()
            if request.method == "GET":
                audit.transcript_views_record(
                    user=request.user, turns=turns, kind=TranscriptView.Kind.PAGE
                )
        return super().render_change_form(request, context, **kwargs)

    # --- export actions: the selected conversations' turns, as the turn list exports them ---

    @staticmethod
    def _turns(queryset: QuerySet[Conversation]) -> QuerySet[Turn]:
        return Turn.objects.filter(conversation__in=queryset.values("pk"))

    @admin.action(description="Export their turns as JSONL", permissions=["view"])
    def export_jsonl(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse:
        return export.jsonl_response(self._turns(queryset), events=False)

    @admin.action(description="Export their turns as JSONL, with events", permissions=["view"])
    def export_jsonl_with_events(
        self, request: HttpRequest, queryset: QuerySet[Conversation]
    ) -> HttpResponse:
        return export.jsonl_response(self._turns(queryset), events=True)

    @admin.action(description="Export their turns as a CSV summary", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse:
        return export.csv_response(self._turns(queryset))


@admin.register(Turn)
class TurnAdmin(ReadOnlyAdmin):
    class Media:
        css = {"all": ["review/review.css"]}

    list_display = [
        "__str__",
        "user",
        "model",
        "status",
        "started_at",
        "duration",
        "ttft",
        "tokens_in",
        "tokens_out",
        "tool_calls",
        "flags",
        "user_feedback",
    ]
    list_filter = [
        FeedbackFilter,
        "status",
        "model",
        ("conversation__owner", admin.RelatedOnlyFieldListFilter),
        "created_at",
        "flagged",
        "moderation_status",
        UsedToolsFilter,
    ]
    list_select_related = ["conversation__owner"]
    search_fields = ["input", "output_text"]
    date_hierarchy = "created_at"
    actions = ["export_jsonl", "export_jsonl_with_events", "export_csv"]
    change_form_template = "admin/streaming/turn/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "conversation",
                    "user",
                    "model",
                    "status",
                    "error",
                    "error_detail",
                    "input",
                ]
            },
        ),
        (
            "Run with",
            {"fields": ["instructions", "reasoning_effort", "verbosity", "attachment_links"]},
        ),
        (
            "Timing and usage",
            {"fields": ["created_at", "started_at", "duration", "ttft", "usage", "tool_calls"]},
        ),
        (
            "Moderation",
            {"fields": ["flags", "moderation_status", "held_text", "moderation_json"]},
        ),
        ("Relay", {"classes": ["collapse"], "fields": ["response_ids", "anomalies", "next_seq"]}),
    ]
    readonly_fields = [
        "conversation",
        "user",
        "model",
        "status",
        "error",
        "error_detail",
        "input",
        "instructions",
        "reasoning_effort",
        "verbosity",
        "attachment_links",
        "created_at",
        "started_at",
        "duration",
        "ttft",
        "usage",
        "tool_calls",
        "flags",
        "moderation_status",
        "held_text",
        "moderation_json",
        "response_ids",
        "anomalies",
        "next_seq",
        "opened_by",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Turn]:
        return super().get_queryset(request).select_related("conversation__owner")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if request.user.is_superuser:
            fieldsets.append(("Audit: opened by", {"fields": ["opened_by"]}))
        return fieldsets

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/log.json",
                wrap(lambda request, object_id: admin_views.turn_log(self, request, object_id)),
                name="streaming_turn_log",
            ),
            path(
                "<path:object_id>/replay/",
                wrap(lambda request, object_id: admin_views.turn_replay(self, request, object_id)),
                name="streaming_turn_replay",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        turn = self.get_object(request, object_id)
        if request.method == "GET" and response.status_code == 200 and turn is not None:
            audit.transcript_view_record(
                user=request.user, turn=turn, kind=TranscriptView.Kind.PAGE
            )
        return response

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], **kwargs: Any
    ) -> Any:
        turn = context.get("original")
        if turn is not None:
            context["log_url"] = reverse("admin:streaming_turn_log", args=[turn.pk])
            context["replay_url"] = reverse("admin:streaming_turn_replay", args=[turn.pk])
            context["relay_constants"] = page_constants()
        return super().render_change_form(request, context, **kwargs)

    # --- columns ---------------------------------------------------------------------------

    @admin.display(description="attachments")
    def attachment_links(self, turn: Turn) -> str:
        return (
            format_html_join(
                " ",
                '<a class="attachment" href="{}">{}</a>',
                (
                    (f"/api/files/{u.pk}", f"{u.name} ({u.content_type}, {u.size} bytes)")
                    for u in turn.attachments.all()
                ),
            )
            or "–"
        )

    @admin.display(description="user", ordering="conversation__owner__username")
    def user(self, turn: Turn) -> str:
        return turn.conversation.owner.get_username()

    @admin.display(description="duration")
    def duration(self, turn: Turn) -> str:
        return format_ms(export.duration_ms(turn))

    @admin.display(description="TTFT")
    def ttft(self, turn: Turn) -> str:
        return format_ms(turn.timings["ttft_ms"])

    @admin.display(description="tokens in")
    def tokens_in(self, turn: Turn) -> int | None:
        return export.tokens(turn, "input_tokens")

    @admin.display(description="tokens out")
    def tokens_out(self, turn: Turn) -> int | None:
        return export.tokens(turn, "output_tokens")

    @admin.display(description="tool calls")
    def tool_calls(self, turn: Turn) -> int:
        return export.tool_calls(turn)

    @admin.display(description="flags", ordering="flagged")
    def flags(self, turn: Turn) -> str:
        return flag_badge(turn)

    @admin.display(description="feedback")
    def user_feedback(self, turn: Turn) -> str:
        return feedback_cell(turn)

    @admin.display(description="held back (never shown to the user)")
    def held_text(self, turn: Turn) -> str:
        text = (turn.moderation or {}).get("held_text")
        return format_html("<pre class='review-pre'>{}</pre>", text) if text else "—"

    @admin.display(description="moderation details")
    def moderation_json(self, turn: Turn) -> str:
        details = {k: v for k, v in (turn.moderation or {}).items() if k != "held_text"}
        if not details:
            return "—"
        return format_html("<pre class='review-pre'>{}</pre>", json.dumps(details, indent=2))

    @admin.display(description="opened by")
    def opened_by(self, turn: Turn) -> str:
        views = selectors.transcript_views(turn=turn)
        if not views:
            return "—"
        return format_html_join(
            "", "<div>{} · {} · {}</div>", ((v.viewed_at, v.viewer_name, v.kind) for v in views)
        )

    # --- export actions --------------------------------------------------------------------

    @admin.action(description="Export selected turns as JSONL", permissions=["view"])
    def export_jsonl(self, request: HttpRequest, queryset: QuerySet[Turn]) -> HttpResponse:
        return export.jsonl_response(queryset, events=False)

    @admin.action(description="Export selected turns as JSONL, with events", permissions=["view"])
    def export_jsonl_with_events(
        self, request: HttpRequest, queryset: QuerySet[Turn]
    ) -> HttpResponse:
        return export.jsonl_response(queryset, events=True)

    @admin.action(description="Export selected turns as a CSV summary", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Turn]) -> HttpResponse:
        return export.csv_response(queryset)


@admin.register(TranscriptView)
class TranscriptViewAdmin(ReadOnlyAdmin):
    """The audit trail: superusers only, and nobody changes or deletes it here."""

    list_display = ["viewed_at", "viewer_name", "kind", "turn_link"]
    list_filter = ["kind", "viewed_at", "viewer_name"]
    search_fields = ["viewer_name", "turn_ref"]
    date_hierarchy = "viewed_at"
    fields = ["viewed_at", "viewer_name", "viewer", "kind", "turn_link"]
    readonly_fields = fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="turn")
    def turn_link(self, view: TranscriptView) -> str:
        url = reverse("admin:streaming_turn_change", args=[view.turn_ref])
        return format_html('<a href="{}">{}</a>', url, view.turn_ref)
