"""Conformance on every recorded stream of the corpus (see ../shared/corpus/README.md)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import StreamEvent, parse_event
from streaming.protocol.sse import SSEDecoder
from streaming.upstream.client import UpstreamConfig, make_client, stream_response
from tests import corpus

OPAQUE = {"encrypted_content", "fingerprint"}

# Files whose terminal `response.output` is not what their own stream built, with the
# reason and the anomalies the accumulator must record for it.
INCONSISTENT: dict[str, tuple[str, list[str]]] = {
    "compat_openrouter_reasoning__pydantic-ai__1.sse": (
        "OpenRouter gives the reasoning item a new rs_tmp_ id in response.completed",
        ["response.completed output differs from the streamed output; kept the former"],
    ),
    "mcp__pydantic-ai__2.sse": (
        "the mcp_list_tools output_item.done items carry no tools; response.completed has them",
        ["response.completed output differs from the streamed output; kept the former"],
    ),
    "compat_codex_backend_text__pydantic-ai__1.sse": (
        "the Codex backend's response.completed has an empty output; the streamed one is kept",
        [],
    ),
}

CONFIG = UpstreamConfig(
    base_url="http://upstream.test/v1",
    api_key="sk-test",
    connect_timeout=5.0,
    first_event_timeout=5.0,
    idle_timeout=5.0,
    max_retries=0,
    retry_base_delay=0.0,
    retry_max_delay=0.0,
)

names = pytest.mark.parametrize("name", corpus.file_names())


def strip_opaque(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_opaque(v) for k, v in value.items() if k not in OPAQUE}
    if isinstance(value, list):
        return [strip_opaque(v) for v in value]
    return value


def events_of(name: str) -> list[StreamEvent]:
    return [parse_event(data) for data in corpus.event_data(name)]


def fold(events: list[StreamEvent]) -> Accumulator:
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    return acc


def test_the_manifest_lists_every_corpus_file():
    """The manifest has 68 entries, one per .sse file in the corpus directory."""
    directory = corpus.corpus_dir()
    listed = [item["file"] for item in corpus.manifest()]
    assert len(listed) == 68
    assert sorted(listed) == sorted(path.name for path in directory.glob("*.sse"))


def test_every_listed_inconsistency_is_a_corpus_file():
    """The exception list names real corpus files only."""
    assert set(INCONSISTENT) <= {item["file"] for item in corpus.manifest()}


@names
def test_the_folded_output_equals_the_terminal_output(name):
    """What the stream built matches the terminal response's output, opaque blobs aside."""
    events = events_of(name)
    terminal = corpus.entry(name)["terminal_event"]
    last = max(i for i, event in enumerate(events) if event.type == terminal)
    acc = fold(events[:last])
    built = strip_opaque(copy.deepcopy(acc.output))
    final = strip_opaque(events[last].response.output)
    acc.feed(events[last])
    if name in INCONSISTENT:
        reason, anomalies = INCONSISTENT[name]
        assert built != final, f"no longer inconsistent ({reason}): drop it from INCONSISTENT"
        assert acc.anomalies == anomalies
        return
    assert built == final
    assert strip_opaque(acc.output) == final
    assert acc.anomalies == []


@names
def test_the_terminal_output_is_adopted(name):
    """After the terminal event the output is the terminal's, unless that one is empty."""
    events = events_of(name)
    acc = fold(events)
    final = events[-1].response.output
    if final:
        assert strip_opaque(acc.output) == strip_opaque(final)
    else:
        assert corpus.entry(name)["final_output_text"] is None


@names
def test_the_output_text_equals_the_manifest(name):
    """output_text equals the manifest's final_output_text wherever that is known."""
    expected = corpus.entry(name)["final_output_text"]
    acc = fold(events_of(name))
    if expected is None:
        assert acc.output_text == "".join(
            event.delta for event in events_of(name) if event.type == "response.output_text.delta"
        )
    else:
        assert acc.output_text == expected


@names
def test_the_status_follows_the_terminal_event(name):
    """The folded status and terminal type are those of the manifest's terminal event."""
    terminal = corpus.entry(name)["terminal_event"]
    acc = fold(events_of(name))
    assert acc.terminal_type == terminal
    assert acc.status == terminal.removeprefix("response.")


@names
def test_the_event_counts_equal_the_manifest(name):
    """Every frame is counted once; the manifest also counts a `[DONE]` sentinel frame."""
    item = corpus.entry(name)
    acc = fold(events_of(name))
    sentinels = sum(frame.data == corpus.DONE for frame in corpus.frames(name))
    assert sum(acc.event_counts.values()) + sentinels == item["num_events"]
    assert set(acc.event_counts) == set(item["event_types"])


@names
async def test_the_upstream_relays_each_file_and_stops_at_its_terminal_event(name):
    """Over HTTP, re-chunked and with a stray frame after the end, each file relays its
    events unchanged and stops at the manifest's terminal event."""
    body = corpus.read_bytes(name) + b'event: late\ndata: {"type":"late"}\n\n'
    expected = corpus.event_data(name)
    for seed in range(2):
        transport = corpus.sse_transport(corpus.random_chunks(body, seed, max_size=400))
        raws: list[str] = []
        async with make_client(CONFIG, transport=transport) as client:
            await stream_response(
                client=client,
                config=CONFIG,
                body={},
                on_batch=lambda batch, raws=raws: raws.extend(raw for raw, _ in batch),
            )
        assert raws == expected
        assert json.loads(raws[-1])["type"] == corpus.entry(name)["terminal_event"]


def test_the_openrouter_file_parses():
    """OpenRouter's data-only frames, leading comment and `data: [DONE]` are all understood."""
    name = "compat_openrouter_reasoning__pydantic-ai__1.sse"
    decoder = SSEDecoder()
    frames = decoder.feed(corpus.read_bytes(name)) + decoder.close()
    assert decoder.comments == 1
    assert {frame.event for frame in frames} == {""}
    assert frames[-1].data == corpus.DONE
    events = [parse_event(frame.data) for frame in frames[:-1]]
    assert [e.type for e in events][-1] == "response.completed"
    acc = fold(events)
    assert acc.status == "completed"
    assert acc.output_text == corpus.entry(name)["final_output_text"]
    assert [item["type"] for item in acc.output] == ["reasoning", "message"]
