"""The `relay-constants` element for pages served without Django (the browser harness,
bench/render.py): generated from Python's one definition, as the real pages render it
(streaming/web/pages.py), never copied into the HTML by hand."""

from __future__ import annotations

from django.utils.html import json_script

from streaming.protocol.statuses import page_constants

MARK = "<!-- relay-constants -->"


def with_constants(html: str) -> str:
    """`html` with its `MARK` replaced by the element the scripts read."""
    if MARK not in html:
        raise ValueError(f"the page has no {MARK} to replace")
    return html.replace(MARK, str(json_script(page_constants(), "relay-constants")))
