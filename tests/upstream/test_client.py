"""The upstream client against `httpx.MockTransport`: events, failures, retries, timeouts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from streaming.upstream import client as upstream
from streaming.upstream.client import UpstreamConfig, UpstreamError, make_client, stream_response

CONFIG = UpstreamConfig(
    base_url="http://upstream.test/v1",
    api_key="sk-test-123",
    connect_timeout=1.0,
    first_event_timeout=1.0,
    idle_timeout=1.0,
    max_retries=2,
    retry_base_delay=0.001,
    retry_max_delay=0.002,
)
SSE = {"content-type": "text/event-stream"}


def frame(type_: str, **fields: Any) -> bytes:
    return f"event: {type_}\ndata: {json.dumps({'type': type_, **fields})}\n\n".encode()


RESPONSE = {"id": "resp_1", "status": "in_progress", "output": []}
CREATED = frame("response.created", response=RESPONSE)
DELTA = frame("response.output_text.delta", output_index=0, content_index=0, delta="Hi")
COMPLETED = frame("response.completed", response={**RESPONSE, "status": "completed"})
FAILED = frame(
    "response.failed",
    response={**RESPONSE, "status": "failed", "error": {"code": "quota", "message": "no quota"}},
)
ERROR = frame("error", error={"type": "quota", "code": "quota", "message": "no quota"})


class Body(httpx.AsyncByteStream):
    """A body made of chunks, pauses (seconds, as floats) and exceptions to raise."""

    def __init__(self, *parts: bytes | float | Exception) -> None:
        self.parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if isinstance(part, float):
                await asyncio.sleep(part)
            elif isinstance(part, Exception):
                raise part
            else:
                yield part


def sse(*parts: bytes | float | Exception) -> httpx.Response:
    return httpx.Response(200, headers=SSE, stream=Body(*parts))


class Upstream:
    """A MockTransport handler answering with the given responses in turn; keeps requests."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[], Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return await answer()
        return answer


async def run(
    server: Upstream,
    config: UpstreamConfig = CONFIG,
    got: list[list[tuple[str, Any]]] | None = None,
    body: dict[str, Any] | None = None,
) -> list[list[tuple[str, Any]]]:
    """All batches the stream yields; `got` receives them as they come, for failing streams."""
    got = [] if got is None else got
    async with (
        asyncio.timeout(5),
        make_client(config, transport=httpx.MockTransport(server)) as client,
    ):
        await stream_response(
            client=client,
            config=config,
            body=body or {"model": "m", "input": "hi"},
            on_batch=got.append,
        )
    return got


def types(batches: list[list[tuple[str, Any]]]) -> list[str]:
    return [event.type for batch in batches for _, event in batch]


async def test_it_yields_every_event_in_batches_per_chunk():
    """Each network chunk's complete frames come as one batch of (raw json, event)."""
    server = Upstream(sse(CREATED + DELTA[:10], DELTA[10:] + DELTA, COMPLETED))
    batches = await run(server)
    assert [[event.type for _, event in batch] for batch in batches] == [
        ["response.created"],
        ["response.output_text.delta", "response.output_text.delta"],
        ["response.completed"],
    ]
    assert batches[0][0][0] == CREATED.decode().split("data: ", 1)[1].strip()


async def test_the_request_is_a_streaming_post_with_the_bearer_key():
    """The request posts to <base>/responses with stream=true, the body and the API key."""
    server = Upstream(sse(CREATED, COMPLETED))
    await run(server, body={"model": "gpt-x", "input": "hello"})
    (request,) = server.requests
    assert (request.method, str(request.url)) == ("POST", "http://upstream.test/v1/responses")
    assert request.headers["authorization"] == "Bearer sk-test-123"
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.content) == {"model": "gpt-x", "input": "hello", "stream": True}


async def test_an_http_error_carries_the_status_and_the_upstreams_message():
    """A non-2xx answer is kind http, with its status and the upstream's error.message."""
    error = {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    server = Upstream(httpx.Response(401, json=error))
    with pytest.raises(UpstreamError) as raised:
        await run(server)
    assert (raised.value.kind, raised.value.status) == ("http", 401)
    assert raised.value.message == "HTTP 401: Incorrect API key provided"
    assert len(server.requests) == 1


async def test_an_http_error_without_json_shows_the_body_text():
    """A non-JSON error body is shown (trimmed) instead of an error.message."""
    server = Upstream(httpx.Response(400, text="  bad gateway config \n"))
    with pytest.raises(UpstreamError) as raised:
        await run(server)
    assert raised.value.message == "HTTP 400: bad gateway config"


async def test_a_json_answer_instead_of_a_stream_is_not_sse():
    """A 200 with application/json is kind not_sse and is not retried."""
    server = Upstream(httpx.Response(200, json={"id": "resp_1", "output": []}))
    with pytest.raises(UpstreamError) as raised:
        await run(server)
    assert raised.value.kind == "not_sse"
    assert "application/json" in raised.value.message
    assert len(server.requests) == 1


async def test_a_429_is_retried_honouring_retry_after():
    """A 429 with Retry-After: 0 is retried at once (the backoff would take minutes)."""
    slow = replace(CONFIG, retry_base_delay=600.0, retry_max_delay=600.0)
    limited = httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "slow"}})
    server = Upstream(limited, sse(CREATED, COMPLETED))
    batches = await run(server, slow)
    assert types(batches) == ["response.created", "response.completed"]
    assert len(server.requests) == 2


async def test_retries_stop_after_max_retries():
    """A server that keeps answering 503 is tried 1 + max_retries times, then reported."""
    server = Upstream(httpx.Response(503, json={"error": {"message": "overloaded"}}))
    with pytest.raises(UpstreamError) as raised:
        await run(server)
    assert (raised.value.kind, raised.value.status) == ("http", 503)
    assert len(server.requests) == 1 + CONFIG.max_retries


async def test_a_client_error_is_not_retried():
    """A 400 is not retryable."""
    server = Upstream(httpx.Response(400, json={"error": {"message": "bad"}}), sse(COMPLETED))
    with pytest.raises(UpstreamError):
        await run(server)
    assert len(server.requests) == 1


async def test_a_connection_error_is_retried_then_reported_as_connect():
    """Connection failures are retried, and reported as kind connect when they persist."""
    server = Upstream(httpx.ConnectError("connection refused"))
    with pytest.raises(UpstreamError) as raised:
        await run(server)
    assert raised.value.kind == "connect"
    assert "connection refused" in raised.value.message
    assert len(server.requests) == 1 + CONFIG.max_retries


async def test_a_connection_error_then_success_recovers():
    """A connection failure before the first event is retried and the stream goes on."""
    server = Upstream(httpx.ConnectError("refused"), sse(CREATED, COMPLETED))
    assert types(await run(server)) == ["response.created", "response.completed"]


async def test_a_connection_broken_after_the_first_event_is_not_retried():
    """Once an event was yielded, a broken connection ends the stream, said as such."""
    server = Upstream(sse(CREATED, httpx.ConnectError("reset")), sse(CREATED, COMPLETED))
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        await run(server, got=got)
    assert raised.value.kind == "closed"
    assert "mid-stream" in raised.value.message
    assert types(got) == ["response.created"]
    assert len(server.requests) == 1


async def test_a_500_after_the_first_event_is_not_retried(monkeypatch):
    """An HTTP 500 failure raised after a batch was yielded is not retried."""
    attempts = []

    async def once(client, config, body, on_batch):
        attempts.append(1)
        on_batch([("{}", None)])
        raise UpstreamError("http", "HTTP 500: boom", status=500)

    monkeypatch.setattr(upstream, "_stream_once", once)
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        await stream_response(client=None, config=CONFIG, body={}, on_batch=got.append)
    assert raised.value.status == 500
    assert (len(got), len(attempts)) == (1, 1)


async def test_a_500_before_the_first_event_is_retried(monkeypatch):
    """The same HTTP 500 failure before anything was yielded is retried."""
    attempts = []

    async def once(client, config, body, on_batch):
        attempts.append(1)
        if len(attempts) == 1:
            raise UpstreamError("http", "HTTP 500: boom", status=500)
        on_batch([("{}", None)])

    monkeypatch.setattr(upstream, "_stream_once", once)
    got: list[Any] = []
    await stream_response(client=None, config=CONFIG, body={}, on_batch=got.append)
    assert (len(got), len(attempts)) == (1, 2)


async def test_a_malformed_frame_fails_after_the_events_before_it():
    """A frame whose data is not JSON is kind malformed; the good events before it, even in
    the same chunk, were yielded first."""
    server = Upstream(sse(CREATED + DELTA + b"data: {not json\n\n" + COMPLETED))
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        await run(server, got=got)
    assert raised.value.kind == "malformed"
    assert types(got) == ["response.created", "response.output_text.delta"]
    assert len(server.requests) == 1


async def test_a_malformed_first_frame_fails_at_once():
    """A stream whose first frame is not JSON fails as malformed, yielding nothing."""
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(sse(b"data: [1, 2]\n\n", CREATED)), got=got)
    assert raised.value.kind == "malformed"
    assert got == []


async def test_a_body_ending_without_a_terminal_event_is_closed():
    """The body ending before a terminal event is kind closed, after the events it had."""
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(sse(CREATED, DELTA)), got=got)
    assert raised.value.kind == "closed"
    assert types(got) == ["response.created", "response.output_text.delta"]


async def test_a_connection_cut_mid_body_is_closed():
    """A transport error while reading the body is kind closed."""
    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(sse(CREATED, httpx.ReadError("cut"))))
    assert raised.value.kind == "closed"


async def test_a_last_frame_missing_its_blank_line_still_ends_the_stream():
    """A terminal frame without its final blank line is delivered at the end of the body."""
    assert types(await run(Upstream(sse(CREATED, COMPLETED[:-1])))) == [
        "response.created",
        "response.completed",
    ]


async def test_done_ends_the_stream():
    """`data: [DONE]` ends the stream cleanly; frames after it are ignored."""
    server = Upstream(sse(CREATED + DELTA + b"data: [DONE]\n\n" + DELTA, 5.0))
    assert types(await run(server)) == ["response.created", "response.output_text.delta"]


async def test_it_stops_at_the_terminal_event():
    """Nothing after a terminal event is read, even if the server keeps the stream open."""
    server = Upstream(sse(CREATED, COMPLETED + DELTA, 5.0, DELTA))
    assert types(await run(server)) == ["response.created", "response.completed"]


async def test_an_error_event_is_followed_to_its_response_failed():
    """After an `error` event the stream goes on to the response.failed that follows it."""
    server = Upstream(sse(CREATED, ERROR, FAILED, 5.0))
    assert types(await run(server)) == ["response.created", "error", "response.failed"]


async def test_a_stream_ending_after_an_error_event_ends_cleanly():
    """A body ending right after an `error` event is not reported as closed."""
    assert types(await run(Upstream(sse(CREATED, ERROR)))) == ["response.created", "error"]


async def test_silence_after_an_error_event_ends_cleanly():
    """Waiting in vain for a response.failed after an `error` ends without a timeout error."""
    config = replace(CONFIG, idle_timeout=0.05)
    assert types(await run(Upstream(sse(CREATED, ERROR, 5.0)), config)) == [
        "response.created",
        "error",
    ]


async def test_no_first_event_in_time_is_a_first_event_timeout():
    """Headers but no event within first_event_timeout: kind timeout, about the first event."""
    config = replace(CONFIG, first_event_timeout=0.05, max_retries=0)
    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(sse(5.0, CREATED)), config)
    assert raised.value.kind == "timeout"
    assert raised.value.message == "timed out waiting for the first event from the upstream"


async def test_no_headers_in_time_is_a_first_event_timeout():
    """A server that does not even answer within first_event_timeout times out too."""
    config = replace(CONFIG, first_event_timeout=0.05, max_retries=0)

    async def never() -> httpx.Response:
        await asyncio.sleep(5)
        return sse(CREATED)

    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(never), config)
    assert raised.value.kind == "timeout"
    assert "first event" in raised.value.message


async def test_silence_after_an_event_is_an_idle_timeout():
    """No event within idle_timeout after the first: kind timeout, about the next event."""
    config = replace(CONFIG, first_event_timeout=5.0, idle_timeout=0.05)
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(sse(CREATED, 5.0, COMPLETED)), config, got=got)
    assert raised.value.kind == "timeout"
    assert raised.value.message == "timed out waiting for the next event from the upstream"
    assert types(got) == ["response.created"]


async def test_events_arriving_within_the_idle_timeout_do_not_time_out():
    """Pauses shorter than idle_timeout between events are fine, however many."""
    config = replace(CONFIG, first_event_timeout=0.2, idle_timeout=0.2)
    server = Upstream(sse(0.05, CREATED, 0.05, DELTA, 0.05, DELTA, 0.05, DELTA, 0.05, COMPLETED))
    assert len(types(await run(server, config))) == 5


async def test_the_consumers_own_time_is_not_counted():
    """A consumer slower than idle_timeout between batches does not cause a timeout."""
    config = replace(CONFIG, idle_timeout=0.05)
    server = Upstream(sse(CREATED, DELTA, COMPLETED))
    seen = []

    def on_batch(batch: list[Any]) -> Any:
        seen.extend(event.type for _, event in batch)
        return asyncio.sleep(0.15)

    async with make_client(config, transport=httpx.MockTransport(server)) as client:
        await stream_response(client=client, config=config, body={}, on_batch=on_batch)
    assert seen == ["response.created", "response.output_text.delta", "response.completed"]


async def test_a_cancel_from_outside_is_not_taken_for_a_timeout():
    """Stopping a turn cancels its task while it waits on the upstream: that cancel goes
    through as a cancel, and the stream's timer does not fire afterwards."""
    config = replace(CONFIG, first_event_timeout=0.3, idle_timeout=0.3)
    server = Upstream(sse(CREATED, 5.0, COMPLETED))
    got: list[Any] = []
    task = asyncio.ensure_future(run(server, config, got=got))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled() and types(got) == ["response.created"]
    await asyncio.sleep(0.4)  # past both deadlines: nothing cancels this test's task


# The upstream's own words, briefly (issue 20, item 3).

TRACEBACK = (
    "Traceback (most recent call last):\n"
    + '  File "/srv/proxy/app.py", line 12, in handle\n    return route(request)\n' * 40
    + "KeyError: 'choices'\n"
)


async def test_a_mid_stream_error_object_without_a_type_is_the_servers_message():
    """`data: {"error": {...}}` without `type` ends the stream with the server's message,
    after the events before it; the full frame is kept for staff."""
    bad = b'data: {"error": {"message": "model overloaded", "code": 503}}\n\n'
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(sse(CREATED + DELTA + bad)), got=got)
    assert raised.value.kind == "upstream"
    assert raised.value.message == "the upstream failed: model overloaded"
    assert "malformed" not in raised.value.message
    assert '"code": 503' in raised.value.detail
    assert types(got) == ["response.created", "response.output_text.delta"]


async def test_a_json_body_on_an_event_stream_says_what_the_server_said():
    """A 200 text/event-stream whose body is `{"detail": "Not Found"}` ends with it."""
    server = Upstream(httpx.Response(200, headers=SSE, content=b'{"detail": "Not Found"}'))
    with pytest.raises(UpstreamError) as raised:
        await run(server)
    assert raised.value.kind == "not_sse"
    assert raised.value.message.endswith(": Not Found")
    assert raised.value.detail == '{"detail": "Not Found"}'


async def test_a_traceback_500_body_is_shown_as_its_last_line_and_kept_whole_for_staff():
    server = Upstream(httpx.Response(500, text=TRACEBACK))
    config = replace(CONFIG, max_retries=0)
    with pytest.raises(UpstreamError) as raised:
        await run(server, config=config)
    assert raised.value.message == "HTTP 500: KeyError: 'choices'"
    assert "Traceback" not in raised.value.message and "File " not in raised.value.message
    assert raised.value.detail == TRACEBACK.strip()


async def test_an_html_500_body_is_shown_as_its_title():
    page = "<html><head><title>502 Bad &amp; Gateway</title></head><body>" + "x" * 3000
    server = Upstream(httpx.Response(400, text=page + "</body></html>"))
    with pytest.raises(UpstreamError) as raised:
        await run(server)
    assert raised.value.message == "HTTP 400: 502 Bad & Gateway"


async def test_a_long_error_message_is_cut_to_a_few_hundred_characters():
    error = {"error": {"message": "no " * 2000}}
    with pytest.raises(UpstreamError) as raised:
        await run(Upstream(httpx.Response(400, json=error)))
    assert len(raised.value.message) <= upstream.BRIEF_CHARS + len("HTTP 400: ")
    assert raised.value.message.endswith("…")
    assert len(raised.value.detail) > 5000
