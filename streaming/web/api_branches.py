"""The API for branches: regenerate or edit a turn, switch the active path. Thin, like
api.py, whose helpers it uses."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_http_methods

from streaming import selectors
from streaming.services import branches as branch_services
from streaming.services import turns as turn_services
from streaming.upstream.models import model_check
from streaming.web.api import (
    BadInput,
    _body,
    _conversation,
    _text,
    _tool_names,
    _turn,
    api,
    conversation_with_turns,
    error,
    turn_started,
)
from streaming.web.options import attachment_ids


def _model(data: dict[str, Any]) -> str | None:
    model = _text(data, "model", limit=100, required=False)
    if model is not None:
        try:
            model_check(model)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    return model


@require_http_methods(["POST"])
@api
def turn_regenerate(request: HttpRequest, turn_id: Any) -> JsonResponse:
    turn = _turn(request, turn_id)
    model = _model(_body(request))
    return turn_started(lambda: branch_services.turn_regenerate(turn=turn, model=model))


@require_http_methods(["POST"])
@api
def turn_edit(request: HttpRequest, turn_id: Any) -> JsonResponse:
    """A new turn with `input` at this turn's place; `attachments`, `model` and `tools`
    are the original's unless given."""
    turn = _turn(request, turn_id)
    data = _body(request)
    text = _text(data, "input", limit=settings.CHAT_MAX_INPUT_CHARS, required=True) or ""
    model = _model(data)
    tools = _tool_names(request, data)
    files = None
    if "attachments" in data:
        files = selectors.uploads_get(ids=attachment_ids(data), user=request.user)
    return turn_started(
        lambda: branch_services.turn_edit(
            turn=turn, text=text, model=model, attachments=files, tools=tools
        )
    )


@require_http_methods(["POST"])
@api
def conversation_active(request: HttpRequest, conversation_id: Any) -> JsonResponse:
    item = _conversation(request, conversation_id)
    turn_id = _text(_body(request), "turn", limit=64, required=True)
    try:
        turn = item.turns.get(pk=uuid.UUID(turn_id or ""))
    except ValueError:
        raise BadInput("'turn' must be a turn id") from None
    try:
        branch_services.conversation_activate(conversation=item, turn=turn)
    except turn_services.TurnConflict as exc:
        return error(409, str(exc))
    return JsonResponse(conversation_with_turns(item))
