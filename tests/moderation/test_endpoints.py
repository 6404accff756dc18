"""Moderation's own endpoint, against real HTTP servers: one that does not exist is asked once
and the rules moderate (the turn says so); one that fails gets a bounded number of requests
over many turns; `MODERATION_BASE_URL` and `MODERATION_API_KEY` are the ones used."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from streaming.moderation.endpoints import ModerationEndpoints
from streaming.moderation.moderators import (
    EndpointOrRules,
    ModerationError,
    OpenAIModerator,
    moderator_from_settings,
)
from tests.local_servers import LocalServer, serving, sse
from tests.moderation.test_moderation import wait_moderated
from tests.relay_harness import Relay
from tests.upstream.test_transports import COMPLETED, CREATED, delta

pytestmark = pytest.mark.django_db(transaction=True)

FLAGGED_INPUT = "how do I build a bomb?"


def moderations_asked(server: LocalServer) -> list[Any]:
    return [seen for seen in server.seen if seen.target.endswith("/moderations")]


@pytest.fixture
def upstream(relay_settings: Any, local_server: LocalServer) -> LocalServer:
    """The relay's upstream is `local_server`, with a key; turns are checked after they end."""
    local_server.chunks = sse(CREATED, delta("An answer."), COMPLETED)
    relay_settings.OPENAI_BASE_URL = local_server.url + "/v1"
    relay_settings.OPENAI_API_KEY = "sk-upstream"
    relay_settings.MODERATION_MODE = "after"
    relay_settings.MODERATION_RETRY_DELAY = 0.01
    return local_server


async def moderated_turns(relay: Relay, count: int) -> list[Any]:
    """`count` turns one after another, each once its check has stored a verdict."""
    turns = []
    for _ in range(count):
        turn_id = await relay.start(FLAGGED_INPUT)
        await relay.wait_done(turn_id)
        turns.append(await wait_moderated(turn_id))
    return turns


async def test_an_endpoint_that_does_not_exist_is_asked_once_and_the_rules_moderate(
    relay: Relay, upstream: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 404 at `/moderations` is noted once (one request, one log line); every turn is
    moderated by the rules, and says why on the admin's turn page."""
    upstream.routes = {"/v1/moderations": (404, "application/json", b'{"detail":"Not Found"}')}
    with caplog.at_level(logging.WARNING, logger="streaming.moderation.endpoints"):
        turns = await moderated_turns(relay, 3)
    assert len(moderations_asked(upstream)) == 1
    assert len([r for r in caplog.records if "no such endpoint" in r.getMessage()]) == 1
    for turn in turns:
        assert turn.status == "completed"
        assert turn.moderation_status == "flagged" and turn.flagged
        assert turn.moderation["source"] == "rules"
        assert "answered HTTP 404" in turn.moderation["fallback"]
        assert "failures" not in turn.moderation

    staff = await sync_to_async(get_user_model().objects.create_superuser)("root", password="pw-r")
    admin = AsyncClient()
    await admin.aforce_login(staff)
    page = await admin.get(f"/admin/streaming/turn/{turns[-1].pk}/change/")
    assert page.status_code == 200
    assert "answered HTTP 404: no such endpoint there" in page.content.decode()


async def test_hold_mode_goes_on_with_the_rules_when_the_endpoint_does_not_exist(
    relay: Relay, upstream: LocalServer, relay_settings: Any
) -> None:
    """The first held checkpoint finds the endpoint missing; the rules pass the held text
    (the turn is not failed as "unavailable"), and no check asks the endpoint again."""
    upstream.routes = {"/v1/moderations": (404, "text/plain", b"Not Found")}
    relay_settings.MODERATION_MODE = "hold"
    turns = await moderated_turns(relay, 2)
    assert len(moderations_asked(upstream)) == 1
    for turn in turns:
        assert turn.status == "completed" and turn.output_text == "An answer."
        assert turn.moderation["hold"]["checkpoints"] == 1
        assert turn.moderation["source"] == "rules" and turn.moderation_status == "flagged"


async def test_a_failing_endpoint_gets_a_bounded_number_of_requests_over_many_turns(
    relay: Relay, upstream: LocalServer, relay_settings: Any
) -> None:
    """Answering 500, the endpoint is asked `MODERATION_PAUSE_AFTER` times in all (not each
    turn's four attempts); then it rests, and the rules moderate, saying why."""
    upstream.routes = {"/v1/moderations": (500, "text/plain", b"Internal Server Error")}
    relay_settings.MODERATION_RETRIES = 3
    relay_settings.MODERATION_PAUSE_AFTER = 3
    relay_settings.MODERATION_PAUSE_SECONDS = 3600
    turns = await moderated_turns(relay, 5)
    assert len(moderations_asked(upstream)) == 3
    first, *others = turns
    assert first.moderation["failures"] == ["moderations answered HTTP 500"] * 3
    for turn in turns:
        assert turn.moderation_status == "flagged" and turn.moderation["source"] == "rules"
        assert "failed 3 times in a row" in turn.moderation["fallback"]
    assert all("failures" not in turn.moderation for turn in others)


async def test_moderation_posts_to_its_own_base_url_with_its_own_key(
    relay: Relay, upstream: LocalServer, relay_settings: Any
) -> None:
    """With `MODERATION_BASE_URL` and `MODERATION_API_KEY`, the check goes there with that
    bearer; the upstream is asked for responses only, with its own key."""
    verdict = {
        "flagged": True,
        "categories": {"violence": True},
        "category_scores": {"violence": 0.9},
    }
    answer = json.dumps({"results": [verdict, {**verdict, "flagged": False}]}).encode()
    async with serving() as checker:
        checker.routes = {"/moderations": (200, "application/json", answer)}
        relay_settings.MODERATION_BASE_URL = checker.url + "/guard/v1"
        relay_settings.MODERATION_API_KEY = "sk-moderation"
        (turn,) = await moderated_turns(relay, 1)
    (asked,) = checker.seen
    assert (asked.method, asked.target) == ("POST", "/guard/v1/moderations")
    assert asked.headers["authorization"] == "Bearer sk-moderation"
    assert json.loads(asked.body)["input"] == [FLAGGED_INPUT, "An answer."]
    assert moderations_asked(upstream) == []
    responses = [s for s in upstream.seen if s.target == "/v1/responses"]
    assert [s.headers["authorization"] for s in responses] == ["Bearer sk-upstream"]
    assert turn.moderation["source"] == "openai" and turn.moderation_status == "flagged"
    assert "fallback" not in turn.moderation


def test_the_moderation_settings_default_to_the_upstreams(settings: Any) -> None:
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-up", "https://proxy.test/v1"
    settings.MODERATION_API_KEY = settings.MODERATION_BASE_URL = ""
    moderator = moderator_from_settings()
    assert isinstance(moderator, EndpointOrRules)
    assert moderator.endpoint.url == "https://proxy.test/v1/moderations"
    assert moderator.endpoint.api_key == "sk-up"
    settings.MODERATION_BASE_URL = "https://guard.test/v1"
    settings.MODERATION_API_KEY = "sk-guard"
    moderator = moderator_from_settings()
    assert isinstance(moderator, EndpointOrRules)
    assert (moderator.endpoint.url, moderator.endpoint.api_key) == (
        "https://guard.test/v1/moderations",
        "sk-guard",
    )


async def test_a_resting_endpoint_is_asked_again_once_its_rest_is_over(settings: Any) -> None:
    """After the rest, one check asks again: a failure sends it back to rest at once, an
    answer ends the failures in a row."""
    settings.MODERATION_PAUSE_AFTER = 2
    settings.MODERATION_PAUSE_SECONDS = 60
    now = [0.0]
    statuses = [500, 500, 500, 200, 200]
    asked: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(statuses[len(asked)])
        if asked[-1] != 200:
            return httpx.Response(asked[-1])
        return httpx.Response(200, json={"results": [{"flagged": False}]})

    endpoints = ModerationEndpoints(clock=lambda: now[0])
    moderator = OpenAIModerator(
        base_url="https://guard.test/v1",
        api_key="k",
        model="m",
        timeout=5,
        transport=httpx.MockTransport(answer),
        endpoints=endpoints,
    )
    checker = EndpointOrRules(moderator)
    for _ in range(2):
        with pytest.raises(ModerationError):
            await checker.check(["text"])
    await checker.check(["text"])
    assert len(asked) == 2 and checker.name == "rules"
    now[0] = 61
    with pytest.raises(ModerationError):
        await checker.check(["text"])
    await checker.check(["text"])
    assert len(asked) == 3 and checker.name == "rules"
    now[0] = 122
    await checker.check(["text"])
    assert len(asked) == 4 and checker.name == "openai" and checker.fallback == ""
    now[0] = 123
    await checker.check(["text"])
    assert len(asked) == 5 and checker.name == "openai"
