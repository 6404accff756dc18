"""The HTML pages: the chat page (a new chat, or one of the user's conversations).

Every page that runs the chat scripts (this one, and the admin's review pages) renders
`page_constants()` (streaming/protocol/statuses.py) with `json_script` as the
`relay-constants` element, which `static/chat/constants.js` reads: the status sets reach the
scripts from Python's one definition instead of being repeated in JavaScript.
"""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from streaming import selectors
from streaming.models import Conversation
from streaming.protocol.statuses import page_constants


@login_required
@ensure_csrf_cookie
def chat_page(request: HttpRequest, conversation_id: UUID | None = None) -> HttpResponse:
    """The chat page; the page's script loads the conversation through the JSON API."""
    title = None
    if conversation_id is not None:
        try:
            conversation = selectors.conversation_get(
                conversation_id=conversation_id, user=request.user
            )
        except Conversation.DoesNotExist:
            raise Http404("No such conversation") from None
        title = conversation.title
    context = {
        "conversation_id": conversation_id,
        "conversation_title": title,
        "relay_constants": page_constants(),
    }
    return render(request, "chat.html", context)
