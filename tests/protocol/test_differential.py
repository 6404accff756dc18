"""Our accumulator against the official openai SDK's stream accumulation, on the corpus.

The SDK folds a stream in `ResponseStreamState.handle_event`, fed the events its `Stream`
builds with `construct_type` (non-strict). The snapshots it attaches to text and argument
deltas are its idea of each item's text and arguments so far.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import omit
from openai._models import construct_type
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

from streaming.protocol.accumulator import Accumulator
from streaming.protocol.events import parse_event
from tests import corpus

# Streams the SDK refuses to fold, with the reason it gives.
SDK_REFUSES = {
    "text_resumed__pydantic-ai__1.sse": (
        "Expected to have received `response.created` before `response.queued`"
    ),
}

Folded = tuple[dict[tuple[str, int], str], dict[str, str]]


def sdk_fold(datas: list[str]) -> Folded:
    """Message texts per (item id, part index) and arguments per item id, from the deltas."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    texts: dict[tuple[str, int], str] = {}
    arguments: dict[str, str] = {}
    for data in datas:
        raw = construct_type(type_=ResponseStreamEvent, value=json.loads(data))
        for event in state.handle_event(raw):
            if event.type == "response.output_text.delta":
                texts[(event.item_id, event.content_index)] = event.snapshot
            elif event.type == "response.function_call_arguments.delta":
                arguments[event.item_id] = event.snapshot
    return texts, arguments


def our_fold(datas: list[str]) -> Folded:
    acc = Accumulator()
    for data in datas:
        acc.feed(parse_event(data))
    texts: dict[tuple[str, int], str] = {}
    arguments: dict[str, str] = {}
    for item in acc.output:
        if item.get("type") == "message":
            for index, part in enumerate(item.get("content") or []):
                if part.get("type") == "output_text":
                    texts[(item["id"], index)] = part.get("text") or ""
        elif item.get("type") == "function_call":
            arguments[item["id"]] = item.get("arguments") or ""
    return texts, arguments


def non_empty(values: dict[Any, str]) -> dict[Any, str]:
    return {key: value for key, value in values.items() if value}


def test_the_sdk_fold_sees_text_and_arguments():
    """The SDK side of the comparison really collects texts and arguments (guards the harness)."""
    _, arguments = sdk_fold(corpus.event_data("function_call_mixed__pydantic-ai__1.sse"))
    assert arguments and all(arguments.values())
    texts, _ = sdk_fold(corpus.event_data("text__pydantic-ai__1.sse"))
    assert list(texts.values()) == ["The capital of France is Paris."]


@pytest.mark.parametrize("name", [n for n in corpus.file_names() if n not in SDK_REFUSES])
def test_message_texts_and_arguments_match_the_sdk(name):
    """Per item, message texts and function-call arguments equal what the SDK accumulates."""
    datas = corpus.event_data(name)
    sdk_texts, sdk_arguments = sdk_fold(datas)
    texts, arguments = our_fold(datas)
    assert non_empty(texts) == non_empty(sdk_texts)
    assert set(sdk_texts) <= set(texts)
    assert non_empty(arguments) == non_empty(sdk_arguments)
    assert set(sdk_arguments) <= set(arguments)


@pytest.mark.parametrize("name", sorted(SDK_REFUSES))
def test_streams_the_sdk_refuses(name):
    """The SDK raises for these streams, for the listed reason; ours folds them per the manifest."""
    datas = corpus.event_data(name)
    with pytest.raises(RuntimeError) as refused:
        sdk_fold(datas)
    assert str(refused.value) == SDK_REFUSES[name]
    item = corpus.entry(name)
    acc = Accumulator()
    for data in datas:
        acc.feed(parse_event(data))
    assert acc.terminal_type == item["terminal_event"]
    assert acc.output_text == item["final_output_text"]
    assert acc.anomalies == []
