"""How much main-thread time the chat page spends rendering a long streamed answer.

Chromium renders a generated markdown answer (400 KB by default, then twice that) arriving as
`response.output_text.delta` events at 200 deltas a second, fed from a timer inside the page
into the real TurnView (no server). Reported per length: main-thread time per animation
frame (p95, measured from each frame's first rAF callback to a message posted from it, which
runs once style, layout and paint are done), long tasks, and CDP's ScriptDuration.

    .venv/bin/python bench/render.py              # the default: ~22 minutes of real-time feed
    .venv/bin/python bench/render.py --speed 10   # time-compressed: 10x the delta rate

The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.chromium import CHROMIUM, launch  # noqa: E402
from tests.browser.constants import with_constants  # noqa: E402

ORIGIN = "http://bench.test"
WORDS = [
    "stream",
    "relay",
    "event",
    "token",
    "browser",
    "render",
    "frame",
    "markdown",
    "block",
    "parser",
    "tail",
    "latency",
    "worker",
    "socket",
    "replay",
    "backoff",
    "cursor",
    "buffer",
    "commit",
    "layout",
    "paint",
    "budget",
    "scroll",
    "answer",
    "model",
    "request",
    "response",
    "output",
    "delta",
    "index",
    "sequence",
    "durable",
    "append",
    "log",
    "reader",
]
LANGS = {
    "python": "def step(state, event):\n    if event.type == 'delta':\n        state.text += event.delta\n    return state\n",
    "js": "function step(state, event) {\n  if (event.type === 'delta') state.text += event.delta;\n  return state;\n}\n",
    "bash": 'for f in corpus/*.sse; do\n  python -m relay replay "$f" --after 17\ndone\n',
}


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    i = rng.randrange(len(words))
    words[i] = rng.choice(
        [
            f"**{words[i]}**",
            f"*{words[i]}*",
            f"`{words[i]}()`",
            f"[{words[i]}](https://example.com/{words[i]})",
        ]
    )
    return " ".join(words).capitalize() + "."


def block(rng: random.Random, n: int) -> str:
    kind = rng.choices(["p", "ul", "ol", "code", "table", "quote", "h"], [8, 3, 2, 2, 1, 1, 2])[0]
    if kind == "p":
        return " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
    if kind == "ul":
        return "\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(3, 7)))
    if kind == "ol":
        return "\n".join(f"{i + 1}. {sentence(rng)}" for i in range(rng.randint(3, 6)))
    if kind == "code":
        lang = rng.choice(list(LANGS))
        return f"```{lang}\n{LANGS[lang] * rng.randint(2, 6)}```"
    if kind == "table":
        rows = [
            f"| {rng.choice(WORDS)} | {rng.randint(1, 999)} | {rng.choice(WORDS)} |"
            for _ in range(rng.randint(3, 8))
        ]
        return "| name | count | note |\n|---|---:|---|\n" + "\n".join(rows)
    if kind == "quote":
        return "> " + sentence(rng) + "\n> " + sentence(rng)
    return f"## Part {n}: {rng.choice(WORDS)} and {rng.choice(WORDS)}"


def make_markdown(size: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    blocks: list[str] = []
    total = 0
    while total < size:
        blocks.append(block(rng, len(blocks)))
        total += len(blocks[-1]) + 2
    return "\n\n".join(blocks)[:size]


def split_deltas(text: str) -> list[str]:
    """Token-sized pieces (about 4-5 characters, like real output_text deltas)."""
    deltas = re.findall(r"\s*\S{1,5}|\s+", text)
    assert "".join(deltas) == text
    return deltas


def serve(route) -> None:
    url = route.request.url
    if not url.startswith(ORIGIN + "/"):
        route.abort()
        return
    path = url.removeprefix(ORIGIN).split("?", 1)[0]
    if path.startswith("/static/"):
        file = ROOT / "static" / path.removeprefix("/static/")
    elif path.startswith("/bench/"):
        file = ROOT / "bench" / path.removeprefix("/bench/")
    else:
        file = None
    if file is None or not file.is_file():
        route.fulfill(status=404, body="not found")
        return
    kind = (
        "text/javascript" if file.suffix in (".js", ".mjs") else mimetypes.guess_type(file.name)[0]
    )
    body = file.read_bytes()
    if file.suffix == ".html":
        body = with_constants(body.decode()).encode()
    route.fulfill(status=200, body=body, content_type=kind or "application/octet-stream")


def cdp_metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def measure(browser, deltas: list[str], rate: float, speed: float) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.route("**/*", serve)
    page.goto(f"{ORIGIN}/bench/render_page.html")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    page.evaluate("d => { window.deltas = d; }", deltas)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
    before = cdp_metrics(cdp)
    result = page.evaluate("o => bench.run(window.deltas, o)", {"rate": rate, "speed": speed})
    after = cdp_metrics(cdp)
    context.close()
    for name, key in [
        ("ScriptDuration", "script_ms"),
        ("TaskDuration", "task_ms"),
        ("LayoutDuration", "layout_ms"),
        ("RecalcStyleDuration", "style_ms"),
    ]:
        result[key] = round((after[name] - before[name]) * 1000, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-kb", type=float, default=400, help="length of the 1x answer (KB)")
    parser.add_argument("--rate", type=float, default=200, help="deltas per second")
    parser.add_argument("--speed", type=float, default=1, help="time compression (1 = real time)")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as playwright:
        browser = launch(playwright, executable_path=args.chromium)
        for multiple in (1, 2):
            text = make_markdown(int(args.size_kb * 1024 * multiple))
            deltas = split_deltas(text)
            eta = len(deltas) / (args.rate * args.speed)
            print(
                f"{multiple}x: {len(text)} chars in {len(deltas)} deltas at "
                f"{args.rate * args.speed:g}/s (~{eta:.0f} s)…",
                flush=True,
            )
            started = time.monotonic()
            results[multiple] = measure(browser, deltas, args.rate, args.speed)
            print(
                f"{multiple}x ({time.monotonic() - started:.0f} s):",
                json.dumps(results[multiple], sort_keys=True),
                flush=True,
            )
        browser.close()
    one, two = results[1], results[2]
    if not (one["text_ok"] and two["text_ok"]):
        print("the rendered text does not match what was sent", file=sys.stderr)
        return 1
    print(
        f"task_ms 1x {one['task_ms']}, 2x {two['task_ms']}: ratio {two['task_ms'] / one['task_ms']:.2f}"
    )
    print(
        json.dumps(
            {
                "p95_frame_ms_1x": round(one["frame_p95_ms"], 2),
                "p95_frame_ms_2x": round(two["frame_p95_ms"], 2),
                "script_ms_1x": one["script_ms"],
                "script_ms_2x": two["script_ms"],
                "work_ratio_2x_over_1x": round(two["script_ms"] / one["script_ms"], 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
