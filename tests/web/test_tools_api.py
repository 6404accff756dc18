"""Choosing tools for a turn: `GET /api/tools` lists what the user may use, a turn takes
`tools` by name (absent: the defaults), and the upstream receives exactly those tools, with
no credential reaching the log, the API or the server's log."""

from __future__ import annotations

import json
import logging

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group

from streaming.models import ToolEntry, Turn
from streaming.worker import runner
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "tok-mcp-secret-51d2"
MCP = {
    "type": "mcp",
    "server_label": "docs",
    "server_url": "https://docs.example.test/mcp",
    "require_approval": "never",
    "headers": {"Authorization": "env:TEST_DOCS_MCP_TOKEN"},
}


def catalogue() -> None:
    ToolEntry.objects.all().delete()
    ToolEntry.objects.create(name="web", label="Web", tool={"type": "web_search"}, default=True)
    ToolEntry.objects.create(name="docs", label="Docs", tool=MCP)
    ToolEntry.objects.create(
        name="now", label="Time", function="streaming.tools.builtins:current_time", default=True
    )
    staff_only = ToolEntry.objects.create(
        name="code", label="Code", tool={"type": "code_interpreter", "container": {"type": "auto"}}
    )
    staff_only.groups.add(Group.objects.create(name="coders"))
    ToolEntry.objects.create(name="off", label="Off", tool={"type": "web_search"}, enabled=False)


async def test_it_lists_the_tools_the_user_may_use(relay: Relay) -> None:
    await sync_to_async(catalogue)()
    listed = (await relay.client.get("/api/tools")).json()["tools"]
    assert listed == [
        {"name": "docs", "label": "Docs", "kind": "mcp", "default": False},
        {"name": "now", "label": "Time", "kind": "function", "default": True},
        {"name": "web", "label": "Web", "kind": "web_search", "default": True},
    ]
    await sync_to_async(relay.user.groups.add)(await Group.objects.aget(name="coders"))
    listed = (await relay.client.get("/api/tools")).json()["tools"]
    assert "code" in {t["name"] for t in listed}
    assert TOKEN not in json.dumps(listed) and "env:" not in json.dumps(listed)


@pytest.mark.parametrize("name", ["code", "off", "nothing", 3])
async def test_a_tool_the_user_may_not_use_is_a_400_naming_it(relay: Relay, name) -> None:
    await sync_to_async(catalogue)()
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, "hi", tools=["web", name])
    assert response.status_code == 400
    assert str(name) in response.json()["error"] or "list of tool names" in response.json()["error"]
    assert not await Turn.objects.filter(conversation_id=conversation).aexists()


async def test_without_tools_a_turn_takes_the_defaults(relay: Relay) -> None:
    await sync_to_async(catalogue)()
    turn = await relay.wait_done(await relay.start("hi [sim:markdown tps=0]"))
    assert turn.tools == ["now", "web"]


async def test_the_upstream_receives_exactly_the_chosen_tools_and_no_secret_leaks(
    relay: Relay, monkeypatch, caplog
) -> None:
    """The simulator echoes the request's tools in `response.created` (as OpenAI does,
    without an MCP server's headers); the worker read the token from the environment."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TEST_DOCS_MCP_TOKEN", TOKEN)
    await sync_to_async(catalogue)()
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, "hi [sim:markdown tps=0]", tools=["docs", "now"])
    assert response.status_code == 202, response.content
    turn = await relay.wait_done(response.json()["id"])
    assert turn.status == "completed", turn.error
    stored = await relay.stored(turn.pk)
    created = next(e["event"] for e in stored if e["event"]["type"] == "response.created")
    docs, now = created["response"]["tools"]
    assert docs == {k: v for k, v in MCP.items() if k != "headers"}
    assert now["type"] == "function" and now["name"] == "now"
    assert now["parameters"]["properties"]["timezone"]["type"] == "string"
    sent = await sync_to_async(runner._turn_tools)(turn)  # what the request carried
    assert [t.get("name", t["type"]) for t in sent.request] == ["mcp", "now"]
    assert sent.request[0] == {**MCP, "headers": {"Authorization": TOKEN}}
    assert list(sent.functions) == ["now"]
    api = (await relay.client.get(f"/api/turns/{turn.pk}")).content.decode()
    assert TOKEN not in json.dumps(stored) and TOKEN not in api and TOKEN not in caplog.text


async def test_a_missing_secret_fails_the_turn_naming_the_variable(relay: Relay, monkeypatch):
    monkeypatch.delenv("TEST_DOCS_MCP_TOKEN", raising=False)
    await sync_to_async(catalogue)()
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, "hi [sim:markdown]", tools=["docs"])
    turn = await relay.wait_done(response.json()["id"])
    assert turn.status == "failed" and "TEST_DOCS_MCP_TOKEN" in turn.error
