"""Every 4xx under /api/ is JSON with an `error`; a body over `REQUEST_MAX_BYTES` is a 413;
pages keep Django's HTML error pages."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient, Client

pytestmark = pytest.mark.django_db

MISSING = uuid.uuid4()


@pytest.fixture(autouse=True)
def uploads_in(settings: Any, tmp_path: Any) -> None:
    settings.OPENAI_BASE_URL = settings.OPENAI_API_KEY = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }
    cache.clear()


def logged_in(**options: Any) -> Client:
    client = Client(**options)
    client.force_login(get_user_model().objects.create_user(f"u{uuid.uuid4().hex[:8]}"))
    return client


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_path_is_a_json_404(settings: Any, debug: bool) -> None:
    """Also with DEBUG on, where Django would answer its debug page."""
    settings.DEBUG = debug
    assert_json_error(logged_in().get("/api/no-such-thing"), 404)
    assert_json_error(logged_in().get(f"/api/conversations/{MISSING}/nothing"), 404)


def test_missing_objects_are_json_404s() -> None:
    client = logged_in()
    assert_json_error(client.get(f"/api/turns/{MISSING}"), 404)
    assert_json_error(client.get(f"/api/files/{MISSING}"), 404)


def test_a_wrong_method_is_a_json_405_saying_which_to_use() -> None:
    response = logged_in().delete("/api/models")
    body = assert_json_error(response, 405)
    assert response["Allow"] == "GET" and "GET" in body["error"]


def test_a_failed_csrf_check_is_a_json_403_saying_why() -> None:
    client = logged_in(enforce_csrf_checks=True)
    response = client.post("/api/conversations", "{}", content_type="application/json")
    assert "CSRF" in assert_json_error(response, 403)["error"]


def test_unauthenticated_is_a_json_401() -> None:
    assert_json_error(Client().get("/api/conversations"), 401)
    assert_json_error(Client().get(f"/api/files/{MISSING}"), 401)


def test_malformed_json_is_a_json_400() -> None:
    response = logged_in().post("/api/conversations", "{", content_type="application/json")
    assert_json_error(response, 400)


def test_a_body_over_the_limit_is_a_json_413() -> None:
    """A 4 MB JSON body under the default limit, as the issue sent it."""
    body = json.dumps({"title": "x" * (4 * 1024 * 1024)})
    response = logged_in().post("/api/conversations", body, content_type="application/json")
    assert "limit" in assert_json_error(response, 413)["error"]


def test_a_form_over_the_limit_read_by_the_csrf_check_is_a_json_413(settings: Any) -> None:
    """The CSRF check reads a form body before any view: Django's handler400 hook answers."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client = logged_in(enforce_csrf_checks=True)
    client.cookies[settings.CSRF_COOKIE_NAME] = "a" * 32  # past the cookie, to the form
    response = client.post("/api/conversations", {"title": "x" * 4096})
    assert_json_error(response, 413)


def test_an_upload_larger_than_the_body_limit_is_still_accepted(settings: Any) -> None:
    """POST /api/files has its own, larger limit (UPLOAD_MAX_BYTES): a file streams to disk
    and does not count against the in-memory body limit."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client = logged_in()
    data = b"notes\n" * 2000
    response = client.post("/api/files", {"file": SimpleUploadedFile("notes.txt", data)})
    assert response.status_code == 201, response.content
    assert response.json()["size"] == len(data)
    settings.UPLOAD_MAX_BYTES = 1024
    response = client.post("/api/files", {"file": SimpleUploadedFile("notes.txt", data)})
    assert_json_error(response, 413)


@pytest.mark.django_db(transaction=True)
async def test_the_same_answers_over_asgi() -> None:
    """Through Django's ASGI handler (the middleware's async path), as the server runs it."""
    user = await sync_to_async(get_user_model().objects.create_user)("asgi")
    client = AsyncClient()
    await client.aforce_login(user)
    assert_json_error(await client.get("/api/no-such-thing"), 404)
    assert_json_error(await client.delete("/api/models"), 405)
    body = json.dumps({"title": "x" * (4 * 1024 * 1024)})
    too_big = await client.post("/api/conversations", body, content_type="application/json")
    assert_json_error(too_big, 413)


def test_a_page_that_does_not_exist_is_still_an_html_404() -> None:
    response = logged_in().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
