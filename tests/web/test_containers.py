"""A file code interpreter made, served through our own URL: fetched by the server with the
key from the provider's containers endpoint (the simulator's, which refuses a request
without a key), for the turn's owner only; the key never reaches the browser."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from streaming.models import ToolEntry, Turn
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-container-test-4b1d2e"
PYTHON = {"type": "code_interpreter", "container": {"type": "auto"}}


@pytest.fixture
def keyed(relay_settings: Any) -> Any:
    relay_settings.OPENAI_API_KEY = KEY
    relay_settings.MODERATION_MODE = "off"
    return relay_settings


async def finished_turn(relay: Relay) -> tuple[Turn, dict[str, Any]]:
    await sync_to_async(ToolEntry.objects.create)(name="python", label="Python", tool=PYTHON)
    conversation = await relay.conversation()
    response = await relay.post_turn(
        conversation, "squares [sim:code-interpreter tps=0]", tools=["python"]
    )
    assert response.status_code == 202, response.content
    turn = await relay.wait_done(response.json()["id"])
    assert turn.status == "completed", turn.error
    message = next(i for i in turn.output if i["type"] == "message")
    (citation,) = message["content"][0]["annotations"]
    assert citation["type"] == "container_file_citation"
    return turn, citation


def url(turn: Turn, citation: dict[str, Any], file_id: str | None = None) -> str:
    return f"/api/turns/{turn.pk}/files/{citation['container_id']}/{file_id or citation['file_id']}"


async def test_the_owner_gets_the_cited_file_and_the_key_stays_on_the_server(
    keyed: Any, relay: Relay
) -> None:
    turn, citation = await finished_turn(relay)
    response = await relay.client.get(url(turn, citation))
    assert response.status_code == 200, response.content
    body = response.content.decode()
    assert body.startswith("number,square\r\n1,1\r\n2,4\r\n")
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="squares.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert KEY not in body and KEY not in headers


async def test_another_user_and_an_uncited_file_get_a_404(keyed: Any, relay: Relay) -> None:
    turn, citation = await finished_turn(relay)
    bob = await sync_to_async(get_user_model().objects.create_user)("bob", password="pw-bob-1")
    client = AsyncClient()
    await client.aforce_login(bob)
    assert (await client.get(url(turn, citation))).status_code == 404
    assert (await relay.client.get(url(turn, citation, "cfile_not_cited"))).status_code == 404
    other = {**citation, "container_id": "cntr_someone_elses"}
    assert (await relay.client.get(url(turn, other))).status_code == 404
    assert (
        await relay.client.get(url(turn, {**citation, "container_id": "a.b"}))
    ).status_code == 404


async def test_a_file_the_provider_no_longer_has_is_a_404_saying_so(
    keyed: Any, relay: Relay
) -> None:
    """Containers expire: the provider's 404 is ours, with a short reason."""
    turn, citation = await finished_turn(relay)
    gone = {**citation, "file_id": "cfile_expired"}
    output = [
        {**item, "content": [{**item["content"][0], "annotations": [gone]}]}
        if item["type"] == "message"
        else item
        for item in turn.output
    ]
    await Turn.objects.filter(pk=turn.pk).aupdate(output=output)
    response = await relay.client.get(url(turn, gone))
    assert response.status_code == 404
    assert "no longer" in response.json()["error"] and KEY not in response.content.decode()


async def test_an_unreachable_provider_is_a_502_naming_neither_key_nor_url(
    keyed: Any, relay: Relay
) -> None:
    turn, citation = await finished_turn(relay)
    keyed.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    response = await relay.client.get(url(turn, citation))
    assert response.status_code == 502
    text = response.content.decode()
    assert KEY not in text and "127.0.0.1" not in text
