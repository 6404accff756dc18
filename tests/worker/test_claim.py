"""A worker claims a turn and reads what its first request needs in one thread hop."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from streaming.models import Conversation, Turn
from streaming.tools import catalogue
from streaming.worker import history, runner

pytestmark = pytest.mark.django_db


def queued(**fields) -> Turn:
    user, _ = get_user_model().objects.get_or_create(username="ann")
    conversation = Conversation.objects.create(owner=user)
    return Turn.objects.create(conversation=conversation, input="hello", model="m", **fields)


def test_the_claim_brings_the_tools_and_the_input_of_the_first_request() -> None:
    turn = queued()
    claimed, prepared = runner._claim(turn.pk, "worker-a")
    assert claimed is not None and claimed.status == Turn.Status.STREAMING
    tools, given = prepared
    assert isinstance(tools, catalogue.TurnTools)
    assert given == history.input_for(claimed)
    assert given[0][-1]["content"][0]["text"] == "hello"


@pytest.mark.parametrize(
    "fields", [{"cancel_requested": True}, {"approvals": {"mcpr_1": True}}], ids=["cancel", "back"]
)
def test_a_turn_that_does_not_start_a_request_now_is_only_claimed(fields) -> None:
    claimed, prepared = runner._claim(queued(**fields).pk, "worker-a")
    assert claimed is not None and prepared is None


def test_uploads_to_make_first_leave_the_input_to_after_them(settings) -> None:
    settings.UPLOAD_TO_PROVIDER = True
    claimed, prepared = runner._claim(queued().pk, "worker-a")
    assert claimed is not None and prepared is None


def test_a_turn_held_elsewhere_is_neither_claimed_nor_read() -> None:
    turn = queued(status=Turn.Status.STREAMING, lease_owner="worker-b")
    assert runner._claim(turn.pk, "worker-a") == (None, None)


def test_tools_that_cannot_be_had_come_back_as_the_reason(monkeypatch) -> None:
    def missing(_turn):
        raise catalogue.MissingSecret("the tool needs WEATHER_KEY")

    monkeypatch.setattr(runner, "_turn_tools", missing)
    _, (tools, given) = runner._claim(queued().pk, "worker-a")
    assert isinstance(tools, catalogue.MissingSecret) and given is None
