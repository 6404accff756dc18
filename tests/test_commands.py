"""The `inspect_stream` and `chat` management commands."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.management import CommandError, call_command

from streaming.management.commands import chat
from streaming.upstream.client import make_client
from tests import corpus

ROOT = Path(__file__).resolve().parents[1]


def frame(type_: str, **fields: Any) -> bytes:
    return f"event: {type_}\ndata: {json.dumps({'type': type_, **fields})}\n\n".encode()


RESPONSE = {"id": "resp_1", "status": "in_progress", "output": []}
CREATED = frame("response.created", response=RESPONSE)


def completed(**fields: Any) -> bytes:
    return frame("response.completed", response={**RESPONSE, "status": "completed", **fields})


def text(*deltas: str, index: int = 0) -> list[bytes]:
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    return [
        frame("response.output_item.added", output_index=index, item=item),
        frame("response.content_part.added", output_index=index, content_index=0, part=part),
        *(
            frame("response.output_text.delta", output_index=index, content_index=0, delta=d)
            for d in deltas
        ),
    ]


def inspect(path: Path | str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("inspect_stream", str(path), stdout=out)
    return json.loads(out.getvalue())


# --- inspect_stream ------------------------------------------------------------------------


def test_inspect_prints_the_folded_stream_as_one_json_object():
    """A recorded stream gives status, text, output items, counts and no anomalies."""
    name = "text__pydantic-ai__1.sse"
    result = inspect(corpus.corpus_dir() / name)
    item = corpus.entry(name)
    assert result["status"] == "completed"
    assert result["output_text"] == item["final_output_text"]
    assert [o["type"] for o in result["output"]] == item["output_item_types"]
    assert sum(result["event_counts"].values()) == item["num_events"]
    assert set(result["event_counts"]) == set(item["event_types"])
    assert (result["anomalies"], result["unknown_types"]) == ([], [])


def test_inspect_lists_unknown_types_and_anomalies():
    """Unknown event types and the accumulator's anomalies are reported."""
    assert inspect(corpus.corpus_dir() / "keepalive__chatlas__1.sse")["unknown_types"] == [
        "keepalive"
    ]
    assert inspect(corpus.corpus_dir() / "mcp__pydantic-ai__2.sse")["anomalies"] == [
        "response.completed output differs from the streamed output; kept the former"
    ]


def test_inspect_reads_data_only_frames_ending_in_done():
    """OpenRouter's data-only frames and `[DONE]` sentinel are read like any stream."""
    result = inspect(corpus.corpus_dir() / "compat_openrouter_reasoning__pydantic-ai__1.sse")
    assert result["status"] == "completed"
    assert "[DONE]" not in result["event_counts"]


def test_inspect_reports_a_stream_without_terminal_event(tmp_path):
    """A stream cut short is still summarised, with the status it had reached."""
    path = tmp_path / "cut.sse"
    path.write_bytes(b"".join([CREATED, *text("par")]))
    result = inspect(path)
    assert (result["status"], result["terminal_type"], result["output_text"]) == (
        "in_progress",
        None,
        "par",
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            frame("response.created", response={}) + b"data: {oops\n\n",
            "frame 2: event data is not JSON",
        ),
        (b"data: [1]\n\n", "frame 1: event data is not a JSON object with a string 'type'"),
        (b"", "no events"),
        (b"hello, world\nthis is text\n", "no events"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", "is not UTF-8"),
    ],
    ids=["not-json", "not-an-object", "empty", "plain-text", "binary"],
)
def test_inspect_rejects_unreadable_streams(tmp_path, content, reason):
    """Malformed frames, files with no events and non-UTF-8 files are a CommandError."""
    path = tmp_path / "bad.sse"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=reason.replace("[", r"\[")):
        inspect(path)


def test_inspect_rejects_a_missing_file(tmp_path):
    """A file that cannot be read is a CommandError naming it."""
    with pytest.raises(CommandError, match=r"cannot read .*nope\.sse"):
        inspect(tmp_path / "nope.sse")


def test_inspect_exits_1_with_a_one_line_reason(tmp_path):
    """Run as a command, a bad file exits with status 1 and one line on stderr."""
    path = tmp_path / "bad.sse"
    path.write_bytes(b"data: not json\n\n")
    done = subprocess.run(
        [sys.executable, "manage.py", "inspect_stream", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "CommandError: frame 1: event data is not JSON: Expecting value: line 1 column 1 (char 0)"
    ]


# --- chat --------------------------------------------------------------------------------


class FlushLog(io.StringIO):
    """Standard output that remembers what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


class Upstream:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.response = httpx.Response(200, content=b"")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    def stream(self, *frames: bytes) -> None:
        self.response = httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=b"".join(frames)
        )


@pytest.fixture
def upstream(settings, monkeypatch):
    settings.OPENAI_BASE_URL = "http://upstream.test/v1"
    settings.OPENAI_API_KEY = "sk-chat"
    settings.DEFAULT_MODEL = "default-model"
    settings.UPSTREAM_MAX_RETRIES = 0
    server = Upstream()
    monkeypatch.setattr(
        chat,
        "make_client",
        lambda config: make_client(config, transport=httpx.MockTransport(server)),
    )
    return server


def run_chat(*args: str) -> tuple[FlushLog, io.StringIO]:
    out, err = FlushLog(), io.StringIO()
    call_command("chat", *args, stdout=out, stderr=err)
    return out, err


def test_chat_posts_the_prompt_to_the_configured_upstream(upstream):
    """The request goes to OPENAI_BASE_URL with the key, DEFAULT_MODEL and the prompt."""
    upstream.stream(CREATED, completed())
    run_chat("What is 2+2?")
    (request,) = upstream.requests
    assert str(request.url) == "http://upstream.test/v1/responses"
    assert request.headers["authorization"] == "Bearer sk-chat"
    assert json.loads(request.content) == {
        "model": "default-model",
        "input": "What is 2+2?",
        "stream": True,
    }


def test_chat_uses_the_model_option(upstream):
    """--model overrides DEFAULT_MODEL."""
    upstream.stream(CREATED, completed())
    run_chat("hi", "--model", "gpt-test")
    assert json.loads(upstream.requests[0].content)["model"] == "gpt-test"


def test_chat_prints_text_as_it_arrives(upstream):
    """Each text delta is written and flushed before the next one."""
    upstream.stream(CREATED, *text("Hel", "lo", ", world"), completed())
    out, _ = run_chat("hi")
    assert out.flushed[:3] == ["Hel", "Hello", "Hello, world"]


def test_chat_prints_tool_activity_and_the_status_line(upstream):
    """Tool calls and reasoning get one line each; then status and token usage."""
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": []}
    call = {
        "id": "fc_1",
        "type": "function_call",
        "name": "get_weather",
        "call_id": "c",
        "arguments": '{"city":"Paris"}',
    }
    upstream.stream(
        CREATED,
        frame("response.output_item.added", output_index=0, item=reasoning),
        frame(
            "response.reasoning_summary_text.done",
            output_index=0,
            summary_index=0,
            text="**Weather**\n\nLook it up.",
        ),
        frame(
            "response.output_item.added",
            output_index=1,
            item={"id": "ws", "type": "web_search_call"},
        ),
        frame("response.web_search_call.searching", output_index=1, item_id="ws"),
        frame("response.file_search_call.completed", output_index=1, item_id="ws"),
        *text("Let me check.", index=2),
        frame("response.output_item.added", output_index=3, item={**call, "arguments": ""}),
        frame("response.output_item.done", output_index=3, item=call),
        *text("Sunny", index=4),
        completed(usage={"input_tokens": 12, "output_tokens": 34}),
    )
    out, err = run_chat("weather?")
    assert out.getvalue().splitlines() == [
        "[reasoning] **Weather** Look it up.",
        "[web_search_call searching]",
        "[file_search_call completed]",
        "Let me check.",
        '[function_call get_weather {"city":"Paris"}]',
        "Sunny",
        "status: completed · 12 in / 34 out tokens",
    ]
    assert err.getvalue() == ""


def test_chat_reports_an_incomplete_answer(upstream):
    """An incomplete response shows its reason in the status line."""
    upstream.stream(
        CREATED,
        *text("Once upon"),
        frame(
            "response.incomplete",
            response={
                **RESPONSE,
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
            },
        ),
    )
    out, _ = run_chat("story")
    assert out.getvalue().splitlines()[-1] == "status: incomplete (max_output_tokens)"


def test_chat_exits_1_on_an_upstream_error(upstream):
    """An UpstreamError exits with status 1 and `error: <message>` on stderr."""
    upstream.response = httpx.Response(
        401, json={"error": {"message": "Incorrect API key provided"}}
    )
    out, err = FlushLog(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("chat", "hi", stdout=out, stderr=err)
    assert exited.value.code == 1
    assert err.getvalue() == "error: HTTP 401: Incorrect API key provided\n"
    assert out.getvalue() == ""


def test_chat_ends_the_text_line_before_a_mid_stream_error(upstream):
    """Text printed before a failure stays, on its own line, and the error follows."""
    upstream.stream(CREATED, *text("partial"))
    out, err = FlushLog(), io.StringIO()
    with pytest.raises(SystemExit):
        call_command("chat", "hi", stdout=out, stderr=err)
    assert out.getvalue() == "partial\n"
    assert err.getvalue().startswith("error: the upstream closed the stream")


def test_chat_exits_1_on_a_failed_response(upstream):
    """A response.failed prints the status line, then the upstream's error, and exits 1."""
    upstream.stream(
        CREATED,
        frame("error", error={"code": "insufficient_quota", "message": "You exceeded your quota"}),
        frame(
            "response.failed",
            response={
                **RESPONSE,
                "status": "failed",
                "error": {"code": "insufficient_quota", "message": "You exceeded your quota"},
            },
        ),
    )
    out, err = FlushLog(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("chat", "hi", stdout=out, stderr=err)
    assert exited.value.code == 1
    assert out.getvalue() == "status: failed\n"
    assert err.getvalue() == "error: You exceeded your quota\n"
