"""A worker's sweep ends a turn no worker claimed within RELAY_QUEUE_TIMEOUT, and only
such a turn: a younger queued turn is offered to a worker again instead."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.utils import timezone

from streaming.models import Conversation, Turn
from streaming.services import turns as services
from streaming.worker import sweep

pytestmark = pytest.mark.django_db(transaction=True)


def queued_turn(age: float) -> Turn:
    user, _ = get_user_model().objects.get_or_create(username="carol")
    conversation = Conversation.objects.create(owner=user)
    turn = Turn.objects.create(conversation=conversation, input="hi", model="m")
    created = timezone.now() - timedelta(seconds=age)
    Turn.objects.filter(pk=turn.pk).update(created_at=created)
    return turn


async def test_the_worker_sweep_fails_a_turn_left_queued_past_the_queue_timeout(
    settings: Any,
) -> None:
    settings.RELAY_QUEUE_TIMEOUT = 60
    settings.RELAY_SWEEP_INTERVAL = 1
    old = await sync_to_async(queued_turn)(age=61)
    young = await sync_to_async(queued_turn)(age=5)
    await sweep.sweep_once(owner="sweep.test")
    await old.arefresh_from_db()
    await young.arefresh_from_db()
    assert old.status == "failed" and old.error == services.NO_WORKER
    assert young.status == "queued"
    woken = await asyncio.wait_for(get_channel_layer().receive(services.WORKER_CHANNEL), 5)
    assert woken == {"type": "stream.run", "turn": str(young.pk)}  # offered again, not ended
