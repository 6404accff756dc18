"""Typed stream events: coverage of the SDK's union, tolerance of the unknown, corpus parsing."""

from __future__ import annotations

import json
import typing

import pytest
from openai.types.responses import ResponseStreamEvent as SDKStreamEvent
from pydantic import ValidationError

from streaming.protocol import events as ev
from streaming.protocol.statuses import TERMINAL_EVENT_TYPES
from tests import corpus

# The only event types in the corpus that the SDK does not know either: `keepalive` frames
# (chatlas' capture), sent by the API while a long response is being prepared.
CORPUS_TYPES_OUTSIDE_THE_SDK = {"keepalive"}


def sdk_event_types() -> set[str]:
    union = typing.get_args(SDKStreamEvent)[0]  # Annotated[Union[...], PropertyInfo(...)]
    names: set[str] = set()
    for model in typing.get_args(union):
        names.update(typing.get_args(model.model_fields["type"].annotation))
    return names


def test_the_sdk_union_is_introspectable():
    """The SDK's union yields dozens of event types (guards the introspection itself)."""
    names = sdk_event_types()
    assert len(names) > 40
    assert {"response.output_text.delta", "response.completed", "error"} <= names


def test_every_sdk_event_type_is_known():
    """Every event type of the installed openai SDK is one we model."""
    assert sdk_event_types() - ev.KNOWN_TYPES == set()


def test_known_types_include_the_terminal_types():
    """Every terminal type is a known type."""
    assert TERMINAL_EVENT_TYPES <= ev.KNOWN_TYPES


def test_it_parses_a_delta_into_its_model():
    """A text delta becomes an OutputTextDelta with its fields read."""
    event = ev.parse_event(
        '{"type":"response.output_text.delta","item_id":"msg_1","output_index":1,'
        '"content_index":0,"delta":"Hi","sequence_number":4}'
    )
    assert isinstance(event, ev.OutputTextDelta)
    assert (event.output_index, event.content_index, event.delta) == (1, 0, "Hi")
    assert event.sequence_number == 4


def test_it_parses_bytes_as_well_as_text():
    """Frame data given as UTF-8 bytes parses like text."""
    event = ev.parse_event(
        b'{"type":"response.refusal.done","output_index":0,'
        b'"content_index":0,"refusal":"no \xc3\xa9"}'
    )
    assert isinstance(event, ev.RefusalDone)
    assert event.refusal == "no é"


def test_it_allows_a_missing_sequence_number():
    """Events from before sequence numbers existed parse, with sequence_number None."""
    event = ev.parse_event('{"type":"response.created","response":{"id":"resp_1"}}')
    assert isinstance(event, ev.ResponseCreated)
    assert event.sequence_number is None
    assert event.response.id == "resp_1"


def test_it_keeps_unknown_fields():
    """Fields we do not model (e.g. `obfuscation`) are kept on the event and in its dump."""
    event = ev.parse_event(
        '{"type":"response.output_text.delta","output_index":0,"content_index":0,'
        '"delta":"x","obfuscation":"aZ3","logprobs":[]}'
    )
    assert isinstance(event, ev.OutputTextDelta)
    assert event.model_extra == {"obfuscation": "aZ3", "logprobs": []}
    assert event.model_dump()["obfuscation"] == "aZ3"


def test_it_keeps_unknown_fields_of_the_response_object():
    """Unmodelled keys of a lifecycle event's response survive."""
    event = ev.parse_event(
        '{"type":"response.completed","response":{"id":"r","status":"completed",'
        '"output":[],"tools":[{"type":"web_search"}]}}'
    )
    assert isinstance(event, ev.ResponseCompleted)
    assert event.response.model_dump()["tools"] == [{"type": "web_search"}]


def test_an_error_event_reads_the_flat_and_the_nested_shapes():
    """`error` events parse whether code and message are top-level or under `error`."""
    flat = ev.parse_event('{"type":"error","code":"c","message":"m","param":null}')
    nested = ev.parse_event('{"type":"error","error":{"code":"c","message":"m"}}')
    assert isinstance(flat, ev.ErrorEvent) and isinstance(nested, ev.ErrorEvent)
    assert (flat.code, flat.message) == ("c", "m")
    assert nested.error == {"code": "c", "message": "m"}


def test_an_unknown_type_becomes_an_unknown_event_keeping_the_raw_object():
    """An unknown `type` gives an UnknownEvent with the raw object and sequence number."""
    raw = {"type": "keepalive", "sequence_number": 9, "extra": {"a": [1]}}
    event = ev.parse_event(json.dumps(raw))
    assert isinstance(event, ev.UnknownEvent)
    assert (event.type, event.raw, event.sequence_number) == ("keepalive", raw, 9)
    assert event.reason == "unknown type"


def test_an_unknown_event_ignores_a_non_integer_sequence_number():
    """A sequence_number that is not an integer does not stop the fallback."""
    event = ev.parse_event('{"type":"x.y","sequence_number":"7a"}')
    assert isinstance(event, ev.UnknownEvent)
    assert event.sequence_number is None


def test_a_known_type_missing_a_required_field_becomes_unknown_with_a_reason():
    """A known type without a required field is kept as UnknownEvent naming the field."""
    raw = {"type": "response.output_text.delta", "output_index": 0, "content_index": 0}
    event = ev.parse_event(json.dumps(raw))
    assert isinstance(event, ev.UnknownEvent)
    assert event.raw == raw
    assert "response.output_text.delta" in event.reason
    assert "delta" in event.reason.split(":", 1)[1]


def test_a_known_type_with_a_wrongly_typed_field_becomes_unknown_naming_it():
    """A field of the wrong type makes the event unknown, and the reason names that field."""
    event = ev.parse_event('{"type":"response.output_item.added","output_index":"first","item":{}}')
    assert isinstance(event, ev.UnknownEvent)
    assert "output_index" in event.reason


@pytest.mark.parametrize("data", ["not json", "[DONE]", "", '{"type": "a"', b"\xff\xfe"])
def test_data_that_is_not_json_is_malformed(data):
    """Data that is not JSON raises MalformedEvent."""
    with pytest.raises(ev.MalformedEvent, match="not JSON"):
        ev.parse_event(data)


@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "3", "null", "{}", '{"type": 3}'])
def test_json_that_is_not_an_object_with_a_string_type_is_malformed(data):
    """JSON that is not an object with a string `type` raises MalformedEvent."""
    with pytest.raises(ev.MalformedEvent, match="string 'type'"):
        ev.parse_event(data)


def test_relay_events_fill_in_their_type():
    """Relay events carry their `relay.` type without being told it."""
    done = ev.RelayTurnDone(status="completed", usage={"input_tokens": 1})
    assert done.model_dump()["type"] == "relay.turn.done"
    assert ev.RelayError(kind="http", message="m", status=500).type == "relay.error"


def test_relay_events_reject_unknown_fields_and_statuses():
    """Relay events are ours: unknown fields and statuses are errors, not silently kept."""
    with pytest.raises(ValidationError):
        ev.RelayTurnDone(status="completed", surprise=1)
    with pytest.raises(ValidationError):
        ev.RelayTurnDone(status="done")


@pytest.mark.parametrize("name", corpus.file_names())
def test_every_corpus_frame_parses(name):
    """Every frame of every corpus file parses; unknown types are only those the SDK lacks."""
    types, unknown = set(), set()
    for data in corpus.event_data(name):
        event = ev.parse_event(data)  # raises MalformedEvent on failure
        types.add(event.type)
        if isinstance(event, ev.UnknownEvent):
            assert event.reason == "unknown type", event.reason
            unknown.add(event.type)
    assert types == set(corpus.entry(name)["event_types"])
    assert unknown <= CORPUS_TYPES_OUTSIDE_THE_SDK
    assert not unknown & sdk_event_types()


def test_the_corpus_unknown_types_are_exactly_the_listed_ones():
    """Across the corpus, the types we cannot type are exactly CORPUS_TYPES_OUTSIDE_THE_SDK."""
    unknown = {
        event.type
        for name in corpus.file_names()
        for data in corpus.event_data(name)
        if isinstance(event := ev.parse_event(data), ev.UnknownEvent)
    }
    assert unknown == CORPUS_TYPES_OUTSIDE_THE_SDK
