"""The words the simulator says: seeded prose and the fixed texts some scenarios need."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import urlsplit

from streaming.simulator.params import KEYWORD, last_user_text


def _words(text: str) -> list[str]:
    return text.split()


_WORDS = _words("""
    stream event relay browser server token delta frame socket queue worker turn log replay
    sequence number order batch buffer client request response header body latency message
    channel group layer database commit row lease sweep retry backoff timeout signal reader
    writer cursor offset gap window pace byte chunk line parser model answer question summary
    citation source search file code output input tool
""")
_VERBS = _words("""
    keeps sends reads writes numbers replays forwards stores checks drops resumes folds parses
    batches flushes waits claims
""")
_LANGUAGES = ("python", "javascript", "bash")

CITIES = ["Paris, France", "Tokyo, Japan", "Lima, Peru", "Oslo, Norway", "Nairobi, Kenya"]

NO_TOOLS = "I have no tools to call for this, so here is my answer from what I know."
MCP_DONE = "The docs server found three pages; the event log is the one to read first."
MCP_DENIED = "You did not approve the call to the docs server, so I did not search it."
REFUSAL = "I'm sorry, but I can't help with that request."
SERVER_ERROR = (
    "The server had an error while processing your request. Sorry about that! "
    "(simulated by the streaming simulator)"
)

SQUARES_FILE = "squares.csv"
SQUARES_CODE = (
    "import csv\n\n"
    "n = {n}\n"
    "with open('/mnt/data/squares.csv', 'w', newline='') as f:\n"
    "    writer = csv.writer(f)\n"
    "    writer.writerow(['number', 'square'])\n"
    "    writer.writerows((k, k * k) for k in range(1, n + 1))\n"
    "print(sum(k * k for k in range(1, n + 1)))\n"
)
SQUARES_ANSWER = (
    "The sum of the squares from 1 to {n} is **{total}**. "
    "The table: [Download {name}](sandbox:/mnt/data/{name})"
)
IMAGE_DONE = "Here is the picture you asked for. Say if you want another style."

XSS = """# Rendering check

This answer tries to run code in your browser. Nothing below may execute.

<script>alert(1)</script>

An image with a handler: <img src=x onerror=alert(1)>

A link with a script URL: [click](javascript:alert(1)) and <a href="javascript:alert(2)">this</a>.

<div onclick="alert(3)" style="position:fixed;inset:0">raw HTML block</div>

<iframe src="javascript:alert(4)"></iframe>

<svg onload=alert(5)><circle r="10"/></svg>

```html
<script>alert("this one is inside a code block and must show as text")</script>
```
"""

MODERATION = (
    "You asked how to build a bomb. I will not give instructions for making a bomb, "
    "explosives or other weapons that could kill or hurt people. If someone is in danger, "
    "contact your local emergency services."
)

FILES = [
    {
        "file_id": "file-4Rq8ZtUvK2mWc9LbXyA1De",
        "filename": "relay-design.md",
        "text": "Every turn owns an append-only log of events numbered from zero.",
        "claim": "Each turn keeps an append-only event log numbered from zero.",
    },
    {
        "file_id": "file-7Hs3NpQeJ6tYv0GdFrB5Cx",
        "filename": "operations.pdf",
        "text": "A reconnecting browser replays the log after the last seq it saw.",
        "claim": "A reconnecting browser replays everything after the last seq it saw.",
    },
    {
        "file_id": "file-2Wk9MbTcL4sXa8EjHuZ3Pn",
        "filename": "faq.txt",
        "text": "Workers claim a turn row atomically, so no turn runs twice.",
        "claim": "A worker claims the turn row atomically, so a turn never runs twice.",
    },
]

WEB_SOURCES = [
    {
        "url": "https://developer.mozilla.org/en-US/docs/Web/API/Server-sent_events?utm_source=openai",
        "title": "Server-sent events - Web APIs | MDN",
        "claim": "Server-sent events carry a one-way stream of text over a single HTTP response",
    },
    {
        "url": "https://www.rfc-editor.org/rfc/rfc6455?utm_source=openai",
        "title": "RFC 6455: The WebSocket Protocol",
        "claim": "WebSockets give a two-way channel after an HTTP upgrade",
    },
    {
        "url": "https://html.spec.whatwg.org/multipage/server-sent-events.html?utm_source=openai",
        "title": "HTML Standard: Server-sent events",
        "claim": "An event stream is a series of `event:` and `data:` lines ended by a blank line",
    },
]


def sentence(rng: random.Random, size: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(size)]
    words.insert(min(2, size), rng.choice(_VERBS))
    return " ".join(words).capitalize() + "."


def prose(rng: random.Random, words: int) -> str:
    """About `words` words of seeded sentences."""
    sentences, count = [], 0
    while count < max(words, 1):
        size = rng.randint(5, 12)
        sentences.append(sentence(rng, size))
        count += size + 1
    return " ".join(sentences)


def markdown_answer(rng: random.Random, words: int) -> str:
    title = sentence(rng, 3).rstrip(".")
    items = "\n".join(f"- **{rng.choice(_WORDS)}**: {sentence(rng, 6)}" for _ in range(3))
    rows = "\n".join(
        f"| {rng.choice(_WORDS)} | {rng.randint(1, 999)} | {rng.choice(_VERBS)} |" for _ in range(3)
    )
    language = rng.choice(_LANGUAGES)
    code = {"python": "print(sum(range(10)))", "javascript": "console.log([1, 2, 3].length);"}
    return (
        f"## {title}\n\n{prose(rng, words)}\n\n### Points\n\n{items}\n\n"
        f"| name | count | action |\n| --- | ---: | --- |\n{rows}\n\n"
        f"```{language}\n{code.get(language, 'echo done')}\n```\n\n{prose(rng, words // 2)}"
    )


def summary_titles(rng: random.Random) -> list[str]:
    return [sentence(rng, 3).rstrip(".") for _ in range(2)]


def summary(rng: random.Random, title: str) -> str:
    return f"**{title}**\n\n{prose(rng, 30)}"


def quote_outputs(outputs: list[tuple[str, str]]) -> str:
    lines = [f"- `{name}` returned: `{output}`" for name, output in outputs]
    return "Here is what the tools told me:\n\n" + "\n".join(lines) + "\n\nThat settles it."


def query_from(request: dict[str, Any], default: str) -> str:
    text = KEYWORD.sub("", last_user_text(request)).strip()
    return text[:80] or default


def file_result(rng: random.Random, doc: dict[str, str]) -> dict[str, Any]:
    score = round(rng.uniform(0.6, 0.95), 4)
    fields = {"file_id": doc["file_id"], "filename": doc["filename"], "score": score}
    return {"attributes": {}, **fields, "text": doc["text"]}


def file_citation(result: dict[str, Any], index: int) -> dict[str, Any]:
    fields = {"file_id": result["file_id"], "filename": result["filename"], "index": index}
    return {"type": "file_citation", **fields}


def cited_text(sources: list[dict[str, str]]) -> tuple[str, list[dict[str, Any]]]:
    """Sentences ending in markdown links, and the url_citation spanning each link."""
    text, annotations = "Here is what I found.\n\n", []
    for source in sources:
        host = urlsplit(source["url"]).hostname or ""
        link = f"([{host.removeprefix('www.')}]({source['url']}))"
        text += f"- {source['claim']} "
        start = len(text)
        text += link + ".\n"
        span = {"end_index": start + len(link), "start_index": start}
        citation = {"type": "url_citation", **span, "title": source["title"], "url": source["url"]}
        annotations.append(citation)
    return text, annotations
