"""MCP approvals: a response ending with approval requests leaves the turn `waiting` (no
worker, no lease); the owner's answer queues it, and a worker sends the
`mcp_approval_response` and streams on in the same turn's log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from streaming.models import ToolEntry, Turn
from streaming.worker.sweep import sweep_once
from tests.relay_harness import Relay, wait_turn

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = {
    "type": "mcp",
    "server_label": "docs",
    "server_url": "https://docs.example.test/mcp",
    "require_approval": "always",
}


async def waiting_turn(relay: Relay) -> Turn:
    await sync_to_async(ToolEntry.objects.create)(name="docs", label="Docs", tool=DOCS)
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, "find the log [sim:mcp tps=0]", tools=["docs"])
    assert response.status_code == 202, response.content
    return await wait_turn(response.json()["id"], lambda t: t.status == "waiting", 20, "wait")


async def answer(client: AsyncClient, turn: Turn, request_id: str, approve: bool) -> Any:
    return await client.post(
        f"/api/turns/{turn.pk}/approvals",
        {"approval_request_id": request_id, "approve": approve},
        content_type="application/json",
    )


@pytest.mark.parametrize("approve", [True, False])
async def test_the_owners_answer_resumes_the_turn_in_the_same_log(relay: Relay, approve) -> None:
    turn = await waiting_turn(relay)
    assert turn.lease_owner == "" and turn.waiting_since is not None
    (request,) = [i for i in turn.output if i["type"] == "mcp_approval_request"]
    assert request["server_label"] == "docs" and request["name"] == "search_docs"
    response = await answer(relay.client, turn, request["id"], approve)
    assert response.status_code == 202
    done = await relay.wait_done(turn.pk)
    assert done.status == "completed", done.error
    kinds = [item["type"] for item in done.output]
    sent = {
        "type": "mcp_approval_response",
        "approval_request_id": request["id"],
        "approve": approve,
    }
    assert sent in done.output
    assert ("mcp_call" in kinds) is approve
    assert kinds[0] == "mcp_list_tools" and kinds[-1] == "message"
    stored = await relay.stored(turn.pk)
    assert [e["seq"] for e in stored] == list(range(len(stored)))
    started = [e for e in stored if e["event"]["type"] == "relay.request.started"]
    assert len(started) == 2 and stored[-1]["event"]["type"] == "relay.turn.done"
    # The wait and the decision are in the log, between the two requests, for every reader.
    types = [e["event"]["type"] for e in stored]
    waiting = types.index("relay.turn.waiting")
    decided = types.index("relay.approval.response")
    assert waiting < decided < types.index("relay.request.started", waiting)
    assert stored[waiting]["event"]["approval_request_ids"] == [request["id"]]
    assert stored[decided]["event"] == {**sent, "type": "relay.approval.response"}


async def test_an_answer_to_no_pending_request_is_a_409(relay: Relay) -> None:
    turn = await waiting_turn(relay)
    assert (await answer(relay.client, turn, "mcpr_nothing", True)).status_code == 409
    (request,) = [i for i in turn.output if i["type"] == "mcp_approval_request"]
    assert (await answer(relay.client, turn, request["id"], False)).status_code == 202
    assert (await answer(relay.client, turn, request["id"], True)).status_code == 409
    assert (await relay.wait_done(turn.pk)).status == "completed"


async def test_another_users_approval_is_a_404_and_changes_nothing(relay: Relay) -> None:
    turn = await waiting_turn(relay)
    (request,) = [i for i in turn.output if i["type"] == "mcp_approval_request"]
    bob = await sync_to_async(get_user_model().objects.create_user)("bob", password="pw-bob-1")
    client = AsyncClient()
    await client.aforce_login(bob)
    assert (await answer(client, turn, request["id"], True)).status_code == 404
    await turn.arefresh_from_db()
    assert turn.status == "waiting" and turn.approvals == {}


async def test_a_waiting_turn_can_be_stopped_and_keeps_what_streamed(relay: Relay) -> None:
    turn = await waiting_turn(relay)
    response = await relay.client.post(f"/api/turns/{turn.pk}/cancel")
    assert response.status_code == 202
    done = await relay.wait_done(turn.pk)
    assert done.status == "cancelled"
    assert [i["type"] for i in done.output] == ["mcp_list_tools", "mcp_approval_request"]


async def test_a_turn_nobody_answers_in_time_ends_incomplete_with_a_message(
    relay: Relay, settings
) -> None:
    """The sweep ends a turn left waiting past RELAY_APPROVAL_TIMEOUT: `incomplete`, what
    streamed kept, the reason in the log and on the row; a late answer is a 409."""
    settings.RELAY_APPROVAL_TIMEOUT = 600
    turn = await waiting_turn(relay)
    await sweep_once(owner="sweep.test")
    await turn.arefresh_from_db()
    assert turn.status == "waiting"  # not yet past the timeout
    past = turn.waiting_since - timedelta(seconds=601)
    await Turn.objects.filter(pk=turn.pk).aupdate(waiting_since=past)
    await sweep_once(owner="sweep.test")
    done = await relay.wait_done(turn.pk)
    assert done.status == "incomplete"
    assert "approval" in done.error and "10 minutes" in done.error
    assert [i["type"] for i in done.output] == ["mcp_list_tools", "mcp_approval_request"]
    assert done.lease_owner == "" and done.waiting_since is None
    stored = await relay.stored(turn.pk)
    assert [e["seq"] for e in stored] == list(range(len(stored)))
    last = stored[-1]["event"]
    assert last["type"] == "relay.turn.done" and last["status"] == "incomplete"
    assert last["error"] == done.error
    (request,) = [i for i in done.output if i["type"] == "mcp_approval_request"]
    assert (await answer(relay.client, done, request["id"], True)).status_code == 409
