"""UPLOAD_TO_PROVIDER: before a turn's first request, the images and PDFs it will carry go
to the upstream's files API, each once per upstream; the request then names them by
`file_id` (streaming/services/files.py). A file that could not be uploaded goes as a data
URL, as without the setting, so a turn never fails for it. An upstream without a files API
is remembered for a while, not asked before every turn."""

from __future__ import annotations

import logging

import httpx
from django.conf import settings
from django.core.cache import cache

from streaming.eventlog.store import db
from streaming.models import Turn
from streaming.services import files as file_services
from streaming.upstream.client import UpstreamConfig, UpstreamError
from streaming.upstream.files import NO_FILES_API, file_upload
from streaming.worker import history

log = logging.getLogger(__name__)

NO_FILES_API_SECONDS = 600.0


def _missing_key(config: UpstreamConfig) -> str:
    return f"streaming.no-files-api:{config.base_url}"


async def attachments_upload(
    *, client: httpx.AsyncClient, config: UpstreamConfig, turn: Turn
) -> None:
    if not settings.UPLOAD_TO_PROVIDER or await cache.aget(_missing_key(config)):
        return
    for upload in await db(history.attachments_sent, turn):
        purpose = file_services.provider_purpose(upload)
        if purpose is None or config.base_url in upload.provider_files:
            continue
        data = await db(file_services.file_bytes, upload)
        try:
            file_id = await file_upload(
                client=client,
                config=config,
                name=upload.name,
                content_type=upload.content_type,
                data=data,
                purpose=purpose,
            )
        except UpstreamError as exc:
            log.warning("%s not uploaded to the upstream, sent inline: %s", upload.pk, exc)
            if exc.status in NO_FILES_API:
                await cache.aset(_missing_key(config), True, NO_FILES_API_SECONDS)
                return
            continue
        await db(
            file_services.file_provider_record,
            upload=upload,
            base_url=config.base_url,
            file_id=file_id,
        )
