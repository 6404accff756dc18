"""An upstream that sends NaN or Infinity (Python's json writes them; RFC 8259 has no such
numbers): every frame, replay, export and admin page is strict JSON, the non-finite numbers
read as null, the turn notes it once, and the stored log keeps what was received."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from streaming.models import Turn, TurnEvent
from streaming.protocol import finite
from tests.local_servers import sse
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

RESPONSE = {"id": "resp_nan", "object": "response", "status": "in_progress", "output": []}
MESSAGE = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}
EVENTS = [
    {"type": "response.created", "response": RESPONSE},
    {"type": "response.output_item.added", "output_index": 0, "item": MESSAGE},
    {
        "type": "response.output_text.delta",
        "output_index": 0,
        "content_index": 0,
        "delta": "NaN and Infinity, ",  # words in a string are text, never touched
        "logprobs": [{"token": "NaN", "logprob": -math.inf}],
    },
    {
        "type": "response.output_text.delta",
        "output_index": 0,
        "content_index": 0,
        "delta": "said plainly.",
        "score": math.nan,
    },
    {
        "type": "response.completed",
        "response": {
            **RESPONSE,
            "status": "completed",
            "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7, "x": math.inf},
        },
    },
]
TEXT = "NaN and Infinity, said plainly."


def strict_loads(text: str) -> Any:
    """`json.loads` as a browser's JSON.parse reads: no NaN, no Infinity."""

    def refuse(word: str) -> Any:
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


async def _body(response: Any) -> str:
    if response.streaming:
        return b"".join([chunk async for chunk in response.streaming_content]).decode()
    return response.content.decode()


async def _frames(relay: Relay, turn_id: str, after: int = -1) -> list[str]:
    """Every text frame of a socket on the turn, until it closes."""
    viewer = await relay.watch(turn_id, after=after)
    frames = []
    while True:
        message = await viewer.communicator.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            return frames
        frames.append(message["text"])


@pytest.fixture
def nan_upstream(relay_settings: Any, local_server: Any) -> Any:
    local_server.chunks = sse(*EVENTS)
    assert b"NaN" in b"".join(local_server.chunks)  # the server does send them
    relay_settings.OPENAI_BASE_URL = local_server.url + "/v1"
    return local_server


async def test_frames_live_and_replayed_are_strict_and_the_log_keeps_what_came(
    relay: Relay, nan_upstream: Any
) -> None:
    turn_id = await relay.start("numbers, please")
    live = await _frames(relay, turn_id)  # opened at once: live, or replayed if already done
    turn = await relay.wait_done(turn_id)
    assert turn.status == "completed" and turn.output_text == TEXT
    assert turn.anomalies == [f"{finite.NOTE} (x3)"]
    assert turn.usage and turn.usage["total_tokens"] == 7
    for frames in (live, await _frames(relay, turn_id)):
        envelopes = [item for text in frames for item in strict_loads(text)]
        events = [e["event"] for e in envelopes if "seq" in e]
        assert [e["type"] for e in events][-1] == "relay.turn.done"
        deltas = [e for e in events if e["type"] == "response.output_text.delta"]
        assert deltas[0]["logprobs"] == [{"token": "NaN", "logprob": None}]
        assert deltas[1]["score"] is None and "".join(d["delta"] for d in deltas) == TEXT
    stored = TurnEvent.objects.filter(turn_id=turn_id).values_list("data", flat=True)
    raw = "".join([data async for data in stored])
    assert "-Infinity" in raw and '"score": NaN' in raw


async def test_exports_and_the_admin_pages_are_strict(relay: Relay, nan_upstream: Any) -> None:
    turn_id = await relay.start("numbers, please")
    await relay.wait_done(turn_id)
    turn = await Turn.objects.select_related("conversation").aget(pk=turn_id)
    conversation = turn.conversation_id
    export = await relay.client.get(f"/api/conversations/{conversation}/export?format=json")
    assert export.status_code == 200
    exported = strict_loads(await _body(export))
    assert exported["turns"][0]["output_text"] == TEXT
    assert strict_loads((await relay.client.get(f"/api/turns/{turn_id}")).content)["usage"]

    root = await sync_to_async(get_user_model().objects.create_superuser)("root", password="pw-1")
    admin = AsyncClient()
    await admin.aforce_login(root)
    turns = "/admin/streaming/turn/"
    for page in (f"{turns}{turn_id}/change/", f"{turns}{turn_id}/replay/"):
        assert (await admin.get(page)).status_code == 200, page
    log = strict_loads(await _body(await admin.get(f"{turns}{turn_id}/log.json")))
    assert [e["event"].get("score", 0) for e in log["events"]].count(None) == 1
    for action in ("export_jsonl", "export_jsonl_with_events"):
        answer = await admin.post(
            turns, {"action": action, "_selected_action": [turn_id], "index": "0"}
        )
        assert answer.status_code == 200
        for line in (await _body(answer)).splitlines():
            strict_loads(line)
    page = await admin.get(f"/admin/streaming/conversation/{conversation}/change/")
    assert page.status_code == 200
