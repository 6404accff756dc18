"""Simulator scenarios: pure functions from a request to the list of events OpenAI would stream.

The text depends only on the seed (`random.Random(seed)`); ids come from a separate generator
so that two runs of one seed still get distinct response ids unless a test pins `id_seed`.
The wire-level behaviours (HTTP faults, drops, stalls, pacing) live in `simulator_faults`.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streaming.simulator import hosted, texts
from streaming.simulator import mcp as sim_mcp
from streaming.simulator import tools as sim_tools
from streaming.simulator.events import Event, IdMaker, ResponseBuilder
from streaming.simulator.params import Params


@dataclass
class Context:
    request: dict[str, Any]
    params: Params
    rng: random.Random
    out: ResponseBuilder

    def words(self, default: int) -> int:
        return self.params.words if self.params.words is not None else default

    def deltas(self, text: str) -> list[str]:
        """Split into deltas; the `deltas` parameter pads with prose or cuts to that many."""
        pieces = split_deltas(text)
        wanted = self.params.deltas
        while wanted is not None and len(pieces) < wanted:
            pieces += split_deltas("\n\n" + texts.prose(self.rng, 60))
        return pieces if wanted is None else pieces[:wanted]


def split_deltas(text: str) -> list[str]:
    """Token-sized pieces (leading whitespace kept) whose concatenation is `text`."""
    return re.findall(r"\s*\S{1,8}|\s+$", text)


def chunks(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _delta_reaching(deltas: list[str], index: int) -> int:
    """The number of the delta after which the text is at least `index` characters long."""
    length = 0
    for number, delta in enumerate(deltas):
        length += len(delta)
        if length >= index:
            return number
    return len(deltas) - 1


def _tool_outputs(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(function name, output) for the `function_call_output` items that end the input."""
    items = request.get("input")
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    names = {i.get("call_id"): i.get("name") for i in items if i.get("type") == "function_call"}
    outputs = []
    for item in reversed(items):
        if item.get("type") != "function_call_output":
            break
        output = item.get("output")
        text = output if isinstance(output, str) else json.dumps(output)
        outputs.append((names.get(item.get("call_id")) or "the tool", text))
    return outputs[::-1]


def markdown(ctx: Context) -> None:
    ctx.out.message(ctx.deltas(texts.markdown_answer(ctx.rng, ctx.words(40))))


def reasoning(ctx: Context) -> None:
    summaries = [texts.summary(ctx.rng, title) for title in texts.summary_titles(ctx.rng)]
    ctx.out.reasoning([split_deltas(s) for s in summaries])
    ctx.out.message(ctx.deltas(texts.prose(ctx.rng, ctx.words(60))))


def _calls(ctx: Context, count: int) -> None:
    """`count` calls to the request's functions (the first ones, repeated if it offers
    fewer); plain text when it offers none, or after a round trip, the outputs quoted."""
    outputs = _tool_outputs(ctx.request)
    if outputs:
        ctx.out.message(ctx.deltas(texts.quote_outputs(outputs)))
        return
    functions = sim_tools.offered(ctx.request, "function")
    if not functions:
        ctx.out.message(ctx.deltas(texts.NO_TOOLS))
        return
    query = texts.query_from(ctx.request, "streaming")
    made: set[tuple[Any, str]] = set()
    for number in range(count):
        tool = functions[number % len(functions)]
        arguments = sim_tools.arguments_for(tool, ctx.rng, query)
        for _ in range(5):  # the same function twice: with other arguments
            if (tool.get("name"), arguments) not in made:
                break
            arguments = sim_tools.arguments_for(tool, ctx.rng, query)
        made.add((tool.get("name"), arguments))
        ctx.out.function_call(str(tool.get("name")), chunks(arguments))


def mcp_server(ctx: Context) -> None:
    """The request's first MCP server: its tools listed, then a call, or an approval request
    when its `require_approval` asks; after approval responses, the call or a refusal."""
    servers = sim_tools.offered(ctx.request, "mcp")
    if not servers:
        ctx.out.message(ctx.deltas(texts.NO_TOOLS))
        return
    label = str(servers[0].get("server_label") or "mcp")
    arguments = json.dumps({"query": texts.query_from(ctx.request, "event log")})
    answered = sim_mcp.answers(ctx.request)
    if answered:
        for answer in answered:
            if answer.get("approve"):
                sim_mcp.call(ctx.out, label, arguments, answer.get("approval_request_id"))
        made = any(answer.get("approve") for answer in answered)
        ctx.out.message(ctx.deltas(texts.MCP_DONE if made else texts.MCP_DENIED))
        return
    sim_mcp.list_tools(ctx.out, label)
    if sim_mcp.needs_approval(servers[0]):
        sim_mcp.approval_request(ctx.out, label, arguments)
        return
    sim_mcp.call(ctx.out, label, arguments, None)
    ctx.out.message(ctx.deltas(texts.MCP_DONE))


def function_call(ctx: Context) -> None:
    _calls(ctx, 1)


def parallel_calls(ctx: Context) -> None:
    _calls(ctx, 2)


def _offers(ctx: Context, kind: str) -> dict[str, Any] | None:
    """The request's tool of this kind; without one, a plain-text answer is streamed (as a
    real model answers) and None comes back."""
    tool = sim_tools.hosted(ctx.request, kind)
    if tool is None:
        ctx.out.message(ctx.deltas(texts.NO_TOOLS))
    return tool


def file_search(ctx: Context) -> None:
    if _offers(ctx, "file_search") is None:
        return
    query = texts.query_from(ctx.request, "How does the relay number events?")
    docs = ctx.rng.sample(texts.FILES, 2)
    results = [texts.file_result(ctx.rng, doc) for doc in docs]
    ctx.out.file_search([query], results)
    sentences = [doc["claim"] for doc in docs]
    text, annotations, length = "", [], 0
    for sentence, result in zip(sentences, results, strict=True):
        text += ("" if not text else " ") + sentence
        length = len(text) - 1  # the citation sits before the full stop
        annotations.append((length, texts.file_citation(result, length)))
    deltas = ctx.deltas(text)
    ctx.out.message(deltas, annotations=[(_delta_reaching(deltas, i), a) for i, a in annotations])


def web_search(ctx: Context) -> None:
    if _offers(ctx, "web_search") is None:
        return
    query = texts.query_from(ctx.request, "server-sent events versus websockets")
    sources = ctx.rng.sample(texts.WEB_SOURCES, 2)
    ctx.out.web_search(query, [source["url"] for source in sources])
    text, annotations = texts.cited_text(sources)
    deltas = ctx.deltas(text)
    reached = [(_delta_reaching(deltas, a["end_index"]), a) for a in annotations]
    ctx.out.message(deltas, annotations=reached)


def code_interpreter(ctx: Context) -> None:
    """The code prints a sum and writes a CSV file, which the answer links to (a
    `container_file_citation`, its bytes kept for the containers endpoint)."""
    if _offers(ctx, "code_interpreter") is None:
        return
    n = ctx.rng.randint(5, 50)
    code = texts.SQUARES_CODE.format(n=n)
    total = sum(k * k for k in range(1, n + 1))
    container = ctx.out.code_interpreter(split_deltas(code), f"{total}\n")
    name = texts.SQUARES_FILE
    text = texts.SQUARES_ANSWER.format(n=n, total=total, name=name)
    citation = hosted.file_citation(ctx.out, container, name, text)
    ctx.out.files[(container, citation["file_id"])] = (name, hosted.squares_csv(n))
    deltas = ctx.deltas(text)
    after = _delta_reaching(deltas, citation["end_index"])
    ctx.out.message(deltas, annotations=[(after, citation)])


def image_generation(ctx: Context) -> None:
    tool = _offers(ctx, "image_generation")
    if tool is None:
        return
    prompt = texts.query_from(ctx.request, "a small gradient")
    hosted.image_generation(ctx.out, tool, ctx.rng, f"A picture of {prompt}")
    ctx.out.message(ctx.deltas(texts.IMAGE_DONE))


def refusal(ctx: Context) -> None:
    ctx.out.refusal(split_deltas(texts.REFUSAL))


def incomplete(ctx: Context) -> None:
    limit = ctx.request.get("max_output_tokens") or 16
    deltas = ctx.deltas(texts.prose(ctx.rng, max(ctx.words(0), 2 * limit)))[:limit]
    ctx.out.message(deltas, status="incomplete")


def partial_text(ctx: Context) -> None:
    """Some text deltas of a message that never finishes (for `error`, `drop`)."""
    ctx.out.partial_message(ctx.deltas(texts.prose(ctx.rng, ctx.words(12))))


def long(ctx: Context) -> None:
    wanted = ctx.params.deltas if ctx.params.deltas is not None else 20_000
    ctx.params = dataclasses.replace(ctx.params, deltas=wanted)
    ctx.out.message(ctx.deltas(texts.prose(ctx.rng, 60)))


def fixed(text: str) -> Callable[[Context], None]:
    def scenario(ctx: Context) -> None:
        ctx.out.message(ctx.deltas(text))

    return scenario


def _finish_failed(out: ResponseBuilder) -> None:
    error = {"code": "server_error", "message": texts.SERVER_ERROR}
    out.finish("failed", error=error)


def _finish_error(out: ResponseBuilder) -> None:
    out.error("server_error", texts.SERVER_ERROR)


def _finish_incomplete(out: ResponseBuilder) -> None:
    out.finish("incomplete", incomplete_details={"reason": "max_output_tokens"})


def _no_ending(out: ResponseBuilder) -> None:
    """The stream just stops (`drop`): no terminal event."""


@dataclass(frozen=True)
class Scenario:
    build: Callable[[Context], None]
    summary: str
    finish: Callable[[ResponseBuilder], Any] = ResponseBuilder.finish


def _nothing(ctx: Context) -> None:
    """The events come from elsewhere (`replay`) or none are needed (`failed`)."""


SCENARIOS: dict[str, Scenario] = {
    "markdown": Scenario(markdown, "headings, a list, a table and a fenced code block"),
    "reasoning": Scenario(reasoning, "a reasoning item with a streamed summary, then text"),
    "function-call": Scenario(
        function_call, "one call to the first function offered; text after its output"
    ),
    "parallel-calls": Scenario(parallel_calls, "two function calls in one response"),
    "mcp": Scenario(mcp_server, "mcp_list_tools, then mcp_call or an mcp_approval_request"),
    "file-search": Scenario(file_search, "file_search_call, then text with file citations"),
    "web-search": Scenario(web_search, "web_search_call, then text with url citations"),
    "code-interpreter": Scenario(
        code_interpreter, "code_interpreter_call with logs, then text citing a file it wrote"
    ),
    "image-generation": Scenario(image_generation, "image_generation_call with a PNG, then text"),
    "refusal": Scenario(refusal, "a message whose content is a streamed refusal"),
    "incomplete": Scenario(incomplete, "stops at max_output_tokens", _finish_incomplete),
    "failed": Scenario(_nothing, "terminal response.failed with an error", _finish_failed),
    "error": Scenario(partial_text, "some text, then an `error` event", _finish_error),
    "drop": Scenario(partial_text, "some text, then the connection is cut", _no_ending),
    "slow": Scenario(markdown, "markdown after a long wait for the first byte (ttfb)"),
    "xss": Scenario(fixed(texts.XSS), "markdown full of script and HTML injection attempts"),
    "long": Scenario(long, "a long answer of `deltas` deltas (default 20000)"),
    "moderation": Scenario(fixed(texts.MODERATION), "text a moderation rule list flags"),
    "http-401": Scenario(markdown, "401 invalid_api_key JSON error"),
    "http-429": Scenario(markdown, "429 rate limit with a Retry-After header"),
    "http-500": Scenario(markdown, "500 server_error JSON error"),
    "not-sse": Scenario(markdown, "200 with an application/json body instead of SSE"),
    "malformed": Scenario(markdown, "a few good frames, then a frame that is not JSON"),
    "stall": Scenario(markdown, "the first events, then silence (`stall` seconds or forever)"),
    "flaky-429": Scenario(markdown, "429 on the first request of a seed, then markdown"),
    "replay": Scenario(_nothing, "replays a recorded .sse file (`file`)"),
}


def estimate_input_tokens(request: dict[str, Any]) -> int:
    return 8 + len(json.dumps(request.get("input") or "")) // 4


def build_events(
    request: dict[str, Any],
    params: Params,
    *,
    id_seed: int | None = None,
    created_at: int | None = None,
    files: hosted.ContainerFiles | None = None,
) -> list[Event]:
    """The complete event list of `params.scenario` for `request`, numbered from 0; the
    files its tools made go to `files`."""
    scenario = SCENARIOS[params.scenario]
    out = ResponseBuilder(
        request,
        ids=IdMaker(random.Random(id_seed)),
        created_at=int(time.time()) if created_at is None else created_at,
        input_tokens=estimate_input_tokens(request),
    )
    out.start()
    scenario.build(Context(request, params, random.Random(params.seed), out))
    scenario.finish(out)
    if files is not None:
        files.add(out.files)
    return out.events
