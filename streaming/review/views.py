"""The review pages the turn admin adds: the stored log as JSON, and Replay.

Both sit behind `AdminSite.admin_view` (staff only, never cached) and check the turn's view
permission; opening the replay is recorded like opening the turn page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from streaming.models import TranscriptView, Turn
from streaming.protocol.statuses import page_constants
from streaming.review import export
from streaming.services import audit


def viewable_turn(model_admin: admin.ModelAdmin, request: HttpRequest, turn_id: Any) -> Turn:
    turn = model_admin.get_object(request, turn_id)
    if turn is None:
        raise Http404("No such turn")
    if not model_admin.has_view_permission(request, turn):
        raise PermissionDenied
    return turn


def turn_log(model_admin: admin.ModelAdmin, request: HttpRequest, turn_id: Any) -> HttpResponse:
    turn = viewable_turn(model_admin, request, turn_id)
    response = StreamingHttpResponse(export.log_json(turn), content_type="application/json")
    response["X-Content-Type-Options"] = "nosniff"
    return response


def turn_replay(model_admin: admin.ModelAdmin, request: HttpRequest, turn_id: Any) -> HttpResponse:
    turn = viewable_turn(model_admin, request, turn_id)
    audit.transcript_view_record(user=request.user, turn=turn, kind=TranscriptView.Kind.REPLAY)
    opts = Turn._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": f"Replay of {turn}",
        "turn": turn,
        "log_url": reverse("admin:streaming_turn_log", args=[turn.pk]),
        "turn_url": reverse("admin:streaming_turn_change", args=[turn.pk]),
        "relay_constants": page_constants(),
    }
    return TemplateResponse(request, "admin/streaming/turn/replay.html", context)
