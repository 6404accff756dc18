"""Hosted tools the simulator plays, shaped as the recorded streams in `../shared/corpus/`
show them: image generation (`image_generation__*.sse`: `in_progress`, `generating`,
`partial_image`, `completed`, the base64 `result` in the done item) and code interpreter's
files (`code_interpreter__*.sse`: a `container_file_citation` over the `sandbox:` link,
the bytes at `GET /v1/containers/{container_id}/files/{file_id}/content`)."""

from __future__ import annotations

import base64
import random
import struct
import zlib
from collections import OrderedDict
from typing import Any

from streaming.simulator.events import ResponseBuilder

IMAGE_SIDE = 32
MAX_PARTIAL_IMAGES = 3
KEPT_FILES = 200


def png(rng: random.Random, side: int = IMAGE_SIDE) -> bytes:
    """A small gradient PNG in the seed's colours (RGB, 8 bits)."""
    r, g, b = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    rows = b"".join(
        b"\x00" + b"".join(bytes(((r + x * 4) % 256, (g + y * 4) % 256, b)) for x in range(side))
        for y in range(side)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))


def image_generation(out: ResponseBuilder, tool: dict[str, Any], rng: random.Random, prompt: str):
    """One `image_generation_call`: its partial images (the tool's `partial_images`, at
    most 3, at least 1 as in the recordings), then the result."""
    item = {"id": out.ids.hex("ig"), "type": "image_generation_call", "status": "in_progress"}
    index = out.item_added(dict(item))
    where = {"output_index": index, "item_id": item["id"]}
    out.emit("response.image_generation_call.in_progress", **where)
    out.emit("response.image_generation_call.generating", **where)
    shape = {
        "size": str(tool.get("size") or "1024x1024"),
        "quality": str(tool.get("quality") or "medium"),
        "background": str(tool.get("background") or "opaque"),
        "output_format": "png",
    }
    wanted = tool.get("partial_images")
    count = min(MAX_PARTIAL_IMAGES, max(1, wanted if isinstance(wanted, int) else 1))
    image = ""
    for number in range(count):
        image = base64.b64encode(png(rng)).decode()
        out.emit(
            "response.image_generation_call.partial_image",
            **where,
            partial_image_index=number,
            partial_image_b64=image,
            **shape,
        )
    out.emit("response.image_generation_call.completed", **where)
    done = {**item, "status": "completed", **shape, "result": image, "revised_prompt": prompt}
    out.item_done(index, done)


class ContainerFiles:
    """The files code interpreter 'made', newest kept: (container id, file id) → (name,
    bytes). One per simulator instance, like its request history."""

    def __init__(self, keep: int = KEPT_FILES) -> None:
        self.keep = keep
        self.files: OrderedDict[tuple[str, str], tuple[str, bytes]] = OrderedDict()

    def add(self, made: dict[tuple[str, str], tuple[str, bytes]]) -> None:
        self.files.update(made)
        while len(self.files) > self.keep:
            self.files.popitem(last=False)

    def get(self, container_id: str, file_id: str) -> tuple[str, bytes] | None:
        return self.files.get((container_id, file_id))


def squares_csv(n: int) -> bytes:
    rows = ["number,square"] + [f"{k},{k * k}" for k in range(1, n + 1)]
    return ("\r\n".join(rows) + "\r\n").encode()


def file_citation(out: ResponseBuilder, container_id: str, name: str, text: str) -> dict:
    """A `container_file_citation` spanning the `sandbox:` link to `name` in `text`; the
    file id is new, and the caller keeps the bytes under it."""
    link = f"sandbox:/mnt/data/{name}"
    start = text.index(link)
    return {
        "type": "container_file_citation",
        "container_id": container_id,
        "end_index": start + len(link),
        "file_id": out.ids.hex("cfile"),
        "filename": name,
        "start_index": start,
    }
