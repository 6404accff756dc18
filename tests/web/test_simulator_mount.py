"""The simulator is served only where settings say (webapp/asgi.py), its request history only
to staff (streaming/web/simulator_history.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from tests.served_app import ServedApp
from webapp.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSWER = {"model": "sim-refusal", "input": "hi", "stream": True, "simulator": {"tps": 0}}


async def call(path: str, *, method: str = "GET", body: Any = None, cookie: str = "") -> tuple:
    """(status, headers, body) of one HTTP request through the app's ASGI entry point."""
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    data = b"" if body is None else json.dumps(body).encode()
    await communicator.send_input({"type": "http.request", "body": data})
    start = await communicator.receive_output(10)
    content = b""
    while True:
        message = await communicator.receive_output(10)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], {k.lower(): v for k, v in start["headers"]}, content


async def session_of(username: str, *, staff: bool) -> str:
    """A `Cookie` header value for a logged-in user."""
    user = await sync_to_async(get_user_model().objects.create_user)(
        username, password=f"pw-{username}-1", is_staff=staff
    )
    client = AsyncClient()
    await client.aforce_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.parametrize(
    "path, method",
    [
        ("/simulator/v1/models", "GET"),
        ("/simulator/v1/responses", "POST"),
        ("/simulator/v1/_requests", "GET"),
        ("/simulator/v1/nothing", "GET"),
    ],
)
async def test_with_the_simulator_off_every_simulator_path_is_a_plain_404(
    settings, path: str, method: str
) -> None:
    """Off, the paths are Django's like any unknown one: a 404, even for staff."""
    settings.SIMULATOR_ENABLED = False
    cookie = await session_of("root", staff=True)
    status, headers, _ = await call(path, method=method, body=ANSWER, cookie=cookie)
    assert status == 404
    assert headers[b"content-type"].startswith(b"text/html")  # Django's page, not the simulator's


async def test_with_the_simulator_on_it_answers_under_its_prefix(settings) -> None:
    settings.SIMULATOR_ENABLED = True
    status, _, body = await call("/simulator/v1/models")
    assert status == 200 and "sim-refusal" in {m["id"] for m in json.loads(body)["data"]}
    status, _, body = await call("/simulator/v1/responses", method="POST", body=ANSWER)
    assert status == 200 and b"response.completed" in body


async def test_the_mounted_request_history_redirects_anonymous_users_to_log_in(settings) -> None:
    settings.SIMULATOR_ENABLED = True
    for path in ("/simulator/v1/_requests", "/simulator/v1/_requests/"):
        status, headers, _ = await call(path)
        assert status == 302, path
        assert headers[b"location"].startswith(b"/accounts/login/?next=")


async def test_the_mounted_request_history_is_refused_to_a_user_who_is_not_staff(
    settings,
) -> None:
    settings.SIMULATOR_ENABLED = True
    await call("/simulator/v1/responses", method="POST", body=ANSWER)
    status, _, body = await call(
        "/simulator/v1/_requests", cookie=await session_of("bob", staff=False)
    )
    assert status == 403
    assert b"scenario" not in body


async def test_staff_read_the_mounted_request_history(settings) -> None:
    """The history is the mounted simulator's own: a request made through the app is in it."""
    settings.SIMULATOR_ENABLED = True
    _, _, stream = await call("/simulator/v1/responses", method="POST", body=ANSWER)
    response_id = json.loads(stream.split(b"data: ", 1)[1].split(b"\n", 1)[0])["response"]["id"]
    status, headers, body = await call(
        "/simulator/v1/_requests", cookie=await session_of("root", staff=True)
    )
    assert status == 200 and headers[b"content-type"] == b"application/json"
    record = next(r for r in json.loads(body) if r["id"] == response_id)
    assert record["scenario"] == "refusal" and record["ended"] == "completed"


def settings_value(tmp_path: Path, name: str, **env: str) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process with this environment; print `name`."""
    clean = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "SIMULATOR_ENABLED")
    }
    code = f"from django.conf import settings; print(settings.{name})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATA_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    "env, enabled",
    [
        ({}, "True"),
        ({"OPENAI_API_KEY": "sk-real"}, "False"),
        ({"OPENAI_API_KEY": "sk-real", "SIMULATOR_ENABLED": "true"}, "True"),
        ({"SIMULATOR_ENABLED": "false", "OPENAI_BASE_URL": "http://llm.test/v1"}, "False"),
    ],
)
def test_the_simulator_is_on_by_default_only_without_a_key(tmp_path, env, enabled) -> None:
    done = settings_value(tmp_path, "SIMULATOR_ENABLED", **env)
    assert done.stdout.strip() == enabled, done.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SIMULATOR_ENABLED": "maybe"}, "SIMULATOR_ENABLED must be a boolean"),
        ({"SIMULATOR_ENABLED": "false"}, "the upstream is this app's own simulator"),
    ],
)
def test_a_bad_simulator_setting_stops_start_up(tmp_path, env, message) -> None:
    done = settings_value(tmp_path, "SIMULATOR_ENABLED", **env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr


def test_with_a_key_the_upstream_defaults_to_openai_not_the_simulator(tmp_path) -> None:
    done = settings_value(tmp_path, "OPENAI_BASE_URL", OPENAI_API_KEY="sk-real", OPENAI_BASE_URL="")
    assert done.stdout.strip() == "https://api.openai.com/v1", done.stderr


@pytest.mark.parametrize("enabled, status", [(None, 404), ("true", 200)])
def test_the_served_app_with_a_key_serves_the_simulator_only_when_enabled(
    served_app: ServedApp, enabled: str | None, status: int
) -> None:
    """`manage.py serve` as a team runs it with a real key: anonymous requests to the
    simulator get a 404, unless SIMULATOR_ENABLED=true (and its history needs staff even then)."""
    served_app.env["OPENAI_API_KEY"] = "sk-not-a-real-key"
    if enabled:
        served_app.env["SIMULATOR_ENABLED"] = enabled
    app = served_app.start()
    with httpx.Client(base_url=app.url, timeout=10) as client:
        assert client.get("/simulator/v1/models").status_code == status
        answer = client.post("/simulator/v1/responses", json=ANSWER)
        assert answer.status_code == status
        history = client.get("/simulator/v1/_requests")
        assert history.status_code == (404 if enabled is None else 302)
