"""Whatever the model (or a tool) sends, nothing it sends can run script on the page."""

import pytest

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>alert('script')</script>",
    "<img src=x onerror=alert('img')>",
    '<svg onload=alert("svg")><circle r=1></circle></svg>',
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "<a href=\"javascript:alert('a')\">click me</a>",
    "[md link](javascript:alert('md'))",
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![md image](javascript:alert('mdimg'))",
    "![remote image](https://example.invalid/track.png)",
    "<details open ontoggle=alert('toggle')>x</details>",
    "<form action=javascript:alert('form')><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('math')>",
    '<div style="position:fixed;inset:0" onclick="alert(\'div\')">cover</div>',
    "```html\n<script>alert('code')</script>\n```",
    "`<img src=x onerror=alert('inline')>`",
    "[ok](https://example.com/ok) and <mailto:someone@example.com>",
]
EVIL_TEXT = "\n\n".join(PAYLOADS)
EVIL_JSON = '{"html": "<img src=x onerror=alert(\'args\')>"}'


def _item(index, item):
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def _events():
    message = {
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    events = [
        {"type": "response.created", "response": {"status": "in_progress", "model": "<b>m</b>"}},
        {"type": "response.output_item.added", "output_index": 0, "item": message},
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    # Arrive in small pieces, so the open tail is rendered while tags are half-written.
    for start in range(0, len(EVIL_TEXT), 7):
        events.append(
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "content_index": 0,
                "delta": EVIL_TEXT[start : start + 7],
            }
        )
    events += [
        {
            "type": "response.output_text.annotation.added",
            "output_index": 0,
            "content_index": 0,
            "annotation_index": 0,
            "annotation": {
                "type": "url_citation",
                "url": "javascript:alert('cite')",
                "title": "<img src=x onerror=alert('cite')>",
            },
        },
        {
            "type": "response.refusal.delta",
            "output_index": 0,
            "content_index": 1,
            "delta": "<img src=x onerror=alert('refusal')>",
        },
        _item(
            1,
            {
                "type": "function_call",
                "name": "<img src=x onerror=alert('name')>",
                "call_id": "c1",
                "arguments": EVIL_JSON,
                "status": "completed",
            },
        ),
        {
            "type": "relay.tool.output",
            "call_id": "c1",
            "name": "x",
            "output": "<script>alert('tool')</script>",
        },
        _item(
            2,
            {
                "type": "web_search_call",
                "status": "completed",
                "action": {
                    "type": "search",
                    "query": "<script>alert('q')</script>",
                    "sources": [{"type": "url", "url": "javascript:alert('src')"}],
                },
            },
        ),
        _item(
            3,
            {
                "type": "code_interpreter_call",
                "status": "completed",
                "code": "<script>alert('ci')</script>",
                "outputs": [
                    {"type": "image", "url": "javascript:alert('ciimg')"},
                    {
                        "type": "image",
                        "url": "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
                    },
                    {"type": "logs", "logs": "<img src=x onerror=alert('logs')>"},
                ],
            },
        ),
        {
            "type": "response.image_generation_call.partial_image",
            "output_index": 4,
            "partial_image_b64": "\"><img src=x onerror=alert('b64')>",
            "output_format": "png",
        },
        {
            "type": "response.image_generation_call.partial_image",
            "output_index": 5,
            "partial_image_b64": "PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
            "output_format": "svg+xml",
        },
        _item(
            6,
            {
                "type": "mcp_call",
                "server_label": "<b>s</b>",
                "name": "n",
                "arguments": "{}",
                "output": "<script>alert('mcp')</script>",
                "error": "<img src=x onerror=alert('mcperr')>",
            },
        ),
        _item(7, {"type": "<img src=x onerror=alert('type')>", "status": "<script>"}),
        {"type": "<script>alert('event')</script>"},
        {"type": "relay.error", "kind": "x", "message": "<img src=x onerror=alert('relayerr')>"},
    ]
    return events


def test_model_output_cannot_run_script(harness, artifacts):
    """Script in text, links, images, tool names, arguments and outputs renders inert."""
    dialogs = []
    harness.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    harness.evaluate("events => harness.feed(events, {perFrame: 3, done: 'failed'})", _events())
    harness.wait_for_timeout(300)  # give any injected handler the chance to fire
    harness.screenshot(path=artifacts / "xss.png", full_page=True)
    assert dialogs == []
    assert harness.errors == []
    turn = harness.locator(".turn")
    assert turn.locator("script, iframe, svg, math, form, style, object, embed").count() == 0
    bad_attributes = harness.evaluate(
        """() => [...document.querySelectorAll('.turn *')].flatMap(el =>
            [...el.attributes].filter(a => a.name.startsWith('on') || a.name === 'style'
                || a.name === 'srcdoc' || a.name === 'formaction').map(a => el.tagName + ' ' + a.name))"""
    )
    assert bad_attributes == []
    for link in harness.evaluate(
        "() => [...document.querySelectorAll('.turn [href]')].map(a => a.getAttribute('href'))"
    ):
        assert link.startswith(("https://", "http://", "mailto:")), link
    for rel, target in harness.evaluate(
        "() => [...document.querySelectorAll('.turn a[href]')].map(a => [a.rel, a.target])"
    ):
        assert (rel, target) == ("noopener noreferrer", "_blank")
    for src in harness.evaluate(
        "() => [...document.querySelectorAll('.turn [src]')].map(e => e.getAttribute('src'))"
    ):
        assert src.startswith(
            ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/webp;base64,")
        ), src
    # The payloads are still there to read, as text.
    assert "<script>alert('script')</script>" in turn.locator(".msg-text").text_content()
    assert (
        "onerror=alert('name')"
        in turn.locator("details.card[data-item-type=function_call]").text_content()
    )


def test_safe_links_still_work(harness):
    """http(s) and mailto links survive sanitizing and open in a new tab without an opener."""
    text = "See [the docs](https://example.com/docs) or write to <mailto:help@example.com>."
    events = [
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": text,
        },
    ]
    harness.evaluate("events => harness.feed(events)", events)
    links = harness.locator(".msg-text a")
    assert links.count() == 2
    assert links.nth(0).get_attribute("href") == "https://example.com/docs"
    assert links.nth(1).get_attribute("href") == "mailto:help@example.com"
    assert links.nth(0).get_attribute("rel") == "noopener noreferrer"
