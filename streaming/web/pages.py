"""The HTML pages: the chat page (a new chat, or one of the user's conversations)."""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie
def chat_page(request: HttpRequest, conversation_id: UUID | None = None) -> HttpResponse:
    """The chat page; the page's script loads the conversation through the JSON API."""
    title = None
    if conversation_id is not None:
        from streaming.models import Conversation

        conversation = get_object_or_404(Conversation, pk=conversation_id, owner=request.user)
        title = conversation.title
    context = {"conversation_id": conversation_id, "conversation_title": title}
    return render(request, "chat.html", context)
