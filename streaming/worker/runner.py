"""Runs one claimed turn: upstream requests (with tool round trips) into the turn's log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, cast

import httpx
from django.conf import settings
from django.utils import timezone

from streaming import selectors
from streaming.eventlog.store import LeaseLost, db
from streaming.eventlog.writer import LogWriter
from streaming.logs import turn_logger
from streaming.models import Turn
from streaming.moderation import holdback
from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import (
    RelayError,
    RelayRequestStarted,
    RelayToolOutput,
)
from streaming.protocol.fold import TurnFold
from streaming.protocol.statuses import FinalStatus
from streaming.services import approvals as approval_services
from streaming.services import moderation
from streaming.services import turns as services
from streaming.tools import catalogue
from streaming.tools.functions import caller_set, tool_call
from streaming.upstream.client import UpstreamConfig, UpstreamError, make_client, stream_response
from streaming.upstream.options import request_options
from streaming.worker import approvals, history

MAX_TOOL_ROUNDS = 8


class TurnRun:
    """One turn in one worker. `cancel()` stops it; the log and the row say why. `client`:
    the worker's upstream client (one pool for all its turns); without one, the turn makes
    its own."""

    def __init__(self, turn: Turn, *, owner: str, client: httpx.AsyncClient | None = None) -> None:
        self.turn = turn
        self.client = client
        self.log = turn_logger(turn.pk, __name__)
        self.writer = LogWriter(
            turn, owner=owner, on_cancel_requested=self.cancel, on_lease_lost=self._lease_lost
        )
        self.fold = TurnFold()
        self.gate = holdback.gate_for(self.writer, client=client)  # None unless mode is hold
        self.task: asyncio.Task[None] | None = None
        self.stop_status = "cancelled"
        self.tools = catalogue.TurnTools()

    def cancel(self, status: str = "cancelled") -> None:
        self.stop_status = status
        if self.task is not None:
            self.task.cancel()

    def _lease_lost(self) -> None:
        self.cancel("lease_lost")

    async def run(self) -> None:
        self.task = asyncio.current_task()
        try:
            if self.turn.cancel_requested:
                if self.turn.output:  # stopped while waiting on approvals: keep what streamed
                    await self._rebuild()
                status, error = "cancelled", "cancelled before it started"
            else:
                status, error = await self._converse()
        except asyncio.CancelledError:
            status = self.stop_status
            error = "stopped by the user" if status == "cancelled" else "the worker shut down"
        except holdback.HeldBack as exc:
            status, error = "failed", str(exc)
        except LeaseLost:
            status = "lease_lost"
        except Exception as exc:
            self.log.exception("the turn failed inside the relay")
            self.writer.add_model(RelayError(kind="internal", message=f"relay error: {exc}"))
            status, error = "failed", "the relay hit an internal error"
        try:
            if status == "lease_lost":
                raise LeaseLost
            await self._finish(status, error)
        except LeaseLost:
            self.writer.close()
            self.log.warning("lease lost: another worker ended the turn")

    async def _converse(self) -> tuple[str, str]:
        config = UpstreamConfig.from_settings()
        try:
            self.tools = await db(_turn_tools, self.turn)
        except (catalogue.MissingSecret, catalogue.plugins.PluginError) as exc:
            self.writer.add_model(RelayError(kind="config", message=str(exc)))
            return "failed", str(exc)
        items, previous_id = await db(history.input_for, self.turn)
        if self.turn.approvals:  # back from waiting: the approvals answer the last response
            items, previous_id = await self._resume(items)
        own = make_client(config) if self.client is None else None
        async with own or contextlib.nullcontext():
            client = own or self.client
            for request in range(1, MAX_TOOL_ROUNDS + 1):
                body = self._body(items, previous_id)
                acc = await self._request(client, config, body, request)
                if acc is None and previous_id:  # the upstream forgot it: send everything
                    items, previous_id = await db(history.input_for, self.turn, chain=False)
                    acc = await self._request(client, config, self._body(items, None), request)
                if acc is None:
                    return "failed", self.fold.error
                outcome = _outcome(acc)
                calls = [i for i in acc.output if i.get("type") == "function_call"]
                if outcome[0] == "completed" and not calls and approvals.pending_ids(acc.output):
                    return "waiting", ""
                if outcome[0] != "completed" or not calls:
                    return outcome
                outputs = await self._run_tools(calls)
                if settings.RELAY_PREVIOUS_RESPONSE_ID and acc.response_id:
                    items, previous_id = outputs, acc.response_id
                else:
                    items = items + acc.output + outputs
        return "failed", f"stopped after {MAX_TOOL_ROUNDS} tool rounds"

    async def _rebuild(self) -> None:
        rows = await db(selectors.turn_log_rows, turn=self.turn)
        self.fold = TurnFold.from_log(rows)
        self.writer.next_seq = len(rows)

    async def _resume(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
        """The turn so far, rebuilt from its log, and the owner's answers to send."""
        await self._rebuild()
        last = self.fold.requests[-1].output if self.fold.requests else []
        answers = approvals.responses(last, self.turn.approvals)
        if self.fold.tool_outputs:
            self.fold.tool_outputs[-1].extend(answers)
        if settings.RELAY_PREVIOUS_RESPONSE_ID and self.fold.response_ids:
            return answers, self.fold.response_ids[-1]
        return items + self.fold.output, None

    def _body(self, items: list[dict[str, Any]], previous_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.turn.model, "input": items}
        if self.tools.request:
            body["tools"] = self.tools.request
        turn = self.turn
        body |= request_options(
            instructions=turn.instructions,
            reasoning_effort=turn.reasoning_effort,
            verbosity=turn.verbosity,
        )
        if previous_id:
            body["previous_response_id"] = previous_id
        return body

    async def _request(
        self, client: httpx.AsyncClient, config: UpstreamConfig, body: dict[str, Any], number: int
    ) -> Accumulator | None:
        """Stream one upstream request into the log. None if it failed before streaming
        because `previous_response_id` was not found (the caller retries without it)."""
        started = RelayRequestStarted(
            request=number,
            model=body["model"],
            previous_response_id=body.get("previous_response_id"),
        )
        self.writer.add_model(started)
        acc = self.fold.start_request()
        writer, gate = self.writer, self.gate

        def on_batch(batch: list[Any]) -> Awaitable[Any] | None:
            if self.turn.first_text_at is None:
                self._note_timings(batch)
            if gate is not None:
                return gate.feed(batch, acc)
            writer.add_read(batch)
            feed = acc.feed
            for _, event in batch:
                feed(event)
            return writer.make_room()

        try:
            await stream_response(client=client, config=config, body=body, on_batch=on_batch)
            if gate is not None:
                await gate.end(acc)
        except UpstreamError as exc:
            if self.gate is not None:
                await self.gate.end(acc)
            if _forgot_previous(exc, body, acc):
                return None
            error = RelayError(
                kind=exc.kind, message=exc.message, status=exc.status, detail=exc.detail or None
            )
            self.writer.add_model(error)
            self.fold.error = exc.message
            return None
        return acc

    def _note_timings(self, batch: list[Any]) -> None:
        """Until the first text: when the first event and the first text arrived (the
        caller looks at `first_text_at` first, so a streaming turn pays one attribute read)."""
        turn = self.turn
        now = timezone.now()
        if turn.first_event_at is None:
            turn.first_event_at = now
            self.writer.turn_updates["first_event_at"] = now
        if any(event.type == "response.output_text.delta" for _, event in batch):
            turn.first_text_at = now
            self.writer.turn_updates["first_text_at"] = now

    async def _run_tools(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run the calls at once, off the loop; log each output and keep it in the turn's
        output, as the item the next request sends, in the order of the calls."""
        caller_set(self.turn.conversation.owner_id)  # this task's context, and the calls'
        functions = self.tools.functions
        results = await asyncio.gather(
            *(tool_call(c.get("name", ""), c.get("arguments", ""), functions) for c in calls)
        )
        outputs = []
        for call, result in zip(calls, results, strict=True):
            call_id, name = call.get("call_id", ""), call.get("name", "")
            self.writer.add_model(RelayToolOutput(call_id=call_id, name=name, output=result))
            outputs.append(self.fold.add_tool_output(call_id, result))
        return outputs

    async def _finish(self, status: str, error: str) -> None:
        if status == "waiting":
            await approval_services.turn_wait(writer=self.writer, turn=self.turn, fold=self.fold)
            return
        # `run` ends every path in a final status (`lease_lost` never gets here);
        # RelayTurnDone validates it again.
        final = cast(FinalStatus, status)
        await services.turn_finish(
            writer=self.writer, turn=self.turn, fold=self.fold, status=final, error=error
        )


def _turn_tools(turn: Turn) -> catalogue.TurnTools:
    rows = selectors.tool_entries_named(names=list(turn.tools or []))
    return catalogue.turn_tools([selectors.tool_entry_as_entry(row) for row in rows])


def _outcome(acc: Accumulator) -> tuple[str, str]:
    if acc.terminal_type == "response.completed":
        return "completed", ""
    if acc.terminal_type == "response.incomplete":
        reason = (acc.incomplete_details or {}).get("reason") or "unknown reason"
        return "incomplete", f"the answer is incomplete: {reason}"
    message = (acc.error or {}).get("message") or "the upstream reported a failure"
    return "failed", message


def _forgot_previous(exc: UpstreamError, body: dict[str, Any], acc: Accumulator) -> bool:
    return bool(
        body.get("previous_response_id")
        and exc.status in (400, 404)
        and not acc.event_counts
        and "previous" in exc.message.lower()
    )


async def turn_run(
    *,
    turn_id: Any,
    owner: str,
    runs: dict[str, TurnRun],
    client: httpx.AsyncClient | None = None,
) -> None:
    """Claim the turn and run it; a turn someone else holds is left alone."""
    turn = await db(services.turn_claim, turn_id=turn_id, owner=owner)
    if turn is None:
        return
    run = TurnRun(turn, owner=owner, client=client)
    runs[str(turn.pk)] = run
    try:
        await run.run()
    finally:
        runs.pop(str(turn.pk), None)
    if turn.status == Turn.Status.WAITING:  # checked once it ends
        return
    await moderation.turn_moderate(turn_id=turn.pk, client=client)
