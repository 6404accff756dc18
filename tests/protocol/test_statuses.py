"""One definition of each status set: the model, the relay's events and the pages agree
with streaming/protocol/statuses.py."""

from __future__ import annotations

import json
import typing

import pytest
from pydantic import ValidationError

from streaming.models import Turn
from streaming.protocol import events as ev
from streaming.protocol import socket, statuses


def test_the_model_has_exactly_the_active_and_final_statuses():
    """`Turn.Status`, spelled out for migrations, holds the same members, in the same order."""
    assert tuple(Turn.Status.values) == statuses.TURN_STATUSES


def test_active_and_final_statuses_do_not_overlap():
    assert not set(statuses.TURN_ACTIVE) & set(statuses.TURN_FINAL)


def test_the_one_active_turn_constraint_counts_the_active_statuses():
    """The database's one-turn-streaming rule is written with the same set."""
    (constraint,) = Turn._meta.constraints
    assert constraint.condition.children == [("status__in", list(statuses.TURN_ACTIVE))]


def test_a_turn_is_active_exactly_in_an_active_status():
    for status in statuses.TURN_STATUSES:
        assert Turn(status=status).is_active is (status in statuses.TURN_ACTIVE)


def test_relay_turn_done_takes_exactly_the_final_statuses():
    """Its status type is the final set's Literal: every final status passes, nothing else."""
    annotation = ev.RelayTurnDone.model_fields["status"].annotation
    assert typing.get_args(annotation) == statuses.TURN_FINAL
    for status in statuses.TURN_FINAL:
        assert ev.RelayTurnDone(status=status).status == status
    for status in [*statuses.TURN_ACTIVE, "done"]:
        with pytest.raises(ValidationError):
            ev.RelayTurnDone(status=status)


def test_every_terminal_event_type_is_a_known_event_type():
    assert statuses.TERMINAL_EVENT_TYPES <= ev.KNOWN_TYPES


def test_item_phases_cover_every_tool_status_event_the_models_know():
    """What a `response.<item>.<phase>` event can say, less the phases that set no status."""
    known = typing.get_args(ev.ToolCallStatus.model_fields["type"].annotation)
    phases = {name.rsplit(".", 1)[1] for name in known} - {"compacting"}
    assert phases <= set(statuses.ITEM_PHASES)
    assert set(statuses.ITEM_FINAL) <= set(statuses.ITEM_PHASES)


def test_the_page_constants_are_the_sets_as_json_lists():
    constants = json.loads(json.dumps(statuses.page_constants()))
    assert constants == {
        "socket": socket.socket_constants(),
        "turn_active": list(statuses.TURN_ACTIVE),
        "turn_final": list(statuses.TURN_FINAL),
        "terminal_event_types": sorted(statuses.TERMINAL_EVENT_TYPES),
        "item_phases": list(statuses.ITEM_PHASES),
        "item_final": list(statuses.ITEM_FINAL),
    }


def test_the_socket_close_codes_are_distinct_private_use_codes():
    codes = [v for k, v in socket.socket_constants().items() if k.startswith("close_")]
    assert len(set(codes)) == len(codes) == 4
    assert all(4000 <= code <= 4999 for code in codes)
    assert socket.ACK_BYTES > 0 and socket.ACK_DELAY_MS > 0
