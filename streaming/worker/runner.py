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
from streaming.moderation.endpoints import ModerationEndpoints
from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import (
    RelayApprovalResponse,
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
from streaming.upstream import background as bg
from streaming.upstream.client import UpstreamConfig, UpstreamError, make_client, stream_response
from streaming.upstream.options import request_options
from streaming.worker import approvals, history, provider_files

MAX_TOOL_ROUNDS = 8


class TurnRun:
    """One turn in one worker. `cancel()` stops it; the log and the row say why. `client`:
    the worker's upstream client (one pool for all its turns); without one, the turn makes
    its own. `endpoints`: what the worker learned of moderations endpoints."""

    def __init__(
        self,
        turn: Turn,
        *,
        owner: str,
        client: httpx.AsyncClient | None = None,
        resume: bool = False,
        endpoints: ModerationEndpoints | None = None,
    ) -> None:
        self.turn = turn
        self.resume = resume  # re-attach to the upstream's stored response (a takeover)
        self.background = False  # the request streaming now runs in background mode
        self.client = client
        self.log = turn_logger(turn.pk, __name__)
        self.writer = LogWriter(
            turn, owner=owner, on_cancel_requested=self.cancel, on_lease_lost=self._lease_lost
        )
        self.fold = TurnFold()
        # None unless mode is hold
        self.gate = holdback.gate_for(self.writer, client=client, endpoints=endpoints)
        self.endpoints = endpoints
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
            elif self.resume:
                status, error = await self._reattach()
            else:
                status, error = await self._converse()
        except asyncio.CancelledError:
            status = self.stop_status
            if status == "handover" and self.background:
                await self._hand_over()
                return
            if status == "cancelled" and self.background:
                await self._cancel_upstream()
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
        if failure := await self._load_tools():
            return "failed", failure
        own = make_client(config) if self.client is None else None
        async with own or contextlib.nullcontext():
            client = own or self.client
            await provider_files.attachments_upload(client=client, config=config, turn=self.turn)
            items, previous_id = await db(history.input_for, self.turn)
            if self.turn.approvals:  # back from waiting: the approvals answer the last response
                items, previous_id = await self._resume(items)
            return await self._rounds(client, config, items, previous_id, first=1)

    async def _load_tools(self) -> str:
        """The turn's tools from the catalogue; the error, logged, if they cannot be had."""
        try:
            self.tools = await db(_turn_tools, self.turn)
        except (catalogue.MissingSecret, catalogue.plugins.PluginError) as exc:
            self.writer.add_model(RelayError(kind="config", message=str(exc)))
            return str(exc)
        return ""

    async def _rounds(
        self,
        client: httpx.AsyncClient,
        config: UpstreamConfig,
        items: list[dict[str, Any]],
        previous_id: str | None,
        *,
        first: int,
    ) -> tuple[str, str]:
        """Upstream requests from number `first`, with their tool round trips, to the end."""
        for request in range(first, MAX_TOOL_ROUNDS + 1):
            body = await self._body(items, previous_id, config)
            acc = await self._request(client, config, body, request)
            if acc is None and previous_id:  # the upstream forgot it: send everything
                earlier, _ = await db(history.input_for, self.turn, chain=False)
                items, previous_id = earlier + self.fold.output, None  # this turn's rounds too
                body = await self._body(items, None, config)
                acc = await self._request(client, config, body, request)
            if acc is None:
                return "failed", self.fold.error
            outcome = _outcome(acc)
            calls = _function_calls(acc)
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

    async def _reattach(self) -> tuple[str, str]:
        """After a takeover: the turn's log so far, then the stored response's events after
        the last `sequence_number` it logged; a tool round it had not answered goes on."""
        rows = await db(selectors.turn_log_rows, turn=self.turn)
        self.fold = TurnFold.from_log(rows)
        self.writer.next_seq = len(rows)
        response_id, last_seq, _ = bg.resume_point(rows)
        acc = self.fold.requests[-1] if self.fold.requests else None
        if acc is None or response_id is None:
            return "interrupted", services.INTERRUPTED
        config = UpstreamConfig.from_settings()
        own = make_client(config) if self.client is None else None
        async with own or contextlib.nullcontext():
            client = own or self.client
            if acc.terminal_type is None:
                try:
                    await self._follow(client, config, acc, response_id, last_seq)
                except UpstreamError as exc:
                    if exc.status in (405, 501):  # no retrieval (a 404 is a forgotten id)
                        await bg.background_refused(base_url=config.base_url, reason=exc.message)
                    return "interrupted", f"{services.INTERRUPTED}; resuming failed: {exc.message}"
            outcome = _outcome(acc)
            if outcome[0] != "completed" or not _function_calls(acc):
                return outcome
            return await self._answer_calls_and_go_on(client, config, acc)

    async def _follow(
        self,
        client: httpx.AsyncClient,
        config: UpstreamConfig,
        acc: Accumulator,
        response_id: str,
        last_seq: int | None,
    ) -> None:
        self.background = True
        await bg.resume_stream(
            client=client,
            config=config,
            response_id=response_id,
            after=-1 if last_seq is None else last_seq,
            on_batch=self._on_batch(acc),
        )
        self.background = False
        self.log.info("resumed from the upstream after sequence_number %s", last_seq)

    async def _answer_calls_and_go_on(
        self, client: httpx.AsyncClient, config: UpstreamConfig, acc: Accumulator
    ) -> tuple[str, str]:
        """The taken-over turn's last response asked for function calls: those whose output
        the dead worker had not logged run again (it may have been inside one; a call it
        answered is not run twice), then the conversation goes on with the next request."""
        if failure := await self._load_tools():
            return "failed", failure
        answered = {item.get("call_id") for item in self.fold.tool_outputs[-1]}
        await self._run_tools([c for c in _function_calls(acc) if c.get("call_id") not in answered])
        if settings.RELAY_PREVIOUS_RESPONSE_ID and acc.response_id:
            items, previous_id = list(self.fold.tool_outputs[-1]), acc.response_id
        else:
            earlier, _ = await db(history.input_for, self.turn, chain=False)
            items, previous_id = earlier + self.fold.output, None
        first = len(self.fold.requests) + 1
        return await self._rounds(client, config, items, previous_id, first=first)

    async def _hand_over(self) -> None:
        """A graceful stop: keep what streamed and leave the turn (and its lease, which
        expires) to the next process, which re-attaches."""
        with contextlib.suppress(LeaseLost):
            await self.writer.flush()
        self.writer.close()
        self.log.warning("handed over: the next worker resumes it from the upstream")

    async def _cancel_upstream(self) -> None:
        acc = self.fold.requests[-1] if self.fold.requests else None
        if acc is None or acc.response_id is None or acc.terminal_type is not None:
            return
        config = UpstreamConfig.from_settings()
        own = make_client(config) if self.client is None else None
        async with own or contextlib.nullcontext():
            await bg.cancel_upstream(
                client=own or self.client, config=config, response_id=acc.response_id
            )

    def _on_batch(self, acc: Accumulator) -> Any:
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

        return on_batch

    async def _rebuild(self) -> None:
        rows = await db(selectors.turn_log_rows, turn=self.turn)
        self.fold = TurnFold.from_log(rows)
        self.writer.next_seq = len(rows)

    async def _resume(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
        """The turn so far, rebuilt from its log, and the owner's answers to send."""
        await self._rebuild()
        last = self.fold.requests[-1].output if self.fold.requests else []
        answers = approvals.responses(last, self.turn.approvals)
        for answer in answers:  # logged, so every reader of the log sees the decision
            request_id, approve = answer["approval_request_id"], answer["approve"]
            self.writer.add_model(
                RelayApprovalResponse(approval_request_id=request_id, approve=approve)
            )
            self.fold.add_approval_response(request_id, approve)
        if settings.RELAY_PREVIOUS_RESPONSE_ID and self.fold.response_ids:
            return answers, self.fold.response_ids[-1]
        return items + self.fold.output, None

    async def _body(
        self, items: list[dict[str, Any]], previous_id: str | None, config: UpstreamConfig
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.turn.model, "input": items}
        if await bg.background_wanted(config.base_url):
            body |= bg.background_fields()
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
        acc = self.fold.start_request()
        logged = self._on_batch(acc)
        told = False

        def tell() -> None:  # the mode is known once the upstream accepted the request
            nonlocal told
            if not told:
                told = True
                self.background = bool(body.get("background"))
                started = RelayRequestStarted(
                    request=number,
                    model=body["model"],
                    previous_response_id=body.get("previous_response_id"),
                    background=self.background,
                )
                self.writer.add_model(started)

        def on_batch(batch: list[Any]) -> Awaitable[Any] | None:
            tell()
            return logged(batch)

        try:
            try:
                await stream_response(client=client, config=config, body=body, on_batch=on_batch)
            except UpstreamError as exc:
                if not body.get("background") or not bg.refuses_background(
                    exc, received=sum(acc.event_counts.values())
                ):
                    raise
                if not await bg.background_refused(base_url=config.base_url, reason=exc.message):
                    raise
                body = {k: v for k, v in body.items() if k not in bg.background_fields()}
                await stream_response(client=client, config=config, body=body, on_batch=on_batch)
            tell()
            self.background = False
            if self.gate is not None:
                await self.gate.end(acc)
        except UpstreamError as exc:
            tell()
            self.background = False
            if self.gate is not None:
                await self.gate.end(acc)
            if _forgot_previous(exc, body, acc):
                return None
            # The detail goes to the row, not the log: the owner's socket replays the log.
            self.writer.add_model(RelayError(kind=exc.kind, message=exc.message, status=exc.status))
            if exc.detail:
                self.writer.turn_updates["error_detail"] = exc.detail
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


def _function_calls(acc: Accumulator) -> list[dict[str, Any]]:
    return [item for item in acc.output if item.get("type") == "function_call"]


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
    endpoints: ModerationEndpoints | None = None,
) -> None:
    """Claim the turn and run it; a turn someone else holds is left alone."""
    turn = await db(services.turn_claim, turn_id=turn_id, owner=owner)
    if turn is None:
        return
    await _run(TurnRun(turn, owner=owner, client=client, endpoints=endpoints), runs=runs)


async def turn_resume(
    *,
    turn: Turn,
    owner: str,
    runs: dict[str, TurnRun],
    client: httpx.AsyncClient | None = None,
    endpoints: ModerationEndpoints | None = None,
) -> None:
    """Run a turn taken over from a dead worker (`owner` holds it): re-attach upstream."""
    run = TurnRun(turn, owner=owner, client=client, resume=True, endpoints=endpoints)
    await _run(run, runs=runs)


async def _run(run: TurnRun, *, runs: dict[str, TurnRun]) -> None:
    turn = run.turn
    runs[str(turn.pk)] = run
    try:
        await run.run()
    finally:
        runs.pop(str(turn.pk), None)
    if turn.status in (Turn.Status.WAITING, Turn.Status.STREAMING):  # waiting, or handed over
        return
    await moderation.turn_moderate(turn_id=turn.pk, client=run.client, endpoints=run.endpoints)
