"""What users may choose: models from the upstream filtered by MODELS_ALLOWED, presets by
group, attachments by their bytes and size; bad values are a 400 naming the field."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from streaming.models import Conversation, Preset, Upload

pytestmark = pytest.mark.django_db

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def simulator_upstream(settings: Any, tmp_path: Any) -> None:
    """The built-in simulator as the upstream (its `sim-*` models), uploads in a temp dir."""
    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_API_KEY = ""
    settings.DEFAULT_MODEL = "sim-markdown"
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }
    cache.clear()


def client_for(name: str) -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(name)
    client = Client()
    client.force_login(user)
    return user, client


def post_json(client: Client, path: str, data: Any) -> Any:
    return client.post(path, json.dumps(data), content_type="application/json")


def test_the_simulator_lists_its_models_filtered_by_the_allow_list(settings: Any) -> None:
    settings.MODELS_ALLOWED = ["sim-mark*", "sim-reasoning"]
    _, client = client_for("alice")
    data = client.get("/api/models").json()
    ids = [m["id"] for m in data["models"]]
    assert ids == ["sim-markdown", "sim-reasoning"]
    assert data["default"] == "sim-markdown"
    assert {m["id"]: m["reasoning"] for m in data["models"]}["sim-reasoning"] is True


def test_a_model_outside_the_list_is_a_400_naming_it(settings: Any) -> None:
    settings.MODELS_ALLOWED = ["sim-markdown"]
    _, client = client_for("alice")
    response = post_json(client, "/api/conversations", {"model": "sim-long"})
    assert response.status_code == 400 and "sim-long" in response.json()["error"]
    conversation = post_json(client, "/api/conversations", {}).json()["id"]
    turn = post_json(
        client, f"/api/conversations/{conversation}/turns", {"input": "hi", "model": "gpt-5"}
    )
    assert turn.status_code == 400 and "gpt-5" in turn.json()["error"]


def test_an_upstream_without_a_models_endpoint_offers_the_settings(settings: Any) -> None:
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    settings.DEFAULT_MODEL = "gpt-4.1-mini"
    settings.MODELS_ALLOWED = ["gpt-5*", "o4-mini"]
    _, client = client_for("alice")
    ids = [m["id"] for m in client.get("/api/models").json()["models"]]
    assert ids == ["gpt-4.1-mini", "o4-mini"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"verbosity": 3}, "verbosity"),
        ({"instructions": ["x"]}, "instructions"),
        ({"preset": 999}, "preset"),
    ],
)
def test_bad_values_are_a_400_naming_the_field(body: dict[str, Any], field: str) -> None:
    _, client = client_for("alice")
    response = post_json(client, "/api/conversations", body)
    assert response.status_code == 400 and field in response.json()["error"]
    conversation = post_json(client, "/api/conversations", {}).json()["id"]
    patched = client.patch(
        f"/api/conversations/{conversation}", json.dumps(body), content_type="application/json"
    )
    assert patched.status_code == 400 and field in patched.json()["error"]


def test_presets_are_shown_to_their_groups_and_fill_a_new_conversation() -> None:
    alice, client = client_for("alice")
    team = Group.objects.create(name="team")
    Preset.objects.create(name="Everyone", model="sim-markdown", instructions="Be kind.")
    hidden = Preset.objects.create(name="Team only", tools=["weather"])
    hidden.groups.add(team)
    names = [p["name"] for p in client.get("/api/presets").json()["presets"]]
    assert names == ["Everyone"]
    alice.groups.add(team)
    presets = {p["name"]: p for p in client.get("/api/presets").json()["presets"]}
    assert presets["Team only"]["tools"] == ["weather"]
    created = post_json(client, "/api/conversations", {"preset": presets["Everyone"]["id"]})
    assert created.status_code == 201, created.content
    assert created.json()["instructions"] == "Be kind."
    assert created.json()["preset_name"] == "Everyone"


def upload(client: Client, name: str, data: bytes) -> Any:
    return client.post("/api/files", {"file": SimpleUploadedFile(name, data)})


def test_files_are_accepted_by_their_bytes_not_their_names(settings: Any) -> None:
    _, client = client_for("alice")
    assert upload(client, "photo.txt", PNG).json()["content_type"] == "image/png"
    assert upload(client, "notes.md", b"# Notes\n").json()["content_type"] == "text/markdown"
    pdf = upload(client, "a.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    assert pdf.status_code == 201 and pdf.json()["content_type"] == "application/pdf"
    zipped = upload(client, "image.png", b"PK\x03\x04" + b"\x00" * 40)
    assert zipped.status_code == 415, zipped.content
    binary = upload(client, "x.txt", b"\xff\xfe\x00\x01garbage")
    assert binary.status_code == 415


def test_a_file_over_the_limit_is_a_413(settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    _, client = client_for("alice")
    response = upload(client, "big.txt", b"a" * 1001)
    assert response.status_code == 413 and "1000" in response.json()["error"]
    assert not Upload.objects.exists()


def test_another_users_file_is_a_404() -> None:
    _, alice = client_for("alice")
    _, bob = client_for("bob")
    mine = upload(alice, "dot.png", PNG).json()["id"]
    assert bob.get(f"/api/files/{mine}").status_code == 404
    assert alice.get(f"/api/files/{mine}").status_code == 200
    conversation = post_json(bob, "/api/conversations", {}).json()["id"]
    turn = post_json(
        bob, f"/api/conversations/{conversation}/turns", {"input": "hi", "attachments": [mine]}
    )
    assert turn.status_code == 404


def test_deleting_a_conversation_deletes_its_files(django_capture_on_commit_callbacks: Any) -> None:
    alice, client = client_for("alice")
    file_id = upload(client, "dot.png", PNG).json()["id"]
    stored = Upload.objects.get(pk=file_id)
    conversation = Conversation.objects.create(owner=alice)
    turn = conversation.turns.create(input="hi", model="sim-markdown", status="completed")
    turn.attachments.add(stored)
    assert stored.file.storage.exists(stored.file.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/conversations/{conversation.pk}").status_code == 204
    assert not Upload.objects.filter(pk=file_id).exists()
    assert not stored.file.storage.exists(stored.file.name)
