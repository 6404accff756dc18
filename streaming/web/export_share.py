"""A user's export of a conversation (markdown or JSON), and read-only shares for the
instance's logged-in users. A share that was revoked, or never was, is a 404."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from streaming import selectors
from streaming.models import Share
from streaming.protocol.statuses import page_constants
from streaming.services import answers as answer_services
from streaming.web.api import BadInput, _conversation, api
from streaming.web.serializers import conversation_summary, turn_json


def _markdown(summary: dict[str, Any], turns: list[Any]) -> str:
    lines = [f"# {summary['title'] or 'Conversation'}", ""]
    for turn in turns:
        lines += ["## You", "", turn.input, "", "## Assistant", "", turn.output_text or "", ""]
    return "\n".join(lines)


@require_http_methods(["GET"])
@api
def export(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    item = _conversation(request, conversation_id)
    kind = request.GET.get("format", "markdown")
    if kind not in ("markdown", "json"):
        raise BadInput("'format' must be markdown or json")
    turns = selectors.conversation_turns(conversation=item)
    summary = conversation_summary(item)
    if kind == "json":
        records = [{k: v for k, v in turn_json(t).items() if k != "ws"} for t in turns]
        body, content_type, suffix = (
            json.dumps({**summary, "turns": records}, ensure_ascii=False, indent=2),
            "application/json; charset=utf-8",
            "json",
        )
    else:
        body, content_type, suffix = (
            _markdown(summary, turns),
            "text/markdown; charset=utf-8",
            "md",
        )
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="conversation-{item.pk}.{suffix}"'
    return response


@require_http_methods(["POST", "DELETE"])
@api
def share(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    item = _conversation(request, conversation_id)
    if request.method == "DELETE":
        answer_services.share_revoke(conversation=item)
        return HttpResponse(status=204)
    made = answer_services.share_create(conversation=item)
    return JsonResponse({"url": request.build_absolute_uri(f"/shared/{made.token}/")})


@login_required
def shared_page(request: HttpRequest, token: str) -> HttpResponse:
    """The conversation as it is now, read-only, for any logged-in user of the instance."""
    found = Share.objects.select_related("conversation").filter(token=token).first()
    if found is None:
        raise Http404("No such share")
    turns = selectors.conversation_turns(conversation=found.conversation)
    context = {
        "conversation": found.conversation,
        "turns": [turn_json(t) for t in turns],
        "relay_constants": page_constants(),
    }
    return render(request, "shared.html", context)
