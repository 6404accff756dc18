"""The simulator's files API: `POST /v1/files` (multipart `file` and `purpose`, as OpenAI's)
`GET /v1/files` and `GET /v1/files/{id}`. Files are kept in memory, their bytes counted, not stored; a
request whose input names a `file_id` this instance never issued is a 400, as upstream."""

from __future__ import annotations

import secrets
import time
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from streaming.simulator.faults import Reply, error_reply, json_reply

PURPOSES = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}


def _form(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The multipart body's fields: name → (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return {}
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def _bad(message: str, param: str | None = None) -> Reply:
    return error_reply(400, message, "invalid_request_error", param)


def file_ids(value: Any) -> Any:
    """Every `file_id` named anywhere in a request's input."""
    if isinstance(value, dict):
        if isinstance(value.get("file_id"), str):
            yield value["file_id"]
        for inner in value.values():
            yield from file_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from file_ids(inner)


class FileStore:
    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}

    def create(self, content_type: str, body: bytes) -> Reply:
        fields = _form(content_type, body)
        filename, data = fields.get("file", (None, b""))
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if "file" not in fields or not filename:
            return _bad("send the file as the multipart field 'file' with a filename", "file")
        if purpose not in PURPOSES:
            return _bad(f"'{purpose}' is not a valid purpose", "purpose")
        item = {
            "id": f"file-sim{secrets.token_hex(8)}",
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
        }
        self.files[item["id"]] = item
        return json_reply(200, item)

    def listing(self, query: bytes) -> Reply:
        """Oldest first, `after` an id and at most `limit` (10000) a page, with `has_more`."""
        args = {k: v[-1] for k, v in parse_qs(query.decode("latin-1")).items()}
        items = list(self.files.values())
        ids = [f["id"] for f in items]
        start = ids.index(args["after"]) + 1 if args.get("after") in ids else 0
        limit = int(args["limit"]) if args.get("limit", "").isdigit() else 10000
        page = items[start : start + limit]
        more = start + limit < len(items)
        return json_reply(200, {"object": "list", "data": page, "has_more": more})

    def get(self, file_id: str) -> Reply:
        item = self.files.get(file_id)
        if item is None:
            return error_reply(
                404, f"No such File object: {file_id}", "invalid_request_error", "id"
            )
        return json_reply(200, item)

    def unknown(self, request: dict[str, Any]) -> Reply | None:
        """A 400 for the first `file_id` in the input this instance never issued."""
        for file_id in file_ids(request.get("input")):
            if file_id not in self.files:
                return _bad(f"No such File object: {file_id}", "input")
        return None
