"""The JSON API (design.md). Thin: parse, check ownership, call one service, answer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from streaming import selectors
from streaming.models import Conversation, Turn, Upload
from streaming.services import approvals as approval_services
from streaming.services import conversations as conversation_services
from streaming.services import turns as turn_services
from streaming.upstream.models import model_check, model_default, models_offered
from streaming.web.options import BadOption, attachment_ids, conversation_options
from streaming.web.serializers import (
    conversation_summary,
    tool_choice_json,
    turn_json,
    turn_socket_path,
)


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
        except (BadInput, BadOption) as exc:
            return error(400, str(exc))
        except (Conversation.DoesNotExist, Turn.DoesNotExist, Upload.DoesNotExist):
            return error(404, "not found")

    return wrapper


# Nesting deeper than this is refused before anything reads the body's values.
MAX_JSON_DEPTH = 32
# NUL and lone surrogates: no database stores them as text (PostgreSQL refuses NUL, UTF-8
# has no surrogates), and no one types them.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except RecursionError:
        raise BadInput(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise BadInput("the body must be JSON") from None
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    _check_values(data, "", 0)
    return data


def _check_values(value: Any, where: str, depth: int) -> None:
    """Every string in the body (keys too) is storable text; nesting is bounded. The error
    names the field, as `messages[0].content`."""
    if depth > MAX_JSON_DEPTH:
        raise BadInput(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise BadInput(
                f"'{where or 'body'}' holds a NUL or an unpaired surrogate character, "
                "which cannot be stored"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if _UNSTORABLE.search(key):
                raise BadInput(f"a field name in '{where or 'body'}' holds a NUL or surrogate")
            _check_values(item, name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(item, f"{where}[{index}]", depth + 1)


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
        data = _body(request)
        title = _text(data, "title", limit=200, required=False) or ""
        options = conversation_options(data, user=request.user)
        conversation = conversation_services.conversation_create(
            owner=request.user, title=title, **options
        )
        return JsonResponse(conversation_summary(conversation), status=201)
    from streaming.web.api_answers import conversation_list_page

    return conversation_list_page(request)


@require_http_methods(["GET", "PATCH", "DELETE"])
@api
def conversation(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    item = _conversation(request, conversation_id)
    if request.method == "PATCH":
        data = _body(request)
        changes = conversation_options(data, user=request.user)
        if "title" in data or not changes:
            changes["title"] = _text(data, "title", limit=200, required=True) or ""
        conversation_services.conversation_update(conversation=item, **changes)
    elif request.method == "DELETE":
        try:
            conversation_services.conversation_delete(conversation=item)
        except conversation_services.ConversationBusy as exc:
            return error(409, str(exc))
        return HttpResponse(status=204)
    return JsonResponse(conversation_with_turns(item))


def conversation_with_turns(item: Conversation) -> dict[str, Any]:
    """The conversation with the turns of its active path, each with its `siblings`."""
    turns = selectors.conversation_turns(conversation=item)
    siblings = selectors.turn_siblings(conversation=item)
    ratings = selectors.turn_ratings(turns=turns)
    listed = [
        {**turn_json(t), "siblings": siblings.get(t.pk, [str(t.pk)]), "feedback": ratings.get(t.pk)}
        for t in turns
    ]
    return {**conversation_summary(item), "turns": listed}


@require_http_methods(["POST"])
@api
def turns(request: HttpRequest, conversation_id: Any) -> JsonResponse:
    item = _conversation(request, conversation_id)
    data = _body(request)
    text = _text(data, "input", limit=settings.CHAT_MAX_INPUT_CHARS, required=True) or ""
    model = _text(data, "model", limit=100, required=False) or item.model or model_default()
    try:
        model_check(model)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    tools = _tool_names(request, data)
    files = selectors.uploads_get(ids=attachment_ids(data), user=request.user)
    return turn_started(
        lambda: turn_services.turn_start(
            conversation=item, text=text, model=model, attachments=files, tools=tools
        )
    )


def turn_started(start: Any) -> JsonResponse:
    """202 with the turn `start()` makes, 409 while one streams, 429 over a limit."""
    try:
        turn = start()
    except turn_services.TurnConflict as exc:
        return error(409, str(exc))
    except turn_services.LimitExceeded as exc:
        response = error(429, str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse({"id": str(turn.id), "ws": turn_socket_path(turn)}, status=202)


def _tool_names(request: HttpRequest, data: dict[str, Any]) -> list[str] | None:
    """The turn's `tools`: absent means the user's defaults; a name the user may not use
    is a 400 naming it (another group's tool looks like one that does not exist)."""
    names = data.get("tools")
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadInput("'tools' must be a list of tool names")
    refused = selectors.tool_names_check(user=request.user, names=names)
    if refused is not None:
        raise BadInput(f"no tool named {refused!r}")
    return list(dict.fromkeys(names))


@require_http_methods(["GET"])
@api
def tools(request: HttpRequest) -> JsonResponse:
    entries = selectors.tool_entries_for(user=request.user)
    return JsonResponse({"tools": [tool_choice_json(entry) for entry in entries]})


@require_http_methods(["GET"])
@api
def turn(request: HttpRequest, turn_id: Any) -> JsonResponse:
    return JsonResponse(turn_json(_turn(request, turn_id)))


@require_http_methods(["POST"])
@api
def turn_cancel(request: HttpRequest, turn_id: Any) -> JsonResponse:
    turn_services.turn_cancel(turn=_turn(request, turn_id))
    return JsonResponse({"status": "cancelling"}, status=202)


@require_http_methods(["POST"])
@api
def turn_approvals(request: HttpRequest, turn_id: Any) -> JsonResponse:
    """The owner's answer to one MCP approval request of a `waiting` turn."""
    turn = _turn(request, turn_id)
    data = _body(request)
    request_id = _text(data, "approval_request_id", limit=200, required=True) or ""
    if not isinstance(data.get("approve"), bool):
        raise BadInput("'approve' must be true or false")
    try:
        approval_services.turn_approve(
            turn=turn, approval_request_id=request_id, approve=data["approve"]
        )
    except approval_services.NotPending as exc:
        return error(409, str(exc))
    return JsonResponse({"status": "accepted"}, status=202)


@require_http_methods(["GET"])
@api
def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": models_offered(), "default": model_default()})
