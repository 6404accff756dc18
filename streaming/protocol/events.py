"""Every Responses API stream event as a pydantic model, and the relay's own events.

The upstream JSON is stored and forwarded exactly as received; these models exist to
understand it. Models allow unknown fields (providers add e.g. `obfuscation`), and an event
whose `type` we do not know, or whose shape we cannot read, becomes an `UnknownEvent` that
keeps the raw object: it is never dropped and never crashes the stream.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from streaming.protocol.statuses import FinalStatus


class MalformedEvent(ValueError):
    """The data of a frame is not a JSON object with a string `type`."""


class StreamEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    # Required by the current API; absent in 2025-H1 captures and some compatible servers.
    sequence_number: int | None = None


# --- response lifecycle -------------------------------------------------------------------


class ResponseObject(BaseModel):
    """The `response` carried by lifecycle events. Output items stay plain dicts."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    status: str | None = None
    model: str | None = None
    output: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None


class _Lifecycle(StreamEvent):
    response: ResponseObject


class ResponseCreated(_Lifecycle):
    type: Literal["response.created"]


class ResponseInProgress(_Lifecycle):
    type: Literal["response.in_progress"]


class ResponseQueued(_Lifecycle):
    type: Literal["response.queued"]


class ResponseCompleted(_Lifecycle):
    type: Literal["response.completed"]


class ResponseIncomplete(_Lifecycle):
    type: Literal["response.incomplete"]


class ResponseFailed(_Lifecycle):
    type: Literal["response.failed"]


class ErrorEvent(StreamEvent):
    type: Literal["error"]
    message: str | None = None
    code: str | None = None
    param: str | None = None
    # The API reference has the flat fields above; the API sends them nested under `error`.
    error: dict[str, Any] | None = None


# --- output items and content parts -------------------------------------------------------


class _Item(StreamEvent):
    output_index: int
    item: dict[str, Any]


class OutputItemAdded(_Item):
    type: Literal["response.output_item.added"]


class OutputItemDone(_Item):
    type: Literal["response.output_item.done"]


class _OfItem(StreamEvent):
    """An event about the item at `output_index`."""

    output_index: int
    item_id: str | None = None


class _Part(_OfItem):
    content_index: int
    part: dict[str, Any]


class ContentPartAdded(_Part):
    type: Literal["response.content_part.added"]


class ContentPartDone(_Part):
    type: Literal["response.content_part.done"]


# --- text, annotations, refusal ----------------------------------------------------------


class _Content(_OfItem):
    content_index: int


class OutputTextDelta(_Content):
    type: Literal["response.output_text.delta"]
    delta: str


class OutputTextDone(_Content):
    type: Literal["response.output_text.done"]
    text: str


class OutputTextAnnotationAdded(_Content):
    type: Literal["response.output_text.annotation.added"]
    annotation_index: int
    annotation: dict[str, Any] | None = None


class RefusalDelta(_Content):
    type: Literal["response.refusal.delta"]
    delta: str


class RefusalDone(_Content):
    type: Literal["response.refusal.done"]
    refusal: str


# --- streamed arguments, inputs and code -------------------------------------------------


class FunctionCallArgumentsDelta(_OfItem):
    type: Literal["response.function_call_arguments.delta"]
    delta: str


class FunctionCallArgumentsDone(_OfItem):
    type: Literal["response.function_call_arguments.done"]
    arguments: str


class CustomToolCallInputDelta(_OfItem):
    type: Literal["response.custom_tool_call_input.delta"]
    delta: str


class CustomToolCallInputDone(_OfItem):
    type: Literal["response.custom_tool_call_input.done"]
    input: str


class McpCallArgumentsDelta(_OfItem):
    type: Literal["response.mcp_call_arguments.delta"]
    delta: str


class McpCallArgumentsDone(_OfItem):
    type: Literal["response.mcp_call_arguments.done"]
    arguments: str


class CodeInterpreterCodeDelta(_OfItem):
    type: Literal["response.code_interpreter_call_code.delta"]
    delta: str


class CodeInterpreterCodeDone(_OfItem):
    type: Literal["response.code_interpreter_call_code.done"]
    code: str


class ApplyPatchDiffDelta(_OfItem):
    """Not in the SDK union yet, but sent by the API for the apply_patch tool."""

    type: Literal["response.apply_patch_call_operation_diff.delta"]
    delta: str


class ApplyPatchDiffDone(_OfItem):
    type: Literal["response.apply_patch_call_operation_diff.done"]
    diff: str | None = None


# --- tool call progress (status only) ----------------------------------------------------


class ToolCallStatus(_OfItem):
    """`response.<tool>.<phase>`: a tool call item moved to a new status."""

    type: Literal[
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        "response.image_generation_call.completed",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.mcp_list_tools.failed",
        "response.compaction.compacting",
    ]


class ImageGenerationPartialImage(_OfItem):
    type: Literal["response.image_generation_call.partial_image"]
    partial_image_index: int
    partial_image_b64: str


# --- reasoning ---------------------------------------------------------------------------


class _Summary(_OfItem):
    summary_index: int


class ReasoningSummaryPartAdded(_Summary):
    type: Literal["response.reasoning_summary_part.added"]
    part: dict[str, Any]


class ReasoningSummaryPartDone(_Summary):
    type: Literal["response.reasoning_summary_part.done"]
    part: dict[str, Any]


class ReasoningSummaryTextDelta(_Summary):
    type: Literal["response.reasoning_summary_text.delta"]
    delta: str


class ReasoningSummaryTextDone(_Summary):
    type: Literal["response.reasoning_summary_text.done"]
    text: str


class ReasoningTextDelta(_Content):
    type: Literal["response.reasoning_text.delta"]
    delta: str


class ReasoningTextDone(_Content):
    type: Literal["response.reasoning_text.done"]
    text: str


# --- shell ------------------------------------------------------------------------------


class _ShellCommand(StreamEvent):
    output_index: int
    command_index: int


class ShellCallCommandAdded(_ShellCommand):
    type: Literal["response.shell_call_command.added"]
    command: str


class ShellCallCommandDelta(_ShellCommand):
    type: Literal["response.shell_call_command.delta"]
    delta: str


class ShellCallCommandDone(_ShellCommand):
    type: Literal["response.shell_call_command.done"]
    command: str


class ShellCallOutputContentDelta(_ShellCommand):
    type: Literal["response.shell_call_output_content.delta"]
    item_id: str | None = None
    delta: dict[str, Any]


class ShellCallOutputContentDone(_ShellCommand):
    type: Literal["response.shell_call_output_content.done"]
    item_id: str | None = None
    output: list[dict[str, Any]]


# --- audio (no output item) --------------------------------------------------------------


class AudioDelta(StreamEvent):
    type: Literal["response.audio.delta", "response.audio.transcript.delta"]
    delta: str


class AudioDone(StreamEvent):
    type: Literal["response.audio.done", "response.audio.transcript.done"]


KnownEvent = Annotated[
    ResponseCreated
    | ResponseInProgress
    | ResponseQueued
    | ResponseCompleted
    | ResponseIncomplete
    | ResponseFailed
    | ErrorEvent
    | OutputItemAdded
    | OutputItemDone
    | ContentPartAdded
    | ContentPartDone
    | OutputTextDelta
    | OutputTextDone
    | OutputTextAnnotationAdded
    | RefusalDelta
    | RefusalDone
    | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone
    | CustomToolCallInputDelta
    | CustomToolCallInputDone
    | McpCallArgumentsDelta
    | McpCallArgumentsDone
    | CodeInterpreterCodeDelta
    | CodeInterpreterCodeDone
    | ApplyPatchDiffDelta
    | ApplyPatchDiffDone
    | ToolCallStatus
    | ImageGenerationPartialImage
    | ReasoningSummaryPartAdded
    | ReasoningSummaryPartDone
    | ReasoningSummaryTextDelta
    | ReasoningSummaryTextDone
    | ReasoningTextDelta
    | ReasoningTextDone
    | ShellCallCommandAdded
    | ShellCallCommandDelta
    | ShellCallCommandDone
    | ShellCallOutputContentDelta
    | ShellCallOutputContentDone
    | AudioDelta
    | AudioDone,
    Field(discriminator="type"),
]


class UnknownEvent(StreamEvent):
    """An event we cannot type: an unknown `type`, or a known one in a shape we cannot read."""

    raw: dict[str, Any]
    reason: str


_known: TypeAdapter[StreamEvent] = TypeAdapter(KnownEvent)
# The compiled validator itself: `TypeAdapter.validate_json`'s Python wrapper was an eighth
# of the cost of validating a small event.
_validate_json = _known.validator.validate_json


def _known_types() -> frozenset[str]:
    names: set[str] = set()
    for model in KnownEvent.__origin__.__args__:  # type: ignore[attr-defined]
        names.update(model.model_fields["type"].annotation.__args__)
    return frozenset(names)


KNOWN_TYPES = _known_types()


def parse_event(data: str | bytes) -> StreamEvent:
    """Validate one frame's JSON data into a typed event, or an `UnknownEvent`.

    Raises `MalformedEvent` when the data is not a JSON object with a string `type`.
    """
    try:
        return _validate_json(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        return _unknown(data, exc)


def _unknown(data: str | bytes, exc: ValidationError) -> UnknownEvent:
    try:
        raw = json.loads(data)
    except ValueError as err:
        raise MalformedEvent(f"event data is not JSON: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise MalformedEvent("event data is not a JSON object with a string 'type'")
    first = exc.errors()[0]
    if first["type"] == "union_tag_invalid":
        reason = "unknown type"
    else:
        where = ".".join(str(p) for p in first["loc"][1:])
        reason = f"unreadable {raw['type']}: {where}: {first['msg']}"
    seq = raw.get("sequence_number")
    return UnknownEvent(
        type=raw["type"],
        sequence_number=seq if isinstance(seq, int) else None,
        raw=raw,
        reason=reason,
    )


# --- the relay's own events -------------------------------------------------------------


class RelayEvent(BaseModel):
    """Events the relay adds to a turn's log; their types start with `relay.`."""

    model_config = ConfigDict(extra="forbid")


class RelayRequestStarted(RelayEvent):
    type: Literal["relay.request.started"] = "relay.request.started"
    request: int
    model: str
    previous_response_id: str | None = None
    # Asked in background mode (the upstream keeps generating, and the turn can re-attach).
    background: bool = False


class RelayToolOutput(RelayEvent):
    type: Literal["relay.tool.output"] = "relay.tool.output"
    call_id: str
    name: str
    output: str


class RelayError(RelayEvent):
    type: Literal["relay.error"] = "relay.error"
    kind: str
    message: str
    status: int | None = None
    # Only in logs written before the full text moved to `Turn.error_detail` (staff only).
    detail: str | None = None


class RelayTurnWaiting(RelayEvent):
    """The turn waits, with no worker, for its owner to answer these MCP approval requests."""

    type: Literal["relay.turn.waiting"] = "relay.turn.waiting"
    approval_request_ids: list[str]


class RelayApprovalResponse(RelayEvent):
    """The owner's answer to one approval request, as the next request sends it."""

    type: Literal["relay.approval.response"] = "relay.approval.response"
    approval_request_id: str
    approve: bool


class RelayTurnDone(RelayEvent):
    type: Literal["relay.turn.done"] = "relay.turn.done"
    status: FinalStatus
    error: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None


class RelayReplayDone(RelayEvent):
    """Replay caught up; live from here. Not stored, has no seq."""

    type: Literal["relay.replay.done"] = "relay.replay.done"
