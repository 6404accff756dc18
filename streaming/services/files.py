"""Attachments: accepted by what their bytes are, stored in the `uploads` storage, and
turned into the typed content parts a request sends."""

from __future__ import annotations

import base64
import codecs
from typing import Any

import filetype
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from streaming.models import Upload

IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}
BINARY_TYPES = IMAGE_TYPES | {"application/pdf"}
MARKDOWN_SUFFIXES = (".md", ".markdown")
SNIFF_BYTES = 8192


class UnsupportedType(ValueError):
    pass


def _is_text(uploaded: UploadedFile) -> bool:
    """UTF-8 throughout, without NUL: read in chunks, so a large file is never all in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in uploaded.chunks():
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff(uploaded: UploadedFile) -> str:
    """The content type the bytes show; `UnsupportedType` for anything not allowed."""
    uploaded.seek(0)
    kind = filetype.guess(uploaded.read(SNIFF_BYTES))
    uploaded.seek(0)
    if kind is not None:
        if kind.mime in BINARY_TYPES:
            return kind.mime
        raise UnsupportedType(f"files of type {kind.mime} cannot be attached")
    if _is_text(uploaded):
        name = (uploaded.name or "").lower()
        return "text/markdown" if name.endswith(MARKDOWN_SUFFIXES) else "text/plain"
    raise UnsupportedType("only images (PNG, JPEG, WebP, GIF), PDF and text files can be attached")


def file_create(*, owner: Any, uploaded: UploadedFile) -> Upload:
    content_type = sniff(uploaded)
    name = (uploaded.name or "file")[-255:]
    upload = Upload(owner=owner, name=name, size=uploaded.size or 0, content_type=content_type)
    upload.file.save(name, uploaded, save=False)  # streamed in chunks by the storage
    upload.save()
    return upload


def files_delete(*, uploads: list[Upload]) -> None:
    """Delete the rows now and their bytes once the transaction commits."""
    names = [(u.file.storage, u.file.name) for u in uploads]
    Upload.objects.filter(pk__in=[u.pk for u in uploads]).delete()
    transaction.on_commit(lambda: [storage.delete(name) for storage, name in names])


def file_bytes(upload: Upload) -> bytes:
    with upload.file.open("rb") as handle:
        return handle.read()


def _data_url(upload: Upload) -> str:
    data = base64.b64encode(file_bytes(upload)).decode("ascii")
    return f"data:{upload.content_type};base64,{data}"


def provider_purpose(upload: Upload) -> str | None:
    """The files API purpose the file is uploaded with; None: it is never uploaded (text)."""
    if upload.content_type in IMAGE_TYPES:
        return "vision"
    return "user_data" if upload.content_type == "application/pdf" else None


def file_provider_record(*, upload: Upload, base_url: str, file_id: str) -> None:
    upload.provider_files = {**upload.provider_files, base_url: file_id}
    Upload.objects.filter(pk=upload.pk).update(provider_files=upload.provider_files)


def _provider_id(upload: Upload) -> str | None:
    """The id the current upstream gave the file, where files go by id (UPLOAD_TO_PROVIDER)."""
    if not settings.UPLOAD_TO_PROVIDER:
        return None
    from streaming.upstream.client import UpstreamConfig

    return upload.provider_files.get(UpstreamConfig.from_settings().base_url)


def file_part(upload: Upload) -> dict[str, Any]:
    """The typed input part that carries the file to the model: by the id the upstream's
    files API gave it, or else inline (read once per request)."""
    file_id = _provider_id(upload)
    if upload.content_type in IMAGE_TYPES:
        if file_id:
            return {"type": "input_image", "file_id": file_id, "detail": "auto"}
        return {"type": "input_image", "image_url": _data_url(upload), "detail": "auto"}
    if upload.content_type == "application/pdf":
        if file_id:
            return {"type": "input_file", "file_id": file_id}
        return {"type": "input_file", "filename": upload.name, "file_data": _data_url(upload)}
    with upload.file.open("rb") as handle:
        text = handle.read().decode("utf-8", errors="replace")
    return {"type": "input_text", "text": f"{upload.name}:\n\n{text}"}
