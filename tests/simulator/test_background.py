"""The simulator's background mode over real HTTP: generated whether or not anyone reads,
retrieved by id, streamed again after a `sequence_number`, cancelled, forgotten."""

from __future__ import annotations

import json
import time

import httpx

from streaming.simulator.background import BackgroundStore
from streaming.simulator.params import parse_params
from streaming.simulator.scenarios import SCENARIOS
from tests.simulator.test_simulator import split_frames


def start(url: str, text: str, *, stream: bool) -> httpx.Response:
    body = {"model": "sim-markdown", "input": text, "background": True, "store": True}
    return httpx.post(f"{url}/responses", json={**body, "stream": stream}, timeout=30)


def events_of(response: httpx.Response) -> list[dict]:
    return [json.loads(data) for _, data in split_frames(response.content)]


def until_status(url: str, response_id: str, wanted: str) -> dict:
    while True:
        body = httpx.get(f"{url}/responses/{response_id}").json()
        if body["status"] == wanted:
            return body
        time.sleep(0.05)


def test_a_background_response_is_generated_while_nobody_reads_it(simulator_url):
    created = start(simulator_url, "hi [sim:markdown tps=200 deltas=40]", stream=False).json()
    assert created["background"] is True and created["status"] in ("queued", "in_progress")
    done = until_status(simulator_url, created["id"], "completed")
    assert done["output"][0]["content"][0]["text"]
    again = httpx.get(f"{simulator_url}/responses/{created['id']}?stream=true", timeout=30)
    events = events_of(again)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"


def test_it_streams_again_after_the_sequence_number_given(simulator_url):
    first = events_of(start(simulator_url, "hi [sim:markdown tps=0 deltas=20]", stream=True))
    response_id = first[0]["response"]["id"]
    url = f"{simulator_url}/responses/{response_id}?stream=true&starting_after=7"
    rest = events_of(httpx.get(url, timeout=30))
    assert rest == first[8:]


def test_cancel_stops_the_response_and_its_readers(simulator_url):
    created = start(simulator_url, "hi [sim:long tps=5 ttft=0 deltas=400]", stream=False).json()
    cancelled = httpx.post(f"{simulator_url}/responses/{created['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    url = f"{simulator_url}/responses/{created['id']}?stream=true"
    events = events_of(httpx.get(url, timeout=30))  # ends: nothing more will come
    assert events and events[-1]["type"] != "response.completed"
    assert httpx.get(f"{simulator_url}/responses/{created['id']}").json()["status"] == "cancelled"


def test_an_unknown_id_is_a_404(simulator_url):
    for response in (
        httpx.get(f"{simulator_url}/responses/resp_nope?stream=true"),
        httpx.get(f"{simulator_url}/responses/resp_nope"),
        httpx.post(f"{simulator_url}/responses/resp_nope/cancel"),
    ):
        assert response.status_code == 404
        assert "resp_nope" in response.json()["error"]["message"]


def test_a_stored_response_outlives_its_store_and_is_forgotten_later(tmp_path):
    request = {"model": "sim-markdown", "input": "hi [sim:markdown tps=0 seed=4]"}
    params = parse_params(request, SCENARIOS)
    item = BackgroundStore(tmp_path).create(request, params)
    again = BackgroundStore(tmp_path).get(item.id)
    assert again is not None and again.events == item.events
    assert BackgroundStore(tmp_path, forget_after=0).get(item.id) is None
    assert not list(tmp_path.iterdir())


def test_files_a_background_code_interpreter_makes_are_served_like_a_plain_streams():
    """A background response keeps its code interpreter's files in the simulator's store
    too, so the containers endpoint serves them whichever mode the relay asked for."""
    from streaming.simulator.hosted import ContainerFiles

    files = ContainerFiles()
    request = {
        "model": "sim-code-interpreter",
        "input": "squares",
        "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}],
    }
    item = BackgroundStore(files=files).create(request, parse_params(request, SCENARIOS))
    citations = [
        part_annotation
        for event in item.events
        if event["type"] == "response.output_item.done" and event["item"]["type"] == "message"
        for part in event["item"]["content"]
        for part_annotation in part.get("annotations", [])
        if part_annotation["type"] == "container_file_citation"
    ]
    assert citations
    name, content = files.get(citations[0]["container_id"], citations[0]["file_id"])
    assert name.endswith(".csv") and content.startswith(b"number,square")
