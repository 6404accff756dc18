"""The simulator over real HTTP (daphne in a subprocess), as the relay's upstream client sees it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openai
import pytest

from streaming.simulator.app import Connection, SimulatorApp
from streaming.tools.plugins import plugin_load
from tests.corpus import CORPUS_DIR, corpus_dir

TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
LONG_PACED = {
    "model": "sim-long",
    "input": "hi [sim:long tps=100 ttft=0 deltas=41 stamp=1]",
    "stream": True,
}


def split_frames(body: bytes) -> list[tuple[str, str]]:
    """(event line value, data) of each frame; strict: both lines, nothing else."""
    frames = []
    for block in body.decode().split("\n\n"):
        if block:
            event, data = block.split("\n")
            assert event.startswith("event: ") and data.startswith("data: "), block
            frames.append((event[7:], data[6:]))
    return frames


WEATHER = plugin_load("streaming.simulator.tools:get_weather", name="get_weather").schema()


def post(url: str, scenario: str, *, stream: bool = True, **params: Any) -> httpx.Response:
    body = {"model": f"sim-{scenario}", "input": "hi", "stream": stream, "tools": [WEATHER]}
    return httpx.post(f"{url}/responses", json={**body, "simulator": {"tps": 0, **params}})


def record_of(url: str, response_id: str, ended: str, within: float = 2.0) -> dict:
    """Poll `/_requests` until the request with that id has ended as expected."""
    deadline = time.monotonic() + within
    while True:
        records = httpx.get(f"{url}/_requests").json()
        record = next((r for r in records if r["id"] == response_id), None)
        if (record and record["ended"] == ended) or time.monotonic() > deadline:
            return record or {}
        time.sleep(0.05)


def test_a_stream_is_valid_sse_ending_with_response_completed(simulator_url):
    response = post(simulator_url, "markdown")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = split_frames(response.content)
    events = [json.loads(data) for _, data in frames]
    assert [name for name, _ in frames] == [e["type"] for e in events]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    record = record_of(simulator_url, events[0]["response"]["id"], "completed")
    assert record["events_sent"] == len(events)


def test_it_serves_the_same_api_under_the_simulator_prefix(simulator_url):
    base = simulator_url.removesuffix("/v1") + "/simulator/v1"
    assert post(base, "refusal").status_code == 200
    assert "sim-refusal" in {m["id"] for m in httpx.get(f"{base}/models").json()["data"]}


def test_without_stream_it_answers_the_final_response_as_json(simulator_url):
    response = post(simulator_url, "function-call", stream=False)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["output"][0]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("scenario", "status", "code"),
    [
        ("http-401", 401, "invalid_api_key"),
        ("http-429", 429, "rate_limit_exceeded"),
        ("http-500", 500, None),
    ],
)
def test_http_faults_answer_openai_style_json_errors(simulator_url, scenario, status, code):
    response = post(simulator_url, scenario, retry_after=7)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if status == 401:
        assert response.json()["error"]["message"] == "Incorrect API key provided"
    if status == 429:
        assert response.headers["retry-after"] == "7"


def test_not_sse_answers_json_to_a_stream_request(simulator_url):
    response = post(simulator_url, "not-sse")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["object"] == "response"


def test_flaky_429_fails_the_first_request_of_a_seed_only(simulator_url):
    statuses = [post(simulator_url, "flaky-429", seed=9001).status_code for _ in range(3)]
    assert statuses == [429, 200, 200]
    assert post(simulator_url, "flaky-429", seed=9002).status_code == 429


def test_malformed_ends_with_a_frame_that_is_not_json(simulator_url):
    frames = post(simulator_url, "malformed").content.decode().split("\n\n")[:-1]
    for frame in frames[:-1]:
        json.loads(frame.split("data: ", 1)[1])
    with pytest.raises(ValueError):
        json.loads(frames[-1].split("data: ", 1)[1])


def test_drop_cuts_the_connection_without_a_terminal_event(simulator_url):
    received = b""
    payload = {"model": "sim-drop", "input": "hi", "stream": True, "simulator": {"tps": 0}}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{simulator_url}/responses", json=payload) as response,
    ):
        for chunk in response.iter_bytes():
            received += chunk
    events = [json.loads(data) for _, data in split_frames(received)]
    assert events[-1]["type"] == "response.output_text.delta"
    assert not TERMINAL & {e["type"] for e in events}
    assert record_of(simulator_url, events[0]["response"]["id"], "dropped")["ended"] == "dropped"


def test_a_client_closing_mid_stream_is_recorded_as_disconnected(simulator_url):
    payload = {"model": "sim-long", "input": "hi", "stream": True, "simulator": {"tps": 20}}
    with httpx.stream("POST", f"{simulator_url}/responses", json=payload) as response:
        data = next(line for line in response.iter_lines() if line.startswith("data: "))
        response_id = json.loads(data[6:])["response"]["id"]
    record = record_of(simulator_url, response_id, "client_disconnected", within=2.0)
    assert record["ended"] == "client_disconnected"
    assert record["events_sent"] < 100


def test_a_client_leaving_during_a_long_pause_is_noticed_at_once(simulator_url):
    """The disconnect watcher ends the sender's wait: it is not seen only at the next frame."""
    simulator = {"tps": 0.5, "ttft": 0}  # 2 s between deltas
    payload = {"model": "sim-long", "input": "hi", "stream": True, "simulator": simulator}
    with httpx.stream("POST", f"{simulator_url}/responses", json=payload) as response:
        data = (line[6:] for line in response.iter_lines() if line.startswith("data: "))
        response_id = json.loads(next(data))["response"]["id"]
        next(line for line in data if "output_text.delta" in line)
    left = time.monotonic()
    record = record_of(simulator_url, response_id, "client_disconnected", within=1.5)
    assert record["ended"] == "client_disconnected"
    assert time.monotonic() - left < 1.5


def test_stall_goes_silent_after_the_first_events(simulator_url):
    payload = {"model": "sim-stall", "input": "hi", "stream": True}
    timeout = httpx.Timeout(5.0, read=0.5)
    received: list[str] = []
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream("POST", f"{simulator_url}/responses", json=payload, timeout=timeout) as r,
    ):
        received.extend(line for line in r.iter_lines() if line.startswith("event: "))
    assert received == [
        "event: response.created",
        "event: response.in_progress",
        "event: response.output_item.added",
    ]


def test_ttfb_and_tps_pace_the_stream(simulator_url):
    started = time.monotonic()
    response = post(simulator_url, "slow", ttfb=0.4, tps=100, ttft=0, deltas=20)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert 0.4 + 19 / 100 <= elapsed < 3.0


def test_long_at_full_speed_is_fast(simulator_url):
    started = time.monotonic()
    response = post(simulator_url, "long")
    assert time.monotonic() - started < 10.0
    events = split_frames(response.content)
    assert sum(name == "response.output_text.delta" for name, _ in events) == 20_000


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS_DIR.glob("*.sse")))
def test_replay_reproduces_a_recorded_stream_byte_for_byte(simulator_url, name):
    recorded = (corpus_dir() / name).read_bytes()
    response = post(simulator_url, "replay", file=name)
    assert response.status_code == 200
    assert response.content == recorded


def test_replay_refuses_files_outside_its_directory(simulator_url):
    assert post(simulator_url, "replay", file="../main/manage.py").status_code == 400
    assert post(simulator_url, "replay", file="/etc/passwd").status_code == 400
    assert post(simulator_url, "replay", file="no-such-file.sse").status_code == 404


def test_a_bad_parameter_is_a_400(simulator_url):
    response = httpx.post(f"{simulator_url}/responses", json={"input": "[sim:nope]"})
    assert response.status_code == 400
    assert "nope" in response.json()["error"]["message"]


def test_models_lists_one_model_per_scenario(simulator_url):
    models = httpx.get(f"{simulator_url}/models").json()["data"]
    assert {"sim-markdown", "sim-drop", "sim-replay"} <= {m["id"] for m in models}


@pytest.mark.parametrize(
    "scenario", ["markdown", "reasoning", "file-search", "web-search", "code-interpreter"]
)
def test_the_official_sdk_folds_the_stream_to_the_same_final_response(simulator_url, scenario):
    client = openai.OpenAI(base_url=simulator_url, api_key="sk-simulated", max_retries=0)
    extra = {"simulator": {"tps": 0}}
    with client.responses.stream(model=f"sim-{scenario}", input="hi", extra_body=extra) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert final.status == "completed"
    assert final.output_text == deltas != ""


def receiving(body: dict) -> Callable[[], Awaitable[dict]]:
    """An ASGI `receive` that gives the request body once, then waits (the client stays)."""
    messages = [{"type": "http.request", "body": json.dumps(body).encode()}]

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    return receive


async def call_app(app: SimulatorApp, method: str, path: str, body: dict | None = None) -> bytes:
    """One in-process ASGI request; returns the response body."""
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": path}, receiving(body or {}), send)
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_paced_deltas_keep_their_rate_when_sending_takes_time(monkeypatch):
    """Each delay counts from when the frame before it was due, so a busy server (here, 4 ms
    per message) still sends `tps` deltas per second. The clock is a fake one that moves only
    when the simulator waits or the server is busy, so the machine's load cannot change it."""
    now = [1000.0]

    async def wait(connection: Connection, seconds: float) -> bool:
        now[0] += max(seconds, 0.0)
        return connection.gone

    monkeypatch.setattr(Connection, "now", lambda connection: now[0])
    monkeypatch.setattr(Connection, "wait", wait)
    stamps: list[float] = []

    async def send(message: dict) -> None:
        if b"sim_sent_ms" in message.get("body", b""):
            stamps.append(now[0])
            now[0] += 0.004

    app = SimulatorApp()
    await app(
        {"type": "http", "method": "POST", "path": "/v1/responses"}, receiving(LONG_PACED), send
    )
    assert len(stamps) == 41
    assert stamps[-1] - stamps[0] == pytest.approx(0.4)  # 40 intervals of 10 ms, not 14 ms


async def test_the_request_history_is_bounded_and_newest_last():
    app = SimulatorApp(history=2)
    for scenario in ("refusal", "failed", "markdown"):
        body = {"model": f"sim-{scenario}", "input": "hi", "simulator": {"tps": 0}}
        await call_app(app, "POST", "/v1/responses", body)
    records = json.loads(await call_app(app, "GET", "/simulator/v1/_requests"))
    assert [r["scenario"] for r in records] == ["failed", "markdown"]
    assert all(r["ended"] == "completed" for r in records)


def test_stamp_puts_the_send_time_on_every_delta_only(simulator_url):
    """`stamp=1` (for bench/load.py) adds `sim_sent_ms` to deltas, taken as each is sent:
    paced deltas carry times that grow by about 1/tps."""
    before = time.time() * 1000
    response = post(simulator_url, "markdown", tps=50, ttft=0, deltas=5, stamp=1)
    events = [json.loads(data) for _, data in split_frames(response.content)]
    deltas = [e for e in events if e["type"].endswith(".delta")]
    assert len(deltas) == 5
    assert all("sim_sent_ms" not in e for e in events if not e["type"].endswith(".delta"))
    stamps = [e["sim_sent_ms"] for e in deltas]
    assert before <= stamps[0] and stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] >= 4 * 20 * 0.8
    plain = post(simulator_url, "markdown", deltas=5)
    assert b"sim_sent_ms" not in plain.content
