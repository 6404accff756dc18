"""The chat page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def chat_page(request: HttpRequest, conversation_id: Any = None) -> HttpResponse:
    from streaming.models import Conversation

    if (
        conversation_id is not None
        and not Conversation.objects.filter(pk=conversation_id, owner=request.user).exists()
    ):
        raise Http404("No such conversation")
    return render(
        request,
        "chat.html",
        {"conversation_id": str(conversation_id) if conversation_id else None},
    )
