"""What goes upstream: the conversation's model, instructions, reasoning and verbosity, the
history as typed items, and attachments as typed parts (seen in the simulator's history)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from streaming.models import Turn
from tests.relay_harness import Relay

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

QUICK = "Hi [sim:markdown tps=0 deltas=5 seed=1]"
# A one-pixel PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def uploads_in(settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }


async def sent_for(simulator_url: str, turn: Turn) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        seen = (await client.get(f"{simulator_url}/_requests")).json()
    ours = [r for r in seen if r["id"] in turn.response_ids]
    assert ours, "the simulator saw no request of this turn"
    return ours[-1]["request"]


async def test_the_conversation_options_go_upstream(relay: Relay, simulator_url: str) -> None:
    """model, instructions, reasoning (with summary auto) and verbosity are sent, and the
    turn keeps what it ran with; a PATCH changes the next turn only."""
    response = await relay.client.post(
        "/api/conversations",
        {
            "model": "sim-reasoning",
            "instructions": "Answer like a pirate.",
            "reasoning_effort": "high",
            "verbosity": "low",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    conversation = response.json()["id"]
    first = await relay.wait_done(await relay.start(QUICK, conversation))
    sent = await sent_for(simulator_url, first)
    assert sent["model"] == "sim-reasoning"
    assert sent["instructions"] == "Answer like a pirate."
    assert sent["reasoning"] == {"effort": "high", "summary": "auto"}
    assert sent["text"] == {"verbosity": "low"}
    assert (first.instructions, first.reasoning_effort, first.verbosity) == (
        "Answer like a pirate.",
        "high",
        "low",
    )

    patched = await relay.client.patch(
        f"/api/conversations/{conversation}",
        {"instructions": "Be brief.", "reasoning_effort": None},
        content_type="application/json",
    )
    assert patched.status_code == 200, patched.content
    second = await relay.wait_done(await relay.start(QUICK, conversation))
    sent = await sent_for(simulator_url, second)
    assert sent["instructions"] == "Be brief."
    assert "reasoning" not in sent
    # The history is typed: the first exchange as message items with typed parts.
    assert [i["type"] for i in sent["input"]] == ["message"] * 3
    assert sent["input"][1]["content"][0]["type"] == "output_text"
    await sync_to_async(first.refresh_from_db)()
    assert first.instructions == "Answer like a pirate."


async def test_an_attached_image_goes_as_an_input_image(relay: Relay, simulator_url: str) -> None:
    """The upload's bytes reach the model as a data URL in an `input_image` part."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("dot.png", PNG, content_type="application/octet-stream")
    response = await relay.client.post("/api/files", {"file": upload})
    assert response.status_code == 201, response.content
    file = response.json()
    assert file["content_type"] == "image/png" and file["size"] == len(PNG)
    conversation = await relay.conversation()
    posted = await relay.post_turn(conversation, QUICK, attachments=[file["id"]])
    assert posted.status_code == 202, posted.content
    turn = await relay.wait_done(posted.json()["id"])
    sent = await sent_for(simulator_url, turn)
    parts = sent["input"][-1]["content"]
    assert parts[0] == {"type": "input_text", "text": QUICK}
    assert parts[1]["type"] == "input_image"
    assert parts[1]["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    shown = (await relay.client.get(f"/api/turns/{turn.pk}")).json()
    assert [a["name"] for a in shown["attachments"]] == ["dot.png"]
