"""The upstream's files API, for UPLOAD_TO_PROVIDER: one `POST /files` per file."""

from __future__ import annotations

from typing import Any

import httpx

from streaming.upstream.client import UpstreamConfig, UpstreamError, _error_message

UPLOAD_TIMEOUT = 120.0
# What an upstream without a files API answers at /files.
NO_FILES_API = {404, 405, 501}


async def file_upload(
    *,
    client: httpx.AsyncClient,
    config: UpstreamConfig,
    name: str,
    content_type: str,
    data: bytes,
    purpose: str,
) -> str:
    """The id the upstream gave the file; `UpstreamError` if it was not taken."""
    headers = {"Authorization": f"Bearer {config.api_key}", "Accept": "application/json"}
    try:
        response = await client.post(
            f"{config.base_url}/files",
            headers=headers,
            files={"file": (name, data, content_type)},
            data={"purpose": purpose},
            timeout=UPLOAD_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise UpstreamError("connect", f"file upload failed: {str(exc)[:200]}") from None
    if response.status_code >= 300:
        message = _error_message(response.status_code, response.content)
        raise UpstreamError("http", message, status=response.status_code)
    file_id = _id_of(response)
    if file_id is None:
        raise UpstreamError("malformed", "the upstream's files API answered without a file id")
    return file_id


def _id_of(response: httpx.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    file_id = body.get("id") if isinstance(body, dict) else None
    return file_id if isinstance(file_id, str) and file_id else None
