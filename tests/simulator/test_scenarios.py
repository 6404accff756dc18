"""The simulator's scenarios as pure functions: wire-correct, self-consistent, deterministic."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from streaming.simulator.hosted import ContainerFiles
from streaming.simulator.params import ParamError, Params, parse_params
from streaming.simulator.scenarios import SCENARIOS, build_events, split_deltas
from streaming.tools.plugins import plugin_load

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
ID = re.compile(r"^(resp|msg|fc|rs|fs|ws|ci|ig)_[0-9a-f]{50}$")
EVENT = TypeAdapter(ResponseStreamEvent)


WEATHER = plugin_load("streaming.simulator.tools:get_weather", name="get_weather").schema()


# The hosted tools a team may turn on, as the catalogue sends them.
HOSTED = [
    {"type": "web_search"},
    {"type": "file_search", "vector_store_ids": ["vs_docs"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "image_generation", "partial_images": 2},
]


def events_of(
    scenario: str,
    request: dict[str, Any] | None = None,
    files: ContainerFiles | None = None,
    **params: Any,
) -> list[dict]:
    tools = [WEATHER, *HOSTED]
    request = {"model": f"sim-{scenario}", "input": "hello", "tools": tools, **(request or {})}
    params = Params(scenario=scenario, **params)
    return build_events(request, params, id_seed=7, created_at=1, files=files)


def fold(events: list[dict]) -> list[dict]:
    """The output a client gets by folding `output_item.done` events by `output_index`."""
    output: dict[int, dict] = {}
    for event in events:
        if event["type"] == "response.output_item.done":
            output[event["output_index"]] = event["item"]
    return [output[i] for i in sorted(output)]


def text_of(events: list[dict]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def ids_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ("id", "item_id") and isinstance(v, str)]
        return found + [i for v in value.values() for i in ids_in(v)]
    if isinstance(value, list):
        return [i for v in value for i in ids_in(v)]
    return []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_it_numbers_events_from_zero_without_gaps(scenario):
    events = events_of(scenario)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_event_is_one_the_official_sdk_accepts(scenario):
    for event in events_of(scenario, deltas=30):
        parsed = EVENT.validate_python(event)
        assert parsed.type == event["type"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_terminal_output_equals_what_folding_the_stream_gives(scenario):
    events = events_of(scenario)
    terminal = [e for e in events if e["type"] in TERMINAL]
    if scenario in ("error", "drop"):
        assert terminal == []
        return
    assert terminal == [events[-1]]
    assert terminal[0]["response"]["output"] == fold(events)
    Response.model_validate(terminal[0]["response"])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_created_and_in_progress_carry_the_same_response_as_the_end(scenario):
    events = events_of(scenario)
    first, second = events[0], events[1]
    assert (first["type"], second["type"]) == ("response.created", "response.in_progress")
    assert first["response"]["output"] == [] and first["response"]["usage"] is None
    if events[-1]["type"] in TERMINAL:
        assert events[-1]["response"]["id"] == first["response"]["id"]
        assert set(events[-1]["response"]) == set(first["response"])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_ids_have_openai_prefixes(scenario):
    ids = ids_in(events_of(scenario))
    assert ids and all(ID.match(i) for i in ids), ids


@pytest.mark.parametrize("scenario", ["markdown", "reasoning", "file-search", "web-search", "xss"])
def test_text_deltas_concatenate_to_the_done_text(scenario):
    events = events_of(scenario)
    done = [e["text"] for e in events if e["type"] == "response.output_text.done"]
    assert done == [text_of(events)]
    texts = ("response.output_text.delta", "response.output_text.done")
    assert all(e["logprobs"] == [] for e in events if e["type"] in texts)


def test_the_same_seed_gives_the_same_stream_and_another_seed_another_text():
    assert events_of("markdown", seed=3) == events_of("markdown", seed=3)
    assert text_of(events_of("markdown", seed=3)) != text_of(events_of("markdown", seed=4))


def test_response_ids_differ_between_requests_unless_pinned():
    request, params = {"input": "hi"}, Params(seed=1)
    first, second = build_events(request, params), build_events(request, params)
    assert first[0]["response"]["id"] != second[0]["response"]["id"]
    assert text_of(first) == text_of(second)


def test_markdown_has_headings_a_list_a_table_and_code():
    text = text_of(events_of("markdown"))
    for needle in ("\n## ", "\n### ", "\n- **", "| --- |", "\n```"):
        assert needle in "\n" + text


def test_deltas_parameter_sets_the_number_of_text_deltas():
    for count in (5, 300):
        events = events_of("markdown", deltas=count)
        assert sum(e["type"] == "response.output_text.delta" for e in events) == count


def test_long_defaults_to_twenty_thousand_deltas():
    events = events_of("long")
    assert sum(e["type"] == "response.output_text.delta" for e in events) == 20_000


def test_split_deltas_keeps_every_character():
    text = "## Title\n\n- a  long-wordwithoutspaces\n```\ncode\n```\n  "
    assert "".join(split_deltas(text)) == text


def test_reasoning_streams_a_summary_before_the_answer():
    events = events_of("reasoning")
    types = [e["type"] for e in events]
    assert types.index("response.reasoning_summary_part.added") < types.index(
        "response.output_text.delta"
    )
    summary = fold(events)[0]["summary"]
    deltas = [e for e in events if e["type"] == "response.reasoning_summary_text.delta"]
    assert "".join(p["text"] for p in summary) == "".join(e["delta"] for e in deltas)
    usage = events[-1]["response"]["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] > 0


def test_function_call_streams_get_weather_arguments():
    events = events_of("function-call")
    (call,) = fold(events)
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert call["name"] == "get_weather" and call["call_id"].startswith("call_")
    assert json.loads("".join(deltas)) == json.loads(call["arguments"])
    assert set(json.loads(call["arguments"])) == {"location", "unit"}


def test_without_a_function_offered_it_answers_in_plain_text():
    """As a real model would: no tool in the request, no call."""
    (message,) = fold(events_of("function-call", {"tools": []}))
    assert message["type"] == "message"
    hosted = fold(events_of("parallel-calls", {"tools": [{"type": "web_search"}]}))
    assert [item["type"] for item in hosted] == ["message"]


def test_it_calls_the_function_the_request_offers_with_arguments_from_its_schema():
    now = plugin_load("streaming.tools.builtins:current_time", name="current_time").schema()
    (call,) = fold(events_of("function-call", {"tools": [now]}))
    assert call["name"] == "current_time"
    assert set(json.loads(call["arguments"])) == {"timezone"}


def test_an_mcp_tools_credentials_are_not_echoed():
    tool = {"type": "mcp", "server_label": "d", "server_url": "https://x", "headers": {"A": "s"}}
    created = events_of("markdown", {"tools": [tool]})[0]["response"]
    assert created["tools"] == [{"type": "mcp", "server_label": "d", "server_url": "https://x"}]


def test_parallel_calls_make_two_distinct_calls():
    calls = fold(events_of("parallel-calls"))
    assert [c["type"] for c in calls] == ["function_call", "function_call"]
    assert calls[0]["call_id"] != calls[1]["call_id"]
    assert calls[0]["arguments"] != calls[1]["arguments"]


@pytest.mark.parametrize("scenario", ["function-call", "parallel-calls"])
def test_after_a_tool_round_trip_it_answers_with_the_output(scenario):
    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}
    request = {
        "input": [
            {"role": "user", "content": "weather?"},
            call,
            {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
        ]
    }
    (message,) = fold(events_of(scenario, request))
    assert message["type"] == "message"
    assert '`get_weather` returned: `{"temp": 21}`' in message["content"][0]["text"]


def test_file_search_cites_the_files_it_found():
    events = events_of("file-search")
    search, message = fold(events)
    assert search["type"] == "file_search_call" and search["queries"] == ["hello"]
    part = message["content"][0]
    found = {r["file_id"] for r in search["results"]}
    assert {a["file_id"] for a in part["annotations"]} == found
    assert all(part["text"][a["index"]] == "." for a in part["annotations"])
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [e["annotation"] for e in added] == part["annotations"]
    types = [e["type"] for e in events[2:7]]
    assert types[1:4] == [f"response.file_search_call.{s}" for s in _SEARCH_STEPS]


_SEARCH_STEPS = ["in_progress", "searching", "completed"]


def test_web_search_url_citations_span_their_links():
    events = events_of("web-search")
    search, message = fold(events)
    sources = [s["url"] for s in search["action"]["sources"]]
    part = message["content"][0]
    for annotation in part["annotations"]:
        link = part["text"][annotation["start_index"] : annotation["end_index"]]
        assert link.startswith("([") and link.endswith(f"]({annotation['url']}))")
        assert annotation["url"] in sources
    assert len(part["annotations"]) == 2


def test_an_annotation_arrives_after_the_text_it_cites():
    events = events_of("web-search")
    streamed = ""
    for event in events:
        if event["type"] == "response.output_text.delta":
            streamed += event["delta"]
        if event["type"] == "response.output_text.annotation.added":
            assert len(streamed) >= event["annotation"]["end_index"]


class Written(io.StringIO):
    """What the simulator's snippet writes to a file, kept when it is closed."""

    files: ClassVar[dict[str, str]] = {}

    def __init__(self, path: str, mode: str = "r", newline: str | None = None) -> None:
        super().__init__(newline=newline)
        self.path = path

    def close(self) -> None:
        Written.files[self.path] = self.getvalue()
        super().close()


def test_code_interpreter_logs_what_its_code_prints_and_cites_the_file_it_writes():
    """The logs are what the code prints; the answer links the CSV it writes with a
    `container_file_citation` over the `sandbox:` link, whose bytes the simulator keeps."""
    files = ContainerFiles()
    events = events_of("code-interpreter", files=files)
    call, message = fold(events)
    printed: list[Any] = []
    Written.files.clear()
    exec(call["code"], {"print": printed.append, "open": Written}, {})  # the simulator's own
    assert call["outputs"] == [{"type": "logs", "logs": f"{printed[0]}\n"}]
    part = message["content"][0]
    assert str(printed[0]) in part["text"]
    deltas = [
        e["delta"] for e in events if e["type"] == "response.code_interpreter_call_code.delta"
    ]
    assert "".join(deltas) == call["code"]
    (citation,) = part["annotations"]
    assert citation["type"] == "container_file_citation"
    assert citation["container_id"] == call["container_id"]
    cited = part["text"][citation["start_index"] : citation["end_index"]]
    assert cited == f"sandbox:/mnt/data/{citation['filename']}"
    name, content = files.get(citation["container_id"], citation["file_id"])
    assert name == citation["filename"]
    assert content.decode() == Written.files[f"/mnt/data/{name}"]


def test_image_generation_streams_partial_images_then_a_png_result():
    events = events_of("image-generation", {"input": "a red fox"})
    image, message = fold(events)
    assert image["type"] == "image_generation_call" and image["status"] == "completed"
    partials = [e for e in events if e["type"].endswith(".partial_image")]
    assert [e["partial_image_index"] for e in partials] == [0, 1]
    assert base64.b64decode(image["result"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert partials[-1]["partial_image_b64"] == image["result"]
    assert "a red fox" in image["revised_prompt"]
    assert message["type"] == "message" and text_of(events)


@pytest.mark.parametrize(
    "scenario", ["web-search", "file-search", "code-interpreter", "image-generation", "mcp"]
)
def test_a_hosted_tool_scenario_without_its_tool_answers_in_plain_text(scenario):
    (message,) = fold(events_of(scenario, {"tools": [WEATHER]}))
    assert message["type"] == "message"


@pytest.mark.parametrize(
    ("tool", "scenario"),
    [
        ({"type": "web_search_preview"}, "web-search"),
        ({"type": "file_search", "vector_store_ids": ["vs_1"]}, "file-search"),
        ({"type": "code_interpreter", "container": {"type": "auto"}}, "code-interpreter"),
        ({"type": "image_generation"}, "image-generation"),
        ({"type": "mcp", "server_label": "docs", "server_url": "https://x.test"}, "mcp"),
    ],
)
def test_a_request_offering_a_hosted_tool_gets_its_scenario_unless_one_is_named(tool, scenario):
    request = {"model": "sim-markdown", "input": "hi", "tools": [WEATHER, tool]}
    assert parse_params(request, SCENARIOS).scenario == scenario
    assert parse_params({**request, "model": "gpt-5"}, SCENARIOS).scenario == scenario
    named = {**request, "input": "hi [sim:reasoning]"}
    assert parse_params(named, SCENARIOS).scenario == "reasoning"
    assert parse_params({**request, "tools": [WEATHER]}, SCENARIOS).scenario == "markdown"


def test_refusal_is_streamed_as_a_refusal_part():
    events = events_of("refusal")
    (message,) = fold(events)
    deltas = [e["delta"] for e in events if e["type"] == "response.refusal.delta"]
    assert message["content"] == [{"type": "refusal", "refusal": "".join(deltas)}]


def test_incomplete_stops_at_max_output_tokens():
    events = events_of("incomplete", {"max_output_tokens": 9})
    response = events[-1]["response"]
    assert events[-1]["type"] == "response.incomplete" and response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert sum(e["type"] == "response.output_text.delta" for e in events) == 9
    assert response["output"][0]["status"] == "incomplete"


def test_failed_ends_with_an_error_code_and_message():
    response = events_of("failed")[-1]["response"]
    assert response["status"] == "failed" and set(response["error"]) == {"code", "message"}


def test_error_sends_text_then_an_error_event():
    events = events_of("error")
    assert text_of(events)
    assert events[-1] == {
        "type": "error",
        "sequence_number": len(events) - 1,
        "code": "server_error",
        "message": events[-1]["message"],
        "param": None,
    }


def test_xss_and_moderation_texts_carry_their_payloads():
    xss = text_of(events_of("xss"))
    for payload in ("<script>alert(1)</script>", "onerror=alert(1)", "(javascript:alert(1))"):
        assert payload in xss
    assert "how to build a bomb" in text_of(events_of("moderation"))


def test_the_keyword_wins_over_the_model_and_the_body():
    request = {
        "model": "sim-reasoning",
        "input": [
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "x [sim:long tps=0 deltas=5]"}],
            }
        ],
        "simulator": {"scenario": "refusal", "tps": 9, "seed": 4},
    }
    params = parse_params(request, SCENARIOS)
    assert (params.scenario, params.tps, params.deltas, params.seed) == ("long", 0.0, 5, 4)


def test_the_model_picks_the_scenario_and_unknown_models_get_markdown():
    assert parse_params({"model": "sim-refusal", "input": "x"}, SCENARIOS).scenario == "refusal"
    assert parse_params({"model": "gpt-4o", "input": "x"}, SCENARIOS).scenario == "markdown"


def test_the_seed_defaults_to_one_derived_from_the_input():
    first = parse_params({"input": "a"}, SCENARIOS).seed
    assert first == parse_params({"input": "a"}, SCENARIOS).seed
    assert first != parse_params({"input": "b"}, SCENARIOS).seed


@pytest.mark.parametrize(
    "request_",
    [
        {"input": "[sim:nope]"},
        {"input": "[sim:long tps=fast]"},
        {"input": "x", "simulator": {"tps": -1}},
        {"input": "x", "simulator": {"colour": "red"}},
        {"input": "x", "simulator": "long"},
    ],
)
def test_bad_scenarios_and_parameters_are_refused(request_):
    with pytest.raises(ParamError):
        parse_params(request_, SCENARIOS)


def test_paced_defaults_suit_a_human_and_tps_zero_is_immediate():
    assert Params().first_delta_delay == 0.3 and Params().delta_interval == 1 / 40
    assert Params(tps=0).first_delta_delay == 0 and Params(tps=0).delta_interval == 0
    assert Params(scenario="slow").first_byte_delay == 5.0


def test_every_scenario_and_parameter_is_documented():
    docs = DOCS.read_text()
    for name in SCENARIOS:
        assert f"`{name}`" in docs, name
    for name in Params.__dataclass_fields__:
        assert f"`{name}`" in docs, name


DOCS_MCP = {"type": "mcp", "server_label": "docs", "server_url": "https://docs.example.test/mcp"}


def test_mcp_lists_tools_then_asks_for_approval_and_ends_the_response():
    """As the recorded streams show: `mcp_list_tools`, then an `mcp_approval_request` (with
    the server, tool and arguments) as the response's last item."""
    events = events_of("mcp", {"tools": [{**DOCS_MCP, "require_approval": "always"}]})
    listed, request = fold(events)
    assert listed["type"] == "mcp_list_tools" and listed["tools"][0]["name"] == "search_docs"
    assert request["type"] == "mcp_approval_request" and request["server_label"] == "docs"
    assert json.loads(request["arguments"]) == {"query": "hello"}
    assert events[-1]["type"] == "response.completed"


def test_mcp_calls_at_once_when_no_approval_is_required():
    events = events_of("mcp", {"tools": [{**DOCS_MCP, "require_approval": "never"}]})
    listed, call, message = fold(events)
    assert listed["type"] == "mcp_list_tools"
    assert call["type"] == "mcp_call" and call["status"] == "completed" and call["output"]
    deltas = [e["delta"] for e in events if e["type"] == "response.mcp_call_arguments.delta"]
    assert "".join(deltas) == call["arguments"]
    assert message["type"] == "message"


@pytest.mark.parametrize("approve", [True, False])
def test_mcp_after_an_approval_response_calls_or_says_it_did_not(approve):
    answer = {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": approve}
    items = [{"role": "user", "content": "find it"}, answer]
    output = fold(events_of("mcp", {"tools": [DOCS_MCP], "input": items}))
    kinds = [item["type"] for item in output]
    if approve:
        assert kinds == ["mcp_call", "message"]
        assert output[0]["approval_request_id"] == "mcpr_1"
    else:
        assert kinds == ["message"]
        assert "did not approve" in output[0]["content"][0]["text"]


def test_mcp_without_a_server_offered_answers_in_plain_text():
    assert [item["type"] for item in fold(events_of("mcp", {"tools": []}))] == ["message"]
