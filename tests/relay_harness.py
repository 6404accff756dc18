"""The relay in-process for tests: the worker on a fresh in-memory layer, the simulator over
real HTTP (a daphne subprocess), a logged-in async client and WebSocket viewers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from streaming.live.routing import websocket_urlpatterns
from streaming.models import Turn, TurnEvent
from streaming.protocol.statuses import TURN_FINAL
from streaming.services.turns import WORKER_CHANNEL
from streaming.worker.consumer import RelayWorker, worker_application


def as_user(user: Any) -> Any:
    """The WebSocket routes with `scope["user"]` set, as the auth middleware would."""
    inner = URLRouter(websocket_urlpatterns)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await inner({**scope, "user": user}, receive, send)

    return app


async def wait_turn(turn_id: str, ready: Any, timeout: float, what: str) -> Turn:
    """The turn, once `ready(turn)` holds; polls the database."""
    deadline = time.monotonic() + timeout
    while True:
        turn = await Turn.objects.aget(pk=turn_id)
        if ready(turn):
            return turn
        if time.monotonic() > deadline:
            raise AssertionError(f"turn {turn_id} did not {what} (status {turn.status})")
        await asyncio.sleep(0.05)


@dataclass
class Viewer:
    """A WebSocket client that records every envelope it receives."""

    communicator: WebsocketCommunicator
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    replay_done: bool = False
    close_code: int | None = None

    async def read_until_closed(self, timeout: float = 20) -> Viewer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = await self.communicator.receive_output(timeout=deadline - time.monotonic())
            if message["type"] == "websocket.close":
                self.close_code = message.get("code")
                return self
            for item in json.loads(message["text"]):
                if "seq" in item:
                    self.envelopes.append(item)
                elif item["event"]["type"] == "relay.replay.done":
                    self.replay_done = True
        raise AssertionError("the socket did not close in time")

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.envelopes]


class Relay:
    def __init__(self, user: Any, client: AsyncClient, worker: RelayWorker) -> None:
        self.user = user
        self.client = client
        self.worker = worker

    async def conversation(self) -> str:
        response = await self.client.post("/api/conversations", {}, content_type="application/json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    async def post_turn(self, conversation: str, text: str, **extra: Any) -> Any:
        return await self.client.post(
            f"/api/conversations/{conversation}/turns",
            {"input": text, **extra},
            content_type="application/json",
        )

    async def start(self, text: str, conversation: str | None = None) -> str:
        conversation = conversation or await self.conversation()
        response = await self.post_turn(conversation, text)
        assert response.status_code == 202, response.content
        return response.json()["id"]

    async def start_model(self, text: str, model: str) -> str:
        response = await self.post_turn(await self.conversation(), text, model=model)
        assert response.status_code == 202, response.content
        return response.json()["id"]

    async def wait_done(self, turn_id: str, timeout: float = 20) -> Turn:
        return await wait_turn(turn_id, lambda turn: turn.status in TURN_FINAL, timeout, "finish")

    async def stored(self, turn_id: str) -> list[dict[str, Any]]:
        rows = [
            {"seq": seq, "event": json.loads(data)}
            async for seq, data in TurnEvent.objects.filter(turn_id=turn_id)
            .order_by("seq")
            .values_list("seq", "data")
        ]
        return rows

    async def watch(self, turn_id: str, *, after: int = -1, user: Any = None) -> Viewer:
        communicator = WebsocketCommunicator(
            as_user(user or self.user), f"/ws/turns/{turn_id}/?after={after}"
        )
        connected, _ = await communicator.connect(timeout=10)
        assert connected, "the socket was refused"
        return Viewer(communicator)


@pytest.fixture
def relay_settings(settings: Any, simulator_url: str) -> Any:
    settings.OPENAI_BASE_URL = simulator_url
    settings.OPENAI_API_KEY = ""
    settings.DEFAULT_MODEL = "sim-markdown"
    settings.UPSTREAM_MAX_RETRIES = 0
    settings.UPSTREAM_FIRST_EVENT_TIMEOUT = 10
    settings.UPSTREAM_IDLE_TIMEOUT = 10
    settings.RELAY_SWEEP_INTERVAL = 0.5
    settings.RELAY_LEASE_SECONDS = 5
    # The simulator's stream faults act on plain streams (a background response is generated
    # by time); background mode is tested where a test switches it on.
    settings.RELAY_BACKGROUND = "off"
    return settings


@pytest_asyncio.fixture
async def relay(relay_settings: Any) -> AsyncIterator[Relay]:
    """A logged-in user, and the worker running in this test's event loop."""
    channel_layers.backends.pop("default", None)  # a fresh layer bound to this loop
    worker = RelayWorker(
        application=worker_application(),
        channels=[WORKER_CHANNEL],
        channel_layer=get_channel_layer(),
    )
    task = asyncio.ensure_future(worker.arun())
    user = await sync_to_async(get_user_model().objects.create_user)("alice", password="pw-alice-1")
    client = AsyncClient()
    await client.aforce_login(user)
    try:
        yield Relay(user, client, worker)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
