"""The JSON API (design.md). Thin: parse, check ownership, call one service, answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from streaming import selectors
from streaming.models import Conversation, Turn
from streaming.services import conversations as conversation_services
from streaming.services import turns as turn_services
from streaming.web.serializers import conversation_summary, turn_json, turn_socket_path


class BadInput(Exception):
    pass


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def api(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """JSON errors instead of login redirects and HTML error pages."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if not request.user.is_authenticated:
            return error(401, "log in first")
        try:
            return view(request, *args, **kwargs)
        except BadInput as exc:
            return error(400, str(exc))
        except (Conversation.DoesNotExist, Turn.DoesNotExist):
            return error(404, "not found")

    return wrapper


def _body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except ValueError:
        raise BadInput("the body must be JSON") from None
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str, *, limit: int, required: bool) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadInput(f"'{key}' must be a string")
    if not value.strip():
        raise BadInput(f"'{key}' must not be empty")
    if len(value) > limit:
        raise BadInput(f"'{key}' is too long ({len(value)} characters; the limit is {limit})")
    return value


def _conversation(request: HttpRequest, conversation_id: Any) -> Conversation:
    return selectors.conversation_get(conversation_id=conversation_id, user=request.user)


def _turn(request: HttpRequest, turn_id: Any) -> Turn:
    return selectors.turn_get(turn_id=turn_id, user=request.user)


@require_http_methods(["GET", "POST"])
@api
def conversations(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        title = _text(_body(request), "title", limit=200, required=False) or ""
        conversation = conversation_services.conversation_create(owner=request.user, title=title)
        return JsonResponse(conversation_summary(conversation), status=201)
    from streaming.web.api_answers import conversation_list_page

    return conversation_list_page(request)


@require_http_methods(["GET", "PATCH", "DELETE"])
@api
def conversation(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    item = _conversation(request, conversation_id)
    if request.method == "PATCH":
        title = _text(_body(request), "title", limit=200, required=True) or ""
        conversation_services.conversation_rename(conversation=item, title=title)
    elif request.method == "DELETE":
        try:
            conversation_services.conversation_delete(conversation=item)
        except conversation_services.ConversationBusy as exc:
            return error(409, str(exc))
        return HttpResponse(status=204)
    turns = selectors.conversation_turns(conversation=item)
    return JsonResponse({**conversation_summary(item), "turns": [turn_json(t) for t in turns]})


@require_http_methods(["POST"])
@api
def turns(request: HttpRequest, conversation_id: Any) -> JsonResponse:
    item = _conversation(request, conversation_id)
    data = _body(request)
    text = _text(data, "input", limit=settings.CHAT_MAX_INPUT_CHARS, required=True) or ""
    model = _text(data, "model", limit=100, required=False) or settings.DEFAULT_MODEL
    try:
        turn = turn_services.turn_start(conversation=item, text=text, model=model)
    except turn_services.TurnConflict as exc:
        return error(409, str(exc))
    except turn_services.LimitExceeded as exc:
        response = error(429, str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse({"id": str(turn.id), "ws": turn_socket_path(turn)}, status=202)


@require_http_methods(["GET"])
@api
def turn(request: HttpRequest, turn_id: Any) -> JsonResponse:
    return JsonResponse(turn_json(_turn(request, turn_id)))


@require_http_methods(["POST"])
@api
def turn_cancel(request: HttpRequest, turn_id: Any) -> JsonResponse:
    turn_services.turn_cancel(turn=_turn(request, turn_id))
    return JsonResponse({"status": "cancelling"}, status=202)


@require_http_methods(["GET"])
@api
def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": _offered_models(), "default": settings.DEFAULT_MODEL})


def _offered_models() -> list[str]:
    """A real upstream: the configured default (any model name may still be posted).
    The built-in simulator: one model per scenario."""
    if settings.OPENAI_BASE_URL or settings.OPENAI_API_KEY:
        return [settings.DEFAULT_MODEL]
    from streaming.simulator.scenarios import SCENARIOS

    return [f"sim-{name}" for name in SCENARIOS]
