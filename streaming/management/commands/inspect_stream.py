"""`inspect_stream FILE`: fold a recorded `.sse` body and print what it amounts to, as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import MalformedEvent, UnknownEvent
from streaming.protocol.finite import read_event
from streaming.protocol.sse import SSEDecoder


class Command(BaseCommand):
    help = "Fold a recorded Responses API event stream (.sse) and print the result as JSON."
    requires_system_checks: list[str] = []  # reads one file; the project's state is irrelevant

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="a recorded server-sent-events body")

    def handle(self, *args: Any, **options: Any) -> None:
        body = read(Path(options["file"]))
        self.stdout.write(json.dumps(summarize(body), indent=2, ensure_ascii=False))


def read(path: Path) -> bytes:
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    return body


def summarize(body: bytes) -> dict[str, Any]:
    """The folded state of a whole stream; CommandError if it holds no readable events."""
    decoder = SSEDecoder()
    acc = Accumulator()
    unknown: set[str] = set()
    for number, frame in enumerate(decoder.feed(body) + decoder.close(), 1):
        if frame.data == "[DONE]":
            break
        try:
            event = read_event(frame.data)
        except MalformedEvent as exc:
            raise CommandError(f"frame {number}: {exc}") from None
        if isinstance(event, UnknownEvent):
            unknown.add(event.type)
        acc.feed(event)
    if not acc.event_counts:
        raise CommandError("no events: not a server-sent-events stream")
    return {
        "status": acc.status,
        "terminal_type": acc.terminal_type,
        "output_text": acc.output_text,
        "output": acc.output,
        "event_counts": dict(acc.event_counts),
        "anomalies": acc.anomalies,
        "unknown_types": sorted(unknown),
    }
