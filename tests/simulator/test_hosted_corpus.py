"""The simulator's hosted tools against the recorded streams in ../shared/corpus/ (read in
place): each tool item it streams takes a path of event types, and ends with a done item of
fields, that a real OpenAI stream of that tool shows, and its annotations are shaped like
the recorded ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streaming.simulator.params import Params
from streaming.simulator.scenarios import build_events
from tests.corpus import event_data, manifest

Shape = tuple[str, tuple[str, ...], tuple[str, ...]]

DOCS = {"type": "mcp", "server_label": "docs", "server_url": "https://docs.example.test/mcp"}
TOOLS = [
    {"type": "web_search"},
    {"type": "file_search", "vector_store_ids": ["vs_docs"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "image_generation"},
]


def item_shapes(events: list[dict[str, Any]]) -> list[Shape]:
    """Per output item: its type, the types of its events in order (a run of one type
    counted once) and the sorted fields of its done item."""
    by_index: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        if isinstance(event.get("output_index"), int):
            by_index.setdefault(event["output_index"], []).append(event)
    shapes = []
    for own in by_index.values():
        path: list[str] = []
        for event in own:
            if not path or path[-1] != event["type"]:
                path.append(event["type"])
        done = [e["item"] for e in own if e["type"] == "response.output_item.done"]
        added = [e["item"] for e in own if e["type"] == "response.output_item.added"]
        if added and done:
            shapes.append((added[0]["type"], tuple(path), tuple(sorted(done[0]))))
    return shapes


def annotation_fields(events: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    return {
        e["annotation"]["type"]: tuple(sorted(e["annotation"]))
        for e in events
        if e["type"] == "response.output_text.annotation.added"
    }


def recorded() -> list[list[dict[str, Any]]]:
    """Every OpenAI stream of the corpus, as parsed events."""
    streams = []
    for entry in manifest():
        if entry.get("provider") in ("openai", "azure-openai"):
            streams.append([json.loads(data) for data in event_data(entry["file"])])
    return streams


def simulated(scenario: str, tools: list[dict[str, Any]], text: str = "hi") -> list[dict]:
    request = {"model": "sim-markdown", "input": text, "tools": tools}
    return build_events(request, Params(scenario=scenario), id_seed=3, created_at=1)


@pytest.fixture(scope="module")
def corpus_shapes() -> set[Shape]:
    return {shape for stream in recorded() for shape in item_shapes(stream)}


CASES = [
    ("web-search", TOOLS, "web_search_call"),
    ("file-search", TOOLS, "file_search_call"),
    ("code-interpreter", TOOLS, "code_interpreter_call"),
    ("image-generation", TOOLS, "image_generation_call"),
    ("mcp", [{**DOCS, "require_approval": "never"}], "mcp_list_tools"),
    ("mcp", [{**DOCS, "require_approval": "never"}], "mcp_call"),
    ("mcp", [{**DOCS, "require_approval": "always"}], "mcp_approval_request"),
]


@pytest.mark.parametrize(("scenario", "tools", "item_type"), CASES)
def test_each_hosted_tool_item_streams_as_a_recorded_one(
    corpus_shapes, scenario, tools, item_type
) -> None:
    ours = [s for s in item_shapes(simulated(scenario, tools)) if s[0] == item_type]
    assert ours, f"{scenario} streamed no {item_type}"
    for shape in ours:
        same_type = sorted(s for s in corpus_shapes if s[0] == item_type)
        assert shape in corpus_shapes, (shape, same_type)


def test_the_call_after_an_approval_streams_as_a_recorded_mcp_call(corpus_shapes) -> None:
    """Approval request → approval response → `mcp_call`: the second request's call."""
    first = simulated("mcp", [DOCS])
    (request,) = [e["item"] for e in first if e["type"] == "response.output_item.done"][1:]
    answer = {"type": "mcp_approval_response", "approval_request_id": request["id"]}
    events = build_events(
        {
            "input": [{"role": "user", "content": "hi"}, {**answer, "approve": True}],
            "tools": [DOCS],
        },
        Params(scenario="mcp"),
    )
    calls = [s for s in item_shapes(events) if s[0] == "mcp_call"]
    assert calls and all(shape in corpus_shapes for shape in calls)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done[0]["approval_request_id"] == request["id"]


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("web-search", "url_citation"),
        ("file-search", "file_citation"),
        ("code-interpreter", "container_file_citation"),
    ],
)
def test_annotations_have_the_recorded_fields(scenario, kind) -> None:
    seen = {}
    for stream in recorded():
        seen.update({k: v for k, v in annotation_fields(stream).items() if k not in seen})
    assert annotation_fields(simulated(scenario, TOOLS))[kind] == seen[kind]
