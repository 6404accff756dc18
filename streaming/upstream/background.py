"""Background mode: the upstream generates the response whether or not the relay is still
connected, keeps it (`store`), and lets a later process re-attach to its stream.

`RELAY_BACKGROUND`: `on` asks every request for it, `off` never, `auto` asks and, where the
upstream refuses it (a 400 naming `background`, or no retrieval when a turn is resumed),
streams plainly and remembers that for the base URL for a while, in Django's cache: on Redis
in a team, so one refusal teaches every process (webapp/settings.py). What a turn
ran in is said by its `relay.request.started` event and by the `response.created` it logged;
where it is upstream (the response id, the last `sequence_number`) is read back from the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.cache import cache

from streaming.upstream.client import (
    OnBatch,
    RawEvent,
    UpstreamConfig,
    UpstreamError,
    stream_response,
)

log = logging.getLogger(__name__)

# Asked again after this: the server behind a base URL may be upgraded.
NO_BACKGROUND_SECONDS = 3600.0


def _refused_key(base_url: str) -> str:
    return f"streaming.no-background:{base_url}"


async def background_wanted(base_url: str) -> bool:
    """Whether the next request to `base_url` asks for background mode."""
    mode = settings.RELAY_BACKGROUND
    if mode == "auto":
        return not await cache.aget(_refused_key(base_url))
    return mode == "on"


async def background_refused(*, base_url: str, reason: str) -> bool:
    """The upstream at `base_url` does not do background mode. In `auto`, remember it and
    return True (the caller streams plainly); with `on`, False (the error stands)."""
    if settings.RELAY_BACKGROUND != "auto":
        return False
    if await cache.aadd(_refused_key(base_url), True, NO_BACKGROUND_SECONDS):
        log.warning("%s: no background mode (%s); streaming plainly for now", base_url, reason)
    return True


def refuses_background(exc: UpstreamError, *, received: int) -> bool:
    """A request refused for asking for background mode, before anything streamed."""
    if received or exc.kind != "http":
        return False
    return (exc.status == 400 and "background" in exc.message.lower()) or exc.status == 501


def background_fields() -> dict[str, Any]:
    return {"background": True, "store": True}


def resume_point(rows: Iterable[tuple[str, str]]) -> tuple[str | None, int | None, bool]:
    """From a turn's stored log: the last request's response id, the last upstream
    `sequence_number` logged, and whether that request ran in background mode (its
    `relay.request.started` says so and its `response.created` agrees)."""
    response_id, last_seq, background = None, None, False
    for kind, data in rows:
        if kind == "relay.request.started":
            event = json.loads(data)
            response_id, last_seq = None, None
            background = bool(event.get("background"))
        elif kind.startswith("relay."):
            continue
        else:
            try:
                event = json.loads(data)
            except ValueError:
                continue
            if kind == "response.created":
                response = event.get("response") or {}
                response_id = response.get("id") if isinstance(response.get("id"), str) else None
                background = background and bool(response.get("background", True))
            seq = event.get("sequence_number")
            if isinstance(seq, int):
                last_seq = seq
    return response_id, last_seq, background


async def resume_stream(
    *,
    client: httpx.AsyncClient,
    config: UpstreamConfig,
    response_id: str,
    after: int,
    on_batch: OnBatch,
) -> None:
    """Re-attach to a stored response's stream after `after`; an event the upstream sends
    again (`sequence_number` <= `after`) is dropped, so each is logged once."""
    path = f"/responses/{quote(response_id, safe='')}?stream=true&starting_after={after}"
    seen = after

    def fresh(batch: list[RawEvent]) -> Any:
        nonlocal seen
        kept = []
        for raw, event in batch:
            seq = event.sequence_number
            if seq is not None:
                if seq <= seen:
                    continue
                seen = seq
            kept.append((raw, event))
        return on_batch(kept) if kept else None

    await stream_response(client=client, config=config, body={}, on_batch=fresh, path=path)


async def cancel_upstream(
    *, client: httpx.AsyncClient, config: UpstreamConfig, response_id: str
) -> bool:
    """`POST /responses/{id}/cancel`; False (logged) if the upstream did not take it."""
    url = f"{config.base_url}/responses/{quote(response_id, safe='')}/cancel"
    headers = {"Authorization": f"Bearer {config.api_key}"}
    try:
        response = await client.post(url, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("could not cancel %s upstream: %s", response_id, exc)
        return False
    if response.status_code >= 300:
        log.warning("the upstream refused to cancel %s: %s", response_id, response.status_code)
        return False
    return True
