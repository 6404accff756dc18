"""Files a hosted tool left with the provider (code interpreter's container files): fetched
here with the key, so the page gets them from our own URL and never needs the key.

`GET {OPENAI_BASE_URL}/containers/{container_id}/files/{file_id}/content`, read whole up to a
limit (a view answers with the bytes; containers expire, so nothing is kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from streaming.upstream.client import UpstreamConfig, tls_context

TIMEOUT_SECONDS = 30.0


class ContainerFileError(Exception):
    """`status`: the HTTP status our view answers with (404: gone, 502: the provider)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ContainerFile:
    content: bytes
    content_type: str


def container_file_fetch(
    *, config: UpstreamConfig, container_id: str, file_id: str, max_bytes: int
) -> ContainerFile:
    """The file's bytes and type. Raises `ContainerFileError` with a short message that
    names neither the key nor the provider's URL."""
    url = f"{config.base_url}/containers/{container_id}/files/{file_id}/content"
    headers = {"Authorization": f"Bearer {config.api_key}"}
    try:
        with (
            httpx.Client(timeout=TIMEOUT_SECONDS, trust_env=True, verify=tls_context()) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            _check(response.status_code)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ContainerFileError(502, f"the file is larger than {max_bytes} bytes")
            kind = response.headers.get("content-type", "application/octet-stream")
    except httpx.HTTPError:
        raise ContainerFileError(502, "the provider could not be reached for this file") from None
    return ContainerFile(bytes(body), kind.split(";")[0].strip() or "application/octet-stream")


def _check(status: int) -> None:
    if status == 404:
        raise ContainerFileError(404, "the provider no longer has this file (containers expire)")
    if status != 200:
        raise ContainerFileError(502, f"the provider answered {status} for this file")
