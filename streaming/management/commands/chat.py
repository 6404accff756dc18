"""`chat "prompt" [--model M]`: stream one answer from the configured upstream to the terminal.

A quick way to see what an upstream really sends: text as it arrives, one line per tool
activity, then the status and token usage. No conversation is stored.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, OutputWrapper

from streaming.protocol import events as ev
from streaming.protocol.accumulator import Accumulator
from streaming.upstream.client import (
    RawEvent,
    UpstreamConfig,
    UpstreamError,
    make_client,
    stream_response,
)


class Command(BaseCommand):
    help = "Send one prompt to the configured upstream and print the streamed answer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("prompt")
        parser.add_argument("--model", help="the model to ask (default: DEFAULT_MODEL)")

    def handle(self, *args: Any, **options: Any) -> None:
        body = {"model": options["model"] or settings.DEFAULT_MODEL, "input": options["prompt"]}
        out = Printer(self.stdout)
        try:
            acc = asyncio.run(converse(body, out))
        except UpstreamError as exc:
            out.end_line()
            self.stderr.write(f"error: {exc.message}")
            sys.exit(1)
        out.end_line()
        self.stdout.write(status_line(acc))
        if acc.status == "failed":
            message = (acc.error or {}).get("message") or "the upstream reported a failure"
            self.stderr.write(f"error: {message}")
            sys.exit(1)


async def converse(body: dict[str, Any], out: Printer) -> Accumulator:
    config = UpstreamConfig.from_settings()
    acc = Accumulator()

    def on_batch(batch: list[RawEvent]) -> None:
        for _, event in batch:
            acc.feed(event)
            if event.type == "response.output_text.delta":
                out.text(event.delta)  # type: ignore[attr-defined]
            elif (line := activity(event)) is not None:
                out.line(line)

    async with make_client(config) as client:
        await stream_response(client=client, config=config, body=body, on_batch=on_batch)
    return acc


class Printer:
    """Text as it comes, flushed; activity lines always start on a line of their own."""

    def __init__(self, stdout: OutputWrapper) -> None:
        self.stdout = stdout
        self.mid_line = False

    def text(self, text: str) -> None:
        if text:
            self.stdout.write(text, ending="")
            self.stdout.flush()
            self.mid_line = not text.endswith("\n")

    def line(self, line: str) -> None:
        self.end_line()
        self.stdout.write(line)
        self.stdout.flush()

    def end_line(self) -> None:
        if self.mid_line:
            self.stdout.write("")
            self.mid_line = False


def activity(event: ev.StreamEvent) -> str | None:
    """One line about a tool call or reasoning step, or None for anything else."""
    if isinstance(event, ev.ToolCallStatus):
        tool, phase = event.type.removeprefix("response.").rsplit(".", 1)
        return f"[{tool} {phase}]"
    if isinstance(event, ev.OutputItemDone):
        item = event.item
        kind = item.get("type")
        if kind in ("function_call", "mcp_call"):
            return f"[{kind} {item.get('name', '')} {item.get('arguments', '')}]"
        if kind == "custom_tool_call":
            return f"[{kind} {item.get('name', '')} {one_line(item.get('input', ''))}]"
    if isinstance(event, ev.ReasoningSummaryTextDone):
        return f"[reasoning] {one_line(event.text)}"
    if isinstance(event, ev.RefusalDone):
        return f"[refusal] {one_line(event.refusal)}"
    return None


def one_line(text: str) -> str:
    return " ".join(text.split())


def status_line(acc: Accumulator) -> str:
    """`status: completed · 12 in / 34 out tokens`."""
    status = acc.status or "unknown"
    reason = (acc.incomplete_details or {}).get("reason")
    line = f"status: {status} ({reason})" if reason else f"status: {status}"
    if acc.usage:
        usage = acc.usage
        line += f" · {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
    return line
