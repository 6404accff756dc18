"""Turns out of the database as JSONL, CSV or one turn's log as JSON, streamed.

Everything here is an async generator over pages of rows, each page read by `db()` off the
event loop: under ASGI, Django would read a synchronous iterator whole into memory before
sending a byte. Stored event JSON is written out as stored, never parsed again.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from typing import Any

from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from streaming.eventlog.store import db
from streaming.models import Turn, TurnEvent
from streaming.protocol.finite import strict

TURN_PAGE = 200
EVENT_PAGE = 2000
CSV_COLUMNS = [
    "id",
    "conversation",
    "user",
    "model",
    "status",
    "created_at",
    "duration_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "tool_calls",
    "flagged",
    "moderation_status",
    "categories",
    "error",
    "input",
]


def tool_calls(turn: Turn) -> int:
    """Output items that call a tool: function calls and hosted tools (`*_call`)."""
    return sum(1 for item in turn.output or [] if str(item.get("type", "")).endswith("_call"))


def duration_ms(turn: Turn) -> int | None:
    if turn.started_at is None or turn.finished_at is None:
        return None
    return round((turn.finished_at - turn.started_at).total_seconds() * 1000)


def tokens(turn: Turn, key: str) -> int | None:
    value = (turn.usage or {}).get(key)
    return value if isinstance(value, int) else None


def turn_record(turn: Turn) -> dict[str, Any]:
    """One turn as an export line (without its events)."""
    return {
        "id": str(turn.pk),
        "conversation": str(turn.conversation_id),
        "user": turn.conversation.owner.get_username(),
        "model": turn.model,
        "status": turn.status,
        "error": turn.error or None,
        "error_detail": turn.error_detail or None,
        "created_at": turn.created_at.isoformat(),
        "input": turn.input,
        "output": turn.output,
        "output_text": turn.output_text,
        "usage": turn.usage,
        "timings": turn.timings,
        "tool_calls": tool_calls(turn),
        "flagged": turn.flagged,
        "moderation_status": turn.moderation_status or None,
        "moderation": turn.moderation or None,
    }


async def turn_pages(queryset: QuerySet[Turn]) -> AsyncIterator[list[Turn]]:
    """The queryset's turns oldest first, a page at a time (keyset, so pages never shift)."""
    ordered = queryset.select_related("conversation__owner").order_by("created_at", "pk")
    after: Turn | None = None
    while True:
        page = ordered
        if after is not None:
            page = page.filter(
                Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, pk__gt=after.pk)
            )
        turns = await db(list, page[:TURN_PAGE])
        if not turns:
            return
        yield turns
        after = turns[-1]


async def event_entries(turn_id: Any) -> AsyncIterator[str]:
    """The turn's log as JSON objects `{seq, type, received_ms, size, event}`, in seq order."""
    after = -1
    while True:
        rows = await db(
            list,
            TurnEvent.objects.filter(turn_id=turn_id, seq__gt=after)
            .order_by("seq")
            .values_list("seq", "type", "received_ms", "data")[:EVENT_PAGE],
        )
        for seq, kind, ms, data in rows:
            size = len(data.encode())
            # A raw newline can only be whitespace between JSON tokens; JSONL needs one line.
            event = strict(data).replace("\r", " ").replace("\n", " ")
            yield (
                f'{{"seq":{seq},"type":{json.dumps(kind)},"received_ms":{ms},'
                f'"size":{size},"event":{event}}}'
            )
        if len(rows) < EVENT_PAGE:
            return
        after = rows[-1][0]


async def jsonl(queryset: QuerySet[Turn], *, events: bool) -> AsyncIterator[str]:
    async for turns in turn_pages(queryset):
        for turn in turns:
            line = json.dumps(turn_record(turn), ensure_ascii=False)
            if not events:
                yield line + "\n"
                continue
            yield line[:-1] + ',"events":['
            separator = ""
            async for entry in event_entries(turn.pk):
                yield separator + entry
                separator = ","
            yield "]}\n"


async def log_json(turn: Turn) -> AsyncIterator[str]:
    """One turn for the review pages: `{"turn": {...}, "events": [...]}`."""
    record = await db(turn_record, turn)
    head = {k: v for k, v in record.items() if k != "output"}
    yield '{"turn":' + json.dumps(head) + ',"events":['
    separator = ""
    async for entry in event_entries(turn.pk):
        yield separator + entry
        separator = ","
    yield "]}"


class _Line:
    """csv.writer writes into this and gets the row back as a string."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    # A leading = + - @ makes spreadsheets run the cell as a formula; user text must not.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_row(turn: Turn) -> list[Any]:
    return [
        _cell(v)
        for v in (
            str(turn.pk),
            str(turn.conversation_id),
            turn.conversation.owner.get_username(),
            turn.model,
            turn.status,
            turn.created_at.isoformat(),
            duration_ms(turn),
            turn.timings["ttft_ms"],
            tokens(turn, "input_tokens"),
            tokens(turn, "output_tokens"),
            tool_calls(turn),
            turn.flagged,
            turn.moderation_status,
            " ".join((turn.moderation or {}).get("categories") or []),
            turn.error,
            turn.input[:500],
        )
    ]


async def csv_summary(queryset: QuerySet[Turn]) -> AsyncIterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    async for turns in turn_pages(queryset):
        yield "".join(writer.writerow(csv_row(turn)) for turn in turns)


def download(content: AsyncIterator[str], *, kind: str, suffix: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(content, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="turns-{stamp}.{suffix}"'
    return response


def jsonl_response(queryset: QuerySet[Turn], *, events: bool) -> StreamingHttpResponse:
    return download(
        jsonl(queryset, events=events), kind="application/x-ndjson; charset=utf-8", suffix="jsonl"
    )


def csv_response(queryset: QuerySet[Turn]) -> StreamingHttpResponse:
    return download(csv_summary(queryset), kind="text/csv; charset=utf-8", suffix="csv")
