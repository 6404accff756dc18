"""The simulator's files API over real HTTP, as OpenAI's own SDK uses it: upload, list,
retrieve; and a request naming a file id the simulator never issued is a 400."""

from __future__ import annotations

import httpx
import openai
import pytest

PDF = b"%PDF-1.4\n%%EOF\n"


def test_the_sdk_uploads_and_retrieves_a_file(simulator_url: str) -> None:
    client = openai.OpenAI(base_url=simulator_url, api_key="sk-test")
    made = client.files.create(file=("paper.pdf", PDF, "application/pdf"), purpose="user_data")
    assert made.id.startswith("file-") and made.bytes == len(PDF)
    assert (made.filename, made.purpose) == ("paper.pdf", "user_data")
    assert client.files.retrieve(made.id).id == made.id
    assert made.id in {f.id for f in client.files.list()}


def test_a_file_id_from_the_store_is_accepted_in_input(simulator_url: str) -> None:
    client = openai.OpenAI(base_url=simulator_url, api_key="sk-test")
    made = client.files.create(file=("dot.png", b"\x89PNG\r\n", "image/png"), purpose="vision")
    response = client.responses.create(
        model="sim-markdown",
        input=[
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hi [sim:markdown tps=0 deltas=3]"},
                    {"type": "input_image", "file_id": made.id, "detail": "auto"},
                ],
            }
        ],
    )
    assert response.status == "completed"


def test_an_unknown_file_id_is_a_400(simulator_url: str) -> None:
    body = {
        "model": "sim-markdown",
        "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-nothere"}]}],
    }
    answer = httpx.post(f"{simulator_url}/responses", json=body)
    assert answer.status_code == 400
    assert "file-nothere" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("files", "data", "param"),
    [
        (None, {"purpose": "user_data"}, "file"),
        ({"file": ("a.pdf", PDF, "application/pdf")}, {"purpose": "nonsense"}, "purpose"),
    ],
)
def test_an_upload_without_a_file_or_purpose_is_a_400(
    simulator_url: str, files: dict | None, data: dict, param: str
) -> None:
    answer = httpx.post(f"{simulator_url}/files", files=files, data=data)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == param


def test_an_unknown_file_is_a_404(simulator_url: str) -> None:
    assert httpx.get(f"{simulator_url}/files/file-nothere").status_code == 404
