"""`GET /api/turns/<id>/files/<container_id>/<file_id>`: a file a hosted tool made (code
interpreter's container files), fetched by the server with the key and served to the turn's
owner only; another user's turn, or a file the turn does not cite, is a 404."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

from streaming import selectors
from streaming.upstream.client import UpstreamConfig
from streaming.upstream.containers import ContainerFileError, container_file_fetch
from streaming.web.api import api, error

ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
# Shown in the browser when opened; anything else is a download.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@require_http_methods(["GET"])
@api
def container_file(request: HttpRequest, turn_id: Any, container_id: str, file_id: str) -> Any:
    turn = selectors.turn_get(turn_id=turn_id, user=request.user)
    if not (ID.fullmatch(container_id) and ID.fullmatch(file_id)):
        return error(404, "not found")
    name = selectors.turn_container_file(turn=turn, container_id=container_id, file_id=file_id)
    if name is None:
        return error(404, "not found")
    try:
        found = container_file_fetch(
            config=UpstreamConfig.from_settings(),
            container_id=container_id,
            file_id=file_id,
            max_bytes=settings.CONTAINER_FILE_MAX_BYTES,
        )
    except ContainerFileError as exc:
        return error(exc.status, exc.message)
    response = HttpResponse(found.content, content_type=found.content_type)
    inline = found.content_type in INLINE_TYPES
    response["Content-Disposition"] = content_disposition_header(not inline, name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
