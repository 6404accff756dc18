"""Locating the shared corpus of recorded Responses API streams (see ../shared/corpus/README.md).

The corpus is read in place, never copied into the repository. When it is missing the corpus
tests skip, except on CI (`CI=true`), where a missing corpus is a failure.
"""

from __future__ import annotations

import functools
import json
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streaming.protocol.sse import Frame, SSEDecoder

CORPUS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DONE = "[DONE]"


def corpus_dir() -> Path:
    """The corpus directory; skips the calling test (fails it on CI) when it is missing."""
    if not (CORPUS_DIR / "manifest.json").is_file():
        reason = f"the stream corpus is missing: {CORPUS_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return CORPUS_DIR


@functools.cache
def _load_manifest() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((CORPUS_DIR / "manifest.json").read_text(encoding="utf-8")))


def manifest() -> list[dict[str, Any]]:
    """One entry per corpus file, in manifest order."""
    corpus_dir()
    return list(_load_manifest())


def entry(name: str) -> dict[str, Any]:
    """The manifest entry of one file."""
    for item in manifest():
        if item["file"] == name:
            return item
    raise KeyError(name)


def file_names() -> list[str]:
    """The corpus file names, for `parametrize`.

    Without the corpus, one placeholder name, so that the test runs and `corpus_dir()` skips it
    (or fails it on CI) instead of pytest quietly collecting nothing.
    """
    if not (CORPUS_DIR / "manifest.json").is_file():
        return ["corpus-missing"]
    return [item["file"] for item in _load_manifest()]


def read_bytes(name: str) -> bytes:
    return (corpus_dir() / name).read_bytes()


def frames(name: str) -> list[Frame]:
    """Every frame of a corpus file, decoded in one piece."""
    decoder = SSEDecoder()
    return decoder.feed(read_bytes(name)) + decoder.close()


def event_data(name: str) -> list[str]:
    """The data of every frame up to a `[DONE]` sentinel."""
    result = []
    for frame in frames(name):
        if frame.data == DONE:
            break
        result.append(frame.data)
    return result


def random_chunks(body: bytes, seed: int, max_size: int = 64) -> list[bytes]:
    """`body` cut at seeded random offsets, so cuts land mid-line and mid-UTF-8."""
    rng = random.Random(seed)
    chunks, start = [], 0
    while start < len(body):
        size = rng.randint(1, max_size)
        chunks.append(body[start : start + size])
        start += size
    return chunks


class ChunkedBody(httpx.AsyncByteStream):
    """A response body delivered in the given chunks, as a network would."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def sse_transport(chunks: list[bytes]) -> httpx.MockTransport:
    """A transport answering every request with an event stream made of `chunks`."""

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return httpx.Response(200, headers=headers, stream=ChunkedBody(chunks))

    return httpx.MockTransport(handler)
