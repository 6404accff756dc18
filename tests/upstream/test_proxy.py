"""`HTTP_PROXY` is honoured: the upstream client, the OpenAI moderator and `/readyz` reach a
provider that only the proxy can reach. The local server plays the proxy; the absolute-form
target it receives shows the request went through it (`models.invalid` does not resolve)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from streaming.moderation.moderators import OpenAIModerator
from streaming.upstream.client import make_client
from streaming.web.health import check_upstream
from tests.local_servers import sse
from tests.upstream.test_transports import COMPLETED, CREATED, KINDS, config_for, delta, stream

PROVIDER = "http://models.invalid"


@pytest.fixture
def proxied(monkeypatch, local_server):
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", local_server.url)
    monkeypatch.setenv("http_proxy", local_server.url)
    return local_server


@pytest.mark.parametrize("kind", KINDS)
async def test_the_upstream_is_reached_through_http_proxy(proxied, kind):
    proxied.chunks = sse(CREATED, delta("via proxy"), COMPLETED)
    config = config_for(PROVIDER, kind)
    async with make_client(config) as client:
        assert "via proxy" in await stream(client, config)
    assert proxied.seen[0].target == PROVIDER + "/v1/responses"


@pytest.mark.parametrize("kind", KINDS)
async def test_no_proxy_bypasses_it(proxied, monkeypatch, kind):
    monkeypatch.setenv("NO_PROXY", "models.invalid")
    config = replace(config_for(PROVIDER, kind), connect_timeout=2.0)
    async with make_client(config) as client:
        with pytest.raises(Exception):  # noqa: B017 - straight to a name that does not resolve
            await stream(client, config)
    assert proxied.seen == []


async def test_the_moderator_goes_through_the_proxy_on_the_shared_client(proxied):
    results = {"results": [{"flagged": False, "categories": {}, "category_scores": {}}]}
    proxied.chunks = [json.dumps(results).encode()]
    async with make_client(config_for(PROVIDER, "aiohttp")) as client:
        moderator = OpenAIModerator(
            base_url=PROVIDER + "/v1", api_key="k", model="m", timeout=5, client=client
        )
        verdicts = await moderator.check(["hello"])
    assert verdicts[0].flagged is False
    assert proxied.seen[0].target == PROVIDER + "/v1/moderations"


async def test_readyz_checks_the_upstream_through_the_proxy(proxied, settings):
    settings.OPENAI_BASE_URL = PROVIDER + "/v1"
    assert (await check_upstream())["http_status"] == 200
    assert proxied.seen[0].target == PROVIDER + "/v1/"
