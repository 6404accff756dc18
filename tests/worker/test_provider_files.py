"""UPLOAD_TO_PROVIDER: images and PDFs go to the upstream's files API once, and requests name
them by `file_id` (the simulator refuses ids it never issued); an upstream without a files
API gets them inline, and is not asked again before every turn."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.base import ContentFile

from streaming.models import Conversation, Turn, Upload
from streaming.services.files import file_part
from streaming.upstream.client import UpstreamConfig
from streaming.worker.provider_files import attachments_upload
from tests.relay_harness import Relay
from tests.worker.test_request_options import PNG, QUICK, sent_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def uploads_in(settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }
    settings.UPLOAD_TO_PROVIDER = True
    cache.clear()


async def _upload(relay: Relay, name: str, data: bytes) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    posted = await relay.client.post("/api/files", {"file": SimpleUploadedFile(name, data)})
    assert posted.status_code == 201, posted.content
    return posted.json()


async def _simulator_files(simulator_url: str, names: set[str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        listed = (await client.get(f"{simulator_url}/files")).json()["data"]
    return [f for f in listed if f["filename"] in names]


async def test_images_and_pdfs_go_to_the_files_api_once_and_by_id(
    relay: Relay, simulator_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    image = await _upload(relay, f"dot-{tag}.png", PNG)
    pdf = await _upload(relay, f"paper-{tag}.pdf", PDF)
    assert pdf["content_type"] == "application/pdf"
    conversation = await relay.conversation()
    posted = await relay.post_turn(conversation, QUICK, attachments=[image["id"], pdf["id"]])
    assert posted.status_code == 202, posted.content
    first = await relay.wait_done(posted.json()["id"])
    assert first.status == "completed", first.error

    uploaded = await _simulator_files(simulator_url, {image["name"], pdf["name"]})
    by_name = {f["filename"]: f for f in uploaded}
    assert len(uploaded) == 2
    assert by_name[image["name"]]["purpose"] == "vision"
    assert by_name[pdf["name"]]["purpose"] == "user_data"
    assert by_name[pdf["name"]]["bytes"] == len(PDF)
    stored = await Upload.objects.aget(pk=image["id"])
    assert stored.provider_files == {simulator_url: by_name[image["name"]]["id"]}

    parts = (await sent_for(simulator_url, first))["input"][-1]["content"]
    assert parts[1] == {
        "type": "input_image",
        "file_id": by_name[image["name"]]["id"],
        "detail": "auto",
    }
    assert parts[2] == {"type": "input_file", "file_id": by_name[pdf["name"]]["id"]}

    second = await relay.wait_done(await relay.start(QUICK, conversation))
    assert second.status == "completed", second.error
    again = (await sent_for(simulator_url, second))["input"][0]["content"]
    assert [p.get("file_id") for p in again[1:]] == [
        by_name[image["name"]]["id"],
        by_name[pdf["name"]]["id"],
    ]
    assert len(await _simulator_files(simulator_url, {image["name"], pdf["name"]})) == 2


async def test_without_the_setting_nothing_is_uploaded(
    relay: Relay, simulator_url: str, settings: Any
) -> None:
    settings.UPLOAD_TO_PROVIDER = False
    image = await _upload(relay, f"plain-{uuid.uuid4().hex[:8]}.png", PNG)
    conversation = await relay.conversation()
    posted = await relay.post_turn(conversation, QUICK, attachments=[image["id"]])
    turn = await relay.wait_done(posted.json()["id"])
    part = (await sent_for(simulator_url, turn))["input"][-1]["content"][1]
    assert part["image_url"].startswith("data:image/png;base64,") and "file_id" not in part
    assert await _simulator_files(simulator_url, {image["name"]}) == []


def _turn_with_image() -> tuple[Turn, Upload]:
    owner = get_user_model().objects.create_user("bob")
    upload = Upload(owner=owner, name="dot.png", size=len(PNG), content_type="image/png")
    upload.file.save("dot.png", ContentFile(PNG), save=True)
    turn = Conversation.objects.create(owner=owner).turns.create(input="hi", model="m")
    turn.attachments.add(upload)
    return turn, upload


async def test_an_upstream_without_a_files_api_gets_the_file_inline(settings: Any) -> None:
    settings.OPENAI_BASE_URL = "http://upstream.invalid/v1"
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(404, json={"detail": "Not Found"})

    turn, upload = await sync_to_async(_turn_with_image)()
    config = UpstreamConfig.from_settings()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await attachments_upload(client=client, config=config, turn=turn)
        await attachments_upload(client=client, config=config, turn=turn)
    assert asked == ["/v1/files"]  # remembered: not asked before every turn
    await sync_to_async(upload.refresh_from_db)()
    assert upload.provider_files == {}
    part = await sync_to_async(file_part)(upload)
    assert part["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


async def test_a_refused_upload_is_sent_inline_and_tried_again_later(settings: Any) -> None:
    settings.OPENAI_BASE_URL = "http://upstream.invalid/v1"
    replies = iter([httpx.Response(500, text="boom"), httpx.Response(200, json={"id": "file-x"})])
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        return next(replies)

    turn, upload = await sync_to_async(_turn_with_image)()
    config = UpstreamConfig.from_settings()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await attachments_upload(client=client, config=config, turn=turn)
        await sync_to_async(upload.refresh_from_db)()
        assert upload.provider_files == {}
        await attachments_upload(client=client, config=config, turn=turn)
    await sync_to_async(upload.refresh_from_db)()
    assert upload.provider_files == {"http://upstream.invalid/v1": "file-x"}
    assert b'name="purpose"\r\n\r\nvision' in bodies[-1] and PNG in bodies[-1]
    assert await sync_to_async(file_part)(upload) == {
        "type": "input_image",
        "file_id": "file-x",
        "detail": "auto",
    }
