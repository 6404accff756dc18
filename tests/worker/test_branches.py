"""Branches end to end: an edited or regenerated turn is sent upstream with the history of
its own path only (as the simulator received it), and a new turn follows the active leaf."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from streaming.models import Turn
from tests.relay_harness import Relay
from tests.worker.test_request_options import PNG, sent_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

QUICK = "[sim:markdown tps=0 deltas=5 seed=1]"


async def sent_texts(simulator_url: str, turn: Turn) -> list[str]:
    """The user and assistant texts of the input the simulator received for `turn`."""
    async with httpx.AsyncClient() as client:
        seen = (await client.get(f"{simulator_url}/_requests")).json()
    ours = [r for r in seen if r["id"] in turn.response_ids]
    assert ours, "the simulator saw no request of this turn"
    return [part["text"] for item in ours[-1]["request"]["input"] for part in item["content"]]


async def post(relay: Relay, path: str, body: dict[str, Any]) -> Any:
    return await relay.client.post(path, body, content_type="application/json")


async def finished(relay: Relay, response: Any) -> Turn:
    assert response.status_code == 202, response.content
    assert response.json()["ws"] == f"/ws/turns/{response.json()['id']}/"
    return await relay.wait_done(response.json()["id"])


async def path_of(relay: Relay, conversation: str) -> list[dict[str, Any]]:
    response = await relay.client.get(f"/api/conversations/{conversation}")
    assert response.status_code == 200
    return response.json()["turns"]


async def test_history_upstream_is_the_active_path_only(relay: Relay, simulator_url: str) -> None:
    conversation = await relay.conversation()
    first = await relay.wait_done(await relay.start(f"one {QUICK}", conversation))
    second = await relay.wait_done(await relay.start(f"two {QUICK}", conversation))

    edited = await finished(
        relay, await post(relay, f"/api/turns/{second.pk}/edit", {"input": f"deux {QUICK}"})
    )
    assert await sent_texts(simulator_url, edited) == [first.input, first.output_text, edited.input]
    turns = await path_of(relay, conversation)
    assert [t["id"] for t in turns] == [str(first.pk), str(edited.pk)]
    assert turns[1]["siblings"] == [str(second.pk), str(edited.pk)]
    assert turns[0]["siblings"] == [str(first.pk)]

    # A new message goes after the active leaf: the edited turn, not the one it replaced.
    third = await relay.wait_done(await relay.start(f"three {QUICK}", conversation))
    sent = await sent_texts(simulator_url, third)
    assert sent == [first.input, first.output_text, edited.input, edited.output_text, third.input]
    assert second.input not in sent

    # Regenerating the first answer starts a branch with no history at all.
    again = await finished(relay, await post(relay, f"/api/turns/{first.pk}/regenerate", {}))
    assert again.input == first.input
    assert await sent_texts(simulator_url, again) == [first.input]
    turns = await path_of(relay, conversation)
    assert [t["id"] for t in turns] == [str(again.pk)]
    assert turns[0]["siblings"] == [str(first.pk), str(again.pk)]

    # Back to the first: the path follows the newest child down (edited, then third).
    switched = await post(
        relay, f"/api/conversations/{conversation}/active", {"turn": str(first.pk)}
    )
    assert switched.status_code == 200, switched.content
    assert [t["id"] for t in switched.json()["turns"]] == [
        str(first.pk),
        str(edited.pk),
        str(third.pk),
    ]
    # The old branch is still stored, and can be made active again.
    switched = await post(
        relay, f"/api/conversations/{conversation}/active", {"turn": str(second.pk)}
    )
    assert [t["id"] for t in switched.json()["turns"]] == [str(first.pk), str(second.pk)]
    fourth = await relay.wait_done(await relay.start(f"four {QUICK}", conversation))
    sent = await sent_texts(simulator_url, fourth)
    assert sent == [first.input, first.output_text, second.input, second.output_text, fourth.input]
    assert await Turn.objects.filter(conversation_id=conversation).acount() == 6


async def test_an_edit_keeps_the_original_turns_model_and_tools(relay: Relay) -> None:
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, f"one {QUICK}", model="sim-reasoning", tools=[])
    first = await relay.wait_done(response.json()["id"])
    edited = await finished(
        relay, await post(relay, f"/api/turns/{first.pk}/edit", {"input": "uno"})
    )
    assert (edited.model, edited.tools, edited.parent_id) == ("sim-reasoning", [], None)


async def test_edit_regenerate_and_switch_are_refused_while_a_turn_streams(relay: Relay) -> None:
    conversation = await relay.conversation()
    first = await relay.wait_done(await relay.start(f"one {QUICK}", conversation))
    running = await relay.start("long [sim:long tps=20 deltas=2000 seed=3]", conversation)
    calls = [
        (f"/api/turns/{first.pk}/edit", {"input": "changed"}),
        (f"/api/turns/{first.pk}/regenerate", {}),
        (f"/api/turns/{running}/regenerate", {}),
        (f"/api/conversations/{conversation}/active", {"turn": str(first.pk)}),
    ]
    for path, body in calls:
        response = await post(relay, path, body)
        assert response.status_code == 409, (path, response.content)
        assert response.json()["error"]
    turns = await path_of(relay, conversation)
    assert [t["id"] for t in turns] == [str(first.pk), running]
    assert (await relay.client.post(f"/api/turns/{running}/cancel")).status_code == 202
    assert (await relay.wait_done(running)).status == "cancelled"
    assert await Turn.objects.filter(conversation_id=conversation).acount() == 2


async def test_an_edit_keeps_the_original_turns_attachments(
    relay: Relay, simulator_url: str, settings: Any, tmp_path: Any
) -> None:
    """Edited without naming attachments, the new turn carries the original's files: sent
    upstream with the new text, and listed on the turn and on the conversation's path."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }
    posted = await relay.client.post("/api/files", {"file": SimpleUploadedFile("dot.png", PNG)})
    assert posted.status_code == 201, posted.content
    file = posted.json()
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, f"one {QUICK}", attachments=[file["id"]])
    first = await relay.wait_done(response.json()["id"])
    edited = await finished(
        relay, await post(relay, f"/api/turns/{first.pk}/edit", {"input": f"uno {QUICK}"})
    )
    assert edited.status == "completed", edited.error

    parts = (await sent_for(simulator_url, edited))["input"][-1]["content"]
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert parts == [
        {"type": "input_text", "text": f"uno {QUICK}"},
        {"type": "input_image", "image_url": image, "detail": "auto"},
    ]
    shown = (await relay.client.get(f"/api/turns/{edited.pk}")).json()
    assert [a["id"] for a in shown["attachments"]] == [file["id"]]
    path = await path_of(relay, conversation)
    assert [t["id"] for t in path] == [str(edited.pk)]
    assert [a["name"] for a in path[0]["attachments"]] == ["dot.png"]

    # Attachments given with the edit replace the original's; an empty list drops them.
    dropped = await finished(
        relay,
        await post(relay, f"/api/turns/{edited.pk}/edit", {"input": "sin", "attachments": []}),
    )
    parts = (await sent_for(simulator_url, dropped))["input"][-1]["content"]
    assert [p["type"] for p in parts] == ["input_text"]
    assert (await path_of(relay, conversation))[0]["attachments"] == []
