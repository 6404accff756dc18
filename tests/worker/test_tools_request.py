"""The request body the upstream receives carries exactly the turn's chosen tools: hosted
and MCP tool objects verbatim (the MCP token read from the environment when sent), function
plug-ins as schemas made from their signatures; tools not chosen are not sent."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from streaming.models import Conversation, ToolEntry
from streaming.services import turns as services
from streaming.simulator.params import Params
from streaming.simulator.scenarios import build_events
from streaming.upstream.client import UpstreamConfig, make_client
from streaming.worker.runner import TurnRun

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "tok-request-body-93c1"
HOSTED = {
    "web": {"type": "web_search"},
    "files": {"type": "file_search", "vector_store_ids": ["vs_docs"], "max_num_results": 4},
    "python": {"type": "code_interpreter", "container": {"type": "auto"}},
    "image": {"type": "image_generation", "size": "1024x1024", "partial_images": 1},
    "docs": {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://docs.example.test/mcp",
        "allowed_tools": ["search_docs"],
        "require_approval": "never",
        "headers": {"Authorization": "env:TEST_BODY_MCP_TOKEN"},
    },
}


def catalogue() -> None:
    ToolEntry.objects.all().delete()
    for name, tool in HOSTED.items():
        ToolEntry.objects.create(name=name, label=name.title(), tool=tool)
    ToolEntry.objects.create(
        name="current_time", label="Time", function="streaming.tools.builtins:current_time"
    )
    ToolEntry.objects.create(name="unused", label="Unused", tool={"type": "web_search_preview"})


def upstream(bodies: list[dict[str, Any]]) -> httpx.MockTransport:
    """Records each request body; answers a plain text stream."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        events = build_events({**body, "tools": []}, Params(scenario="markdown"))
        text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handler)


def start_turn(names: list[str]) -> Any:
    owner = get_user_model().objects.create_user("alice", password="pw-alice-1")
    conversation = Conversation.objects.create(owner=owner)
    turn = services.turn_start(conversation=conversation, text="hi", model="gpt-5", tools=names)
    return services.turn_claim(turn_id=turn.pk, owner="test-worker")


async def test_the_body_carries_the_chosen_tools_verbatim_and_functions_as_schemas(
    settings, monkeypatch
) -> None:
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = "http://upstream.test/v1", "sk-test"
    settings.MODERATION_MODE = "off"
    monkeypatch.setenv("TEST_BODY_MCP_TOKEN", TOKEN)
    await sync_to_async(catalogue)()
    chosen = ["web", "files", "python", "image", "docs", "current_time"]
    turn = await sync_to_async(start_turn)(chosen)
    bodies: list[dict[str, Any]] = []
    client = make_client(UpstreamConfig.from_settings(), transport=upstream(bodies))
    async with client:
        await TurnRun(turn, owner="test-worker", client=client).run()
    await turn.arefresh_from_db()
    assert turn.status == "completed", turn.error
    (body,) = bodies
    tools = body["tools"]
    assert tools[:5] == [
        *(HOSTED[name] for name in ("web", "files", "python", "image")),
        {**HOSTED["docs"], "headers": {"Authorization": TOKEN}},
    ]
    (function,) = tools[5:]
    assert set(function) == {"type", "name", "description", "parameters", "strict"}
    assert function["type"] == "function" and function["name"] == "current_time"
    assert function["description"] == "The current date and time in a time zone."
    zone = function["parameters"]["properties"]["timezone"]
    assert zone["type"] == "string" and "IANA" in zone["description"]


async def test_a_turn_without_tools_sends_no_tools(settings) -> None:
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = "http://upstream.test/v1", "sk-test"
    settings.MODERATION_MODE = "off"
    await sync_to_async(catalogue)()
    turn = await sync_to_async(start_turn)([])
    bodies: list[dict[str, Any]] = []
    client = make_client(UpstreamConfig.from_settings(), transport=upstream(bodies))
    async with client:
        await TurnRun(turn, owner="test-worker", client=client).run()
    (body,) = bodies
    assert "tools" not in body
