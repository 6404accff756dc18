"""The API for working with answers: search, the sidebar's pages, feedback, export, share.
Thin, like api.py, whose helpers it uses."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_http_methods

from streaming import selectors_search
from streaming.services import answers as answer_services
from streaming.web.api import BadInput, _body, _text, _turn, api, error
from streaming.web.serializers import conversation_summary

PAGE_DEFAULT, PAGE_MAX = 50, 200
QUERY_MAX = 500


def conversation_list_page(request: HttpRequest) -> JsonResponse:
    """GET /api/conversations?limit=N&cursor=…: {"results", "next"}."""
    try:
        limit = int(request.GET.get("limit") or PAGE_DEFAULT)
    except ValueError:
        raise BadInput("'limit' must be a whole number") from None
    if not 1 <= limit <= PAGE_MAX:
        raise BadInput(f"'limit' must be between 1 and {PAGE_MAX}")
    try:
        rows, following = selectors_search.conversation_page(
            user=request.user, limit=limit, cursor=request.GET.get("cursor") or None
        )
    except selectors_search.BadCursor as exc:
        raise BadInput(str(exc)) from None
    return JsonResponse({"results": [conversation_summary(c) for c in rows], "next": following})


@require_http_methods(["GET"])
@api
def search(request: HttpRequest) -> JsonResponse:
    query = request.GET.get("q", "")
    if len(query) > QUERY_MAX:
        raise BadInput(f"'q' is too long (the limit is {QUERY_MAX} characters)")
    if not query.strip():
        return JsonResponse({"results": []})
    return JsonResponse({"results": selectors_search.turn_search(user=request.user, query=query)})


@require_http_methods(["POST"])
@api
def feedback(request: HttpRequest, turn_id: Any) -> JsonResponse:
    turn = _turn(request, turn_id)
    data = _body(request)
    rating = data.get("rating")
    if rating not in ("up", "down"):
        raise BadInput('\'rating\' must be "up" or "down"')
    comment = _text(data, "comment", limit=4000, required=False) or ""
    try:
        item = answer_services.feedback_set(turn=turn, rating=rating, comment=comment)
    except answer_services.NotFinished as exc:
        return error(409, str(exc))
    return JsonResponse({"turn": str(turn.pk), "rating": item.rating, "comment": item.comment})
