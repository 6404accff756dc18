"""The upstream client over both real HTTP clients (UPSTREAM_HTTP_CLIENT), against a server
on a real socket: events across chunks, gzip, a pool that reuses its connection, a refused
connection retried, a connection cut mid-stream."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace
from typing import Any

import httpx
import pytest
from httpx_aiohttp import HttpxAiohttpClient

from streaming.upstream.client import UpstreamConfig, UpstreamError, make_client, stream_response
from tests.local_servers import sse
from tests.upstream.test_client import CONFIG as CLIENT_CONFIG

KINDS = ["aiohttp", "httpx"]
RESPONSE = {"id": "resp_1", "status": "in_progress", "output": []}
CREATED = {"type": "response.created", "response": RESPONSE}
COMPLETED = {"type": "response.completed", "response": {**RESPONSE, "status": "completed"}}


def delta(text: str) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "output_index": 0,
        "content_index": 0,
        "delta": text,
    }


def config_for(url: str, kind: str, **changes: Any) -> UpstreamConfig:
    """test_client's config (short timeouts and backoff) aimed at `url`, over `kind`,
    with time for a real socket and no retries unless asked."""
    real = {"connect_timeout": 2.0, "first_event_timeout": 5.0, "idle_timeout": 5.0}
    return replace(
        CLIENT_CONFIG,
        **{"base_url": url + "/v1", "http_client": kind, "max_retries": 0, **real, **changes},
    )


async def stream(client: httpx.AsyncClient, config: UpstreamConfig) -> list[str]:
    texts: list[str] = []

    def on_batch(batch: list[Any]) -> None:
        texts.extend(getattr(event, "delta", event.type) for _, event in batch)

    async with asyncio.timeout(10):
        await stream_response(
            client=client, config=config, body={"model": "m", "input": "hi"}, on_batch=on_batch
        )
    return texts


def test_the_setting_picks_the_client_class():
    config = config_for("http://127.0.0.1:9", "aiohttp")
    assert isinstance(make_client(config), HttpxAiohttpClient)
    plain = make_client(replace(config, http_client="httpx"))
    assert type(plain) is httpx.AsyncClient


@pytest.mark.parametrize("kind", KINDS)
async def test_events_split_across_chunks_arrive_whole_and_in_order(local_server, kind):
    wire = b"".join(sse(CREATED, delta("Hel"), delta("lo ✓"), COMPLETED))
    local_server.chunks = [wire[i : i + 7] for i in range(0, len(wire), 7)]
    config = config_for(local_server.url, kind)
    async with make_client(config) as client:
        texts = await stream(client, config)
    assert texts == ["response.created", "Hel", "lo ✓", "response.completed"]
    seen = local_server.seen[0]
    assert (seen.method, seen.target) == ("POST", "/v1/responses")
    assert seen.headers["authorization"] == f"Bearer {CLIENT_CONFIG.api_key}"
    assert json.loads(seen.body)["stream"] is True


@pytest.mark.parametrize("kind", KINDS)
async def test_a_gzip_encoded_stream_is_decoded(local_server, kind):
    local_server.chunks = sse(CREATED, delta("zipped"), COMPLETED)
    local_server.gzip_body = True
    config = config_for(local_server.url, kind)
    async with make_client(config) as client:
        assert "zipped" in await stream(client, config)


@pytest.mark.parametrize("kind", KINDS)
async def test_one_client_reuses_its_connection_for_the_next_turn(local_server, kind):
    local_server.chunks = sse(CREATED, delta("a"), COMPLETED)
    config = config_for(local_server.url, kind)
    async with make_client(config) as client:
        for _ in range(3):
            assert "a" in await stream(client, config)
    assert len(local_server.seen) == 3
    assert local_server.connections == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_concurrent_streams_each_get_their_own_events(local_server, kind):
    local_server.chunks = sse(CREATED, *(delta(str(i)) for i in range(20)), COMPLETED)
    config = config_for(local_server.url, kind)
    async with make_client(config) as client:
        results = await asyncio.gather(*(stream(client, config) for _ in range(12)))
    assert all(r[1:-1] == [str(i) for i in range(20)] for r in results)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_refused_connection_is_retried_then_reported_as_connect(kind):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = config_for(f"http://127.0.0.1:{port}", kind, max_retries=1)
    async with make_client(config) as client:
        with pytest.raises(UpstreamError) as raised:
            await stream(client, config)
    assert raised.value.kind == "connect"
    assert raised.value.retryable
    assert raised.value.message.startswith("upstream connection failed")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_connection_cut_mid_stream_keeps_the_events_and_says_closed(local_server, kind):
    local_server.chunks = sse(CREATED, delta("kept"), delta("lost"), COMPLETED)
    local_server.cut_after = 2
    config = config_for(local_server.url, kind)
    got: list[str] = []

    def on_batch(batch: list[Any]) -> None:
        got.extend(getattr(event, "delta", event.type) for _, event in batch)

    async with make_client(config) as client:
        with pytest.raises(UpstreamError) as raised:
            await stream_response(
                client=client, config=config, body={"model": "m"}, on_batch=on_batch
            )
    assert got == ["response.created", "kept"]
    assert raised.value.kind == "closed"
    assert raised.value.message == "the upstream connection closed mid-stream"
    assert len(local_server.seen) == 1  # never retried once events arrived
